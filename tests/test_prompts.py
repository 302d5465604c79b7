import pytest

from clika_utils.data import TASKS
from clika_utils.errors import DataError
from clika_utils.langs import LANGS
from clika_utils.prompts import Item, build_prompt, load_items, official_prompts


@pytest.mark.data
@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("lang", LANGS)
def test_builder_reproduces_every_official_prompt_byte_for_byte(real_clika, task, lang):
    official = official_prompts(real_clika, task, lang)
    items = load_items(real_clika, task, lang)
    assert len(items) == len(official)
    for item, (prompt, label) in zip(items, official):
        assert build_prompt(task, item) == prompt
        assert item.label == label


def test_builder_shape():
    p = build_prompt("x_geo", Item(0, "Q?", ("a", "b", "c", "d"), "A"))
    assert p.endswith("Question:Q?\nA. a\nB. b\nC. c\nD. d\nAnswer:")
    assert "Question:2+3=?\nA. 1\nB. 2\nC. 3\nD. 5\nAnswer:D. 5\n" in p
    c = build_prompt("x_copa", Item(0, "P.", ("x", "y"), "B", "effect"))
    assert c.endswith("Premise:P.\nQuestion:What happened as a result?\nA. x\nB. y\nAnswer:")


def test_builder_rejects_wrong_option_count_and_copa_kind():
    with pytest.raises(DataError, match="has 3 options; expected 4"):
        build_prompt("x_geo", Item(0, "Q", ("a", "b", "c"), "A"))
    with pytest.raises(DataError, match="question kind"):
        build_prompt("x_copa", Item(0, "P", ("a", "b"), "A", "why"))
