import pytest

from clika_utils.errors import ConfigError
from clika_utils.judge import is_correct, lenient_prediction, lookalike_prediction, official_prediction, predict
from clika_utils.langs import check_langs, lang_from_folder


@pytest.mark.parametrize("folder,code", [
    ("en", "en"), ("ZH_trans", "zh"), ("DE_trans", "de"), ("ar_trans", "ar"), ("he_trans", "he"),
    ("DE", "de"), ("FR", "fr"), ("JA", "ja"), ("it", "it"), ("zh", "zh"), ("pl", "pl"), ("RU_trans", "ru"),
])
def test_every_official_folder_spelling_maps_to_iso(folder, code):
    assert lang_from_folder(folder) == code


@pytest.mark.parametrize("folder", ["__pycache__", "xx", "english", "zh_tran", ""])
def test_non_language_folders_are_not_languages(folder):
    assert lang_from_folder(folder) is None


def test_check_langs_orders_and_rejects():
    assert check_langs(["zh", "en"]) == ("en", "zh")
    with pytest.raises(ConfigError, match="unknown language"):
        check_langs(["en", "klingon"])


@pytest.mark.parametrize("res,label,ok", [
    ("A.", "A", True), ("  \nB. cat", "B", True), ("B", "A", False), ("", "A", False), ("   ", "A", False),
    ("a.", "A", False),                 # official rule is case-sensitive
    ("\u0410.", "A", False),            # Cyrillic А is not Latin A under the official judge
    ("(A)", "A", False), ("Answer: B", "B", False), ("E.", "E", True),
    ("Answer: B", "A", True),           # quirk of the official rule: "Answer" starts with A
])
def test_official_judge(res, label, ok):
    assert is_correct(res, label) is ok
    assert is_correct(res, label, "official") is ok


@pytest.mark.parametrize("res,pred", [
    ("A.", "A"), ("\u0410.", "A"), ("\u0412 ", "B"), ("\u0421.", "C"), ("\uff21.", "A"), ("(B)", "B"),
    ("**C**.", "C"), ("Answer: D", "D"), ("答案：B", "B"), ("Ответ: \u0410.", "A"), ("E", "E"),
    ("A tree is green", ""), ("В как", ""), ("Premise", ""), ("", ""), ("19", ""), ("Al-", ""),
])
def test_lenient_judge(res, pred):
    assert lenient_prediction(res) == pred


@pytest.mark.parametrize("res,pred", [
    ("\u0410.", "A"), ("\u0412", "B"), ("\u0421 x", "C"), ("\u0415.", "E"), ("\u0391.", "A"), ("\uff21.", "A"),
    ("A.", "A"), ("Answer: B", "A"),        # otherwise the official rule, quirk included
    ("(B)", "("), ("\u0430.", "\u0430"), ("\u0414.", "\u0414"), ("", ""),   # no lower case, no Д, nothing skipped
])
def test_lookalike_judge_reads_only_look_alike_letters_differently(res, pred):
    assert lookalike_prediction(res) == pred == predict(res, "lookalike")


def test_official_prediction_is_first_stripped_char():
    assert official_prediction("\n C. x") == "C"
    assert official_prediction("") == ""


def test_unknown_judge_is_an_error():
    with pytest.raises(ConfigError, match="unknown judge"):
        predict("A", "generous")
