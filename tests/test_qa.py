"""clika_utils.qa: MLQA answer scores (hand cases + parity with an independent re-implementation of
the official script on random cases), SQuAD reading and its errors."""

import json
import random

import pytest

from clika_utils import qa
from clika_utils.errors import ConfigError, DataError

import reference_mlqa as ref

# --- hand-computed cases ---------------------------------------------------------------------


@pytest.mark.parametrize("lang, text, want", [
    ("en", "The Eiffel Tower!", "eiffel tower"),
    ("en", "  an   apple, a pear ", "apple pear"),
    ("es", "¡La Casa de los Espíritus!", "casa de espíritus"),
    ("de", "Der Rhein, das Meer.", "rhein meer"),
    ("vi", "Thủ đô của Việt Nam", "thủ đô việt nam"),
    ("hi", "भारत की राजधानी।", "भारत की राजधानी।"),   # '।' (U+0964) is category Po: removed below
    ("ar", "الكتاب", "كتاب"),
    ("ar", "مالك", "م ك"),                          # the script's rule removes every "ال", even inside words
    ("zh", "北京大学（1898年）", "北 京 大 学 1898 年"),
    ("zh", "Google 公司", "google 公 司"),
    ("ru", "Москва — столица.", "москва столица"),   # extension: no articles, whitespace tokens
    ("el", "Η Αθήνα", "η αθήνα"),
    ("th", "กรุงเทพ 2020", "ก ร ุ ง เ ท พ 2020"),
])
def test_normalize_hand_cases(lang, text, want):
    if lang == "hi":
        want = "भारत की राजधानी"
    assert qa.normalize(text, lang) == want


def test_scores_hand_computed():
    s = qa.answer_scores("the big red house", ["Red house", "a house"], "en")
    # vs "red house": pred {big, red, house}, gold {red, house}: P 2/3, R 1 -> F1 0.8; vs "house": P 1/3, R 1 -> 0.5
    assert s == {"em": 0.0, "f1": pytest.approx(0.8), "xllm_match": 1.0, "token_contains": 1.0}
    assert qa.answer_scores("Red House.", ["red house"], "en") == {"em": 1.0, "f1": 1.0, "xllm_match": 1.0,
                                                                    "token_contains": 1.0}
    assert qa.answer_scores("house red", ["red house"], "en")["token_contains"] == 0.0   # order matters
    assert qa.answer_scores("北京", ["北京大学"], "zh")["f1"] == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert qa.answer_scores("", ["x"], "en") == {"em": 0.0, "f1": 0.0, "xllm_match": 0.0, "token_contains": 0.0}


def _reference_xllm(golds, generation) -> float:
    """x-LLM's pipeline, written independently: the record's ``output`` is the first answer stripped
    (data/xquad/xquad.py), ``prediction`` the stripped generation (inference.py), both through a JSON
    Lines round trip as x-LLM stores them; a match is a position where the lower-cased output starts
    in the lower-cased prediction (eval/xquad.match.py)."""
    import json
    rec = json.loads(json.dumps({"output": golds[0].strip(), "prediction": generation.strip()}, ensure_ascii=False))
    out, pred = rec["output"].lower(), rec["prediction"].lower()
    return float(any(pred[i: i + len(out)] == out for i in range(len(pred) - len(out) + 1)))


@pytest.mark.parametrize("what, lang, golds, generation, xllm, token", [
    ("punctuation inside the answer", "en", ["U.S. Army"], "the US Army", 0.0, 1.0),
    ("glued prefix", "es", ["308"], "El308", 1.0, 0.0),
    ("currency symbol", "en", ["$5 million"], "5 million dollars", 0.0, 1.0),
    ("Arabic al-", "ar", ["القاهرة"], "في قاهرة", 0.0, 1.0),
    ("Unicode whitespace", "en", ["New\u00a0York"], "in New York", 0.0, 1.0),
    ("full-width punctuation", "zh", ["北京（1898年）"], "北京(1898年)", 0.0, 1.0),
    ("first gold answer only", "en", ["the city of Paris", "Paris"], "Paris", 0.0, 1.0),
    ("surrounding whitespace of the gold", "en", ["  Paris \n"], "Paris!", 1.0, 1.0),
    ("dotted capital I: Python's lower()", "tr", ["istanbul"], "İSTANBUL", 0.0, 0.0),
    ("dotted capital I on both sides", "tr", ["İstanbul"], "İSTANBUL'da", 1.0, 0.0),
])
def test_xllm_match_on_each_disagreement_class(what, lang, golds, generation, xllm, token):
    s = qa.answer_scores(generation, golds, lang)
    assert (s["xllm_match"], s["token_contains"]) == (xllm, token), what
    assert qa.xllm_match(generation, golds) == _reference_xllm(golds, generation) == xllm


