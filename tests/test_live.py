import pytest

from clika_utils.experiments.live_evaluation import ra_gap_by_method
from clika_utils.placement import method_agreement

from conftest import make_tree


def test_method_agreement_hand_computed(tmp_path):
    labels = {"x_geo": list("ABCD")}
    answers = {
        "m_generate": {"x_geo": {"en": ["A.", "B.", "C", "x"], "zh": ["A", "", "D.", "D"]}},
        "m_letter": {"x_geo": {"en": ["A", "B", "C", "A"], "zh": ["B", "B", "D", "D"]}},
    }
    root = make_tree(tmp_path / "live", answers, labels, langs=("en", "zh"))
    t = method_agreement(root, "m", ["generate", "letter"], ["x_geo"], ["en", "zh"], n_common=4).set_index("lang")
    assert t.loc["en", "acc_generate"] == 0.75 and t.loc["en", "acc_letter"] == 0.75
    assert t.loc["zh", "acc_generate"] == 0.5 and t.loc["zh", "acc_letter"] == 0.5
    assert t.loc["en", "agree_generate_letter"] == 0.75   # items 0-2 agree, 'x' vs 'A' differs
    assert t.loc["zh", "agree_generate_letter"] == 0.5    # A/B and ''/B differ
    gap = ra_gap_by_method(t.reset_index()).set_index("method")
    assert gap.loc["generate", "ra_mean"] == pytest.approx(0.5 / 0.75)
    # only the first n_common items count
    t2 = method_agreement(root, "m", ["generate", "letter"], ["x_geo"], ["en", "zh"], n_common=2).set_index("lang")
    assert t2.loc["zh", "acc_generate"] == 0.5 and t2.loc["zh", "agree_generate_letter"] == 0.0