def test_xllm_match_equals_the_independent_reference_on_random_cases():
    rng = random.Random(11)
    pieces = ["Paris", "paris", "İ", "ı", "I", "ß", "SS", " ", "\u00a0", "\u3000", "ＡＢ", "ab", ".", "ال", "的",
              "El", "308", "$", "\n", "é", "é"]
    for _ in range(3000):
        gold = "".join(rng.choices(pieces, k=rng.randint(1, 3)))
        gen = "".join(rng.choices(pieces, k=rng.randint(0, 7)))
        golds = [gold, "".join(rng.choices(pieces, k=2))]
        assert qa.xllm_match(gen, golds) == _reference_xllm(golds, gen), (gold, gen)


def test_answer_matches_x_llm_on_the_whole_generation(monkeypatch):
    """EM/F1 score the first line; x-LLM's match reads the whole generation, as x-LLM does."""
    from clika_utils import evaluate
    q = qa.Question("q1", "en", "ctx Paris", "Where?", ("Paris",), 0)
    monkeypatch.setattr(evaluate.Engine, "__init__", lambda self, lm, batch_size=8: None)
    monkeypatch.setattr(evaluate.Engine, "generate", lambda self, prompts, n, **kw: ["I think\nParis"] * len(prompts))
    row = qa.answer(object(), [q], "sys").iloc[0]
    assert row.prediction == "I think" and row.em == 0.0 and row.xllm_match == 1.0 and row.token_contains == 0.0


def test_unknown_language_is_an_error():
    with pytest.raises(ConfigError, match="xx"):
        qa.normalize("a", "xx")
    with pytest.raises(ConfigError, match="gold"):
        qa.answer_scores("a", [], "en")


# --- parity with the script on random cases --------------------------------------------------

WORDS = {
    "en": ["the", "a", "an", "The", "An", "cat", "Cat's", "theory", "another", "New", "York", "1990", "U.S.",
           "well-known", "Anne", "A.", "café"],
    "es": ["el", "la", "los", "las", "un", "una", "unos", "unas", "El", "Unas", "casa", "niño", "¿qué", "sí!",
           "elefante", "Las", "1810", "«hola»"],
    "de": ["der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "eines", "einer", "Der",
           "Das", "Straße", "Dieser", "„Haus“", "deren", "1871", "Einer"],
    "vi": ["của", "là", "cái", "chiếc", "những", "Của", "Hà", "Nội", "người", "việt", "năm", "1945", "Là",
           "cáibàn", "(đây)"],
    "hi": ["भारत", "की", "राजधानी", "है", "।", "नई", "दिल्ली", "1947", "में", "“गांधी”", "॥"],
    "ar": ["ال", "الكتاب", "مال", "القاهرة", "في", "عام", "1952", "،", "؟", "السلام", "عليكم", "بال", "الال",
           "(مصر)", "«ال»"],
    "zh": ["北京", "大学", "1898年", "中华人民共和国", "，", "。", "（", "）", "Google", "iPhone", "的", "《红楼梦》",
           "AI", "、", "龥", "鿿", "〇"],
}
NOISE = [" ", "  ", "\t", "\n", "\u3000", "\u00a0", "-", ",", ".", "!", "'", '"', "…", "—", "·", ""]


def _random_text(rng, lang):
    n = rng.randint(0, 7)
    out = []
    for _ in range(n):
        w = rng.choice(WORDS[lang])
        if rng.random() < 0.2:
            w = w.upper() if rng.random() < 0.5 else w.capitalize()
        out.append(w + rng.choice(NOISE))
    return "".join(out) if rng.random() < 0.3 else " ".join(out)


@pytest.mark.parametrize("lang", qa.MLQA_LANGS)
def test_parity_with_the_official_rules_on_1000_random_cases(lang):
    rng = random.Random(f"mlqa-{lang}")
    dataset, predictions = [{"paragraphs": [{"qas": []}]}], {}
    for i in range(1000):
        pred = _random_text(rng, lang)
        golds = [_random_text(rng, lang) or "x" for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.25:
            pred = rng.choice(golds) + rng.choice(NOISE)         # near-misses and exact matches
        assert qa.normalize(pred, lang) == ref.normalize_answer(pred, lang), (pred, lang)
        got = qa.answer_scores(pred, golds, lang)
        assert got["em"] == float(ref.metric_max_over_ground_truths(ref.exact_match_score, pred, golds, lang))
        assert got["f1"] == pytest.approx(ref.metric_max_over_ground_truths(ref.f1_score, pred, golds, lang),
                                          abs=1e-12)
        qid = f"q{i}"
        dataset[0]["paragraphs"][0]["qas"].append({"id": qid, "answers": [{"text": g} for g in golds]})
        if i % 10:
            predictions[qid] = pred                              # every tenth question is unanswered
    questions = [qa.Question(q["id"], lang, "c", "q", tuple(a["text"] for a in q["answers"]), 0)
                 for q in dataset[0]["paragraphs"][0]["qas"]]
    mine = qa.corpus_scores(questions, predictions, lang)
    theirs = ref.evaluate(dataset, predictions, lang)
    assert mine["em"] == pytest.approx(theirs["exact_match"], abs=1e-9)
    assert mine["f1"] == pytest.approx(theirs["f1"], abs=1e-9)
    assert 0 < theirs["exact_match"] < 100       # the cases exercise both outcomes


# --- SQuAD JSON --------------------------------------------------------------------------------


def _squad(path, answers):
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "Paris is the capital of France.",
                                                                         "qas": [{"id": "q1", "question": "Capital?",
                                                                                  "answers": answers}]}]}]}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def test_read_squad_and_answers_outside_the_context(tmp_path):
    qs = qa.read_squad(_squad(tmp_path / "ok.json", [{"text": "Paris", "answer_start": 0}]), "en")
    assert [(q.id, q.answers) for q in qs] == [("q1", ("Paris",))]
    bad = _squad(tmp_path / "bad.json", [{"text": "Paris", "answer_start": 3}])
    with pytest.raises(DataError, match=r"bad.json:\d+: question q1: answer 'Paris' is not in the context"):
        qa.read_squad(bad, "en")
    with pytest.raises(DataError, match="not in the context"):
        qa.read_squad(_squad(tmp_path / "bad2.json", [{"text": "London"}]), "en")
    (tmp_path / "junk.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match="SQuAD JSON"):
        qa.read_squad(tmp_path / "junk.json", "en")


def test_sample_draws_the_same_ids_in_every_language():
    qs = [qa.Question(f"id{i}", "en", "c", "q", ("a",), 0) for i in range(50)]
    a = qa.sample(qs, 7, seed=3)
    b = qa.sample([qa.Question(q.id, "zh", "c", "q", ("a",), 0) for q in reversed(qs)], 7, seed=3)
    assert len(a) == 7 and {q.id for q in a} == {q.id for q in b}
    assert qa.sample(qs, 0, seed=3) == qs


def test_prompt_is_alpaca_in_the_question_language():
    q = qa.Question("1", "zh", "上下文", "问什么？", ("上",), 0)
    p = qa.prompt(q)
    assert qa.QA_INSTRUCTIONS["zh"] in p and "问题: 问什么？" in p and p.endswith("### Response:\n")
    assert qa.first_line("\n  巴黎 \nmore") == "巴黎"


@pytest.mark.data
def test_real_xquad_reads_every_language(real_clika):
    home = real_clika.parent
    for lang in ("en", "ar", "de", "el", "hi", "ro", "ru", "th", "tr", "vi", "zh"):
        qs = qa.read_squad(qa.xquad_path(home, lang), lang)
        assert len(qs) == 1190, lang


def test_cli_qa_score_matches_the_reference_script(tmp_path, capsys):
    from clika_utils import cli
    data = {"data": [{"paragraphs": [{"context": "北京大学成立于1898年。", "qas": [
        {"id": "a", "question": "?", "answers": [{"text": "1898年", "answer_start": 7}]},
        {"id": "b", "question": "?", "answers": [{"text": "北京大学", "answer_start": 0}]},
        {"id": "c", "question": "?", "answers": [{"text": "北京", "answer_start": 0}]}]}]}]}
    preds = {"a": "1898年。", "b": "北京"}
    (tmp_path / "d.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "p.json").write_text(json.dumps(preds, ensure_ascii=False), encoding="utf-8")
    assert cli.main(["qa-score", str(tmp_path / "d.json"), str(tmp_path / "p.json"), "zh"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = ref.evaluate(data["data"], preds, "zh")
    assert out["exact_match"] == pytest.approx(want["exact_match"]) and out["f1"] == pytest.approx(want["f1"])
    # x-LLM's match: a "1898年" in "1898年。" yes; b "北京大学" in "北京" no; c unanswered -> 1 of 3
    assert out["xllm_match"] == pytest.approx(100 / 3) and out["token_contains"] == pytest.approx(100 / 3)
    (tmp_path / "p.json").write_text("[1,", encoding="utf-8")
    assert cli.main(["qa-score", str(tmp_path / "d.json"), str(tmp_path / "p.json"), "zh"]) == 2
    assert "p.json:1:" in capsys.readouterr().err
