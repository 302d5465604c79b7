import pytest
from conftest import make_tree

from clika_utils.experiments.live_evaluation import ra_gap_by_method
from clika_utils.placement import method_agreement


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


def test_a_live_model_at_chance_everywhere_is_not_ranked_and_its_rankc_not_read():
    import pandas as pd

    from clika_utils.experiments.live_evaluation import at_chance_systems, findings
    rows = []
    for system, source, above, norm in (("chatgpt", "stored", True, 0.8), ("bloom_7b1", "stored", False, 0.01),
                                         ("llama_7b", "stored", True, 0.3), ("gemma-3-270m_letter", "live", False, 0.5)):
        for task in ("x_geo", "x_csqa"):
            for lang in ("en", "de"):
                rows.append({"system": system, "source": source, "task": task, "lang": lang, "normalised": norm,
                             "en_above_chance": above and not (system == "llama_7b" and task == "x_geo"),
                             "rankc": 0.97, "rankc_lo": 0.95, "en_co": 1.0})
    summary = pd.DataFrame(rows)
    assert at_chance_systems(summary) == ["bloom_7b1", "gemma-3-270m_letter"]   # llama: at chance on one stream only
    methods = pd.DataFrame({"task": ["x_geo"] * 2, "lang": ["en", "de"], "n": [30, 30], "acc_letter": [0.3, 0.2]})
    text = " ".join(findings(summary, methods, "gemma-3-270m"))
    assert "rank" not in text.split("not ranked")[0].split("gemma-3-270m_letter:")[1]   # no "rank 2 of 4"
    assert "not ranked" in text and "2 systems of 4" in text
    assert "RankC and en-CO not measurable" in text
    summary.loc[summary.system == "gemma-3-270m_letter", "en_above_chance"] = True
    text = " ".join(findings(summary, methods, "gemma-3-270m"))
    assert "rank 2 of 3 systems" in text and "not measurable" not in text


def test_the_method_comparison_says_how_few_items_it_rests_on():
    """02's findings compared the methods on 3 items per stream without saying so: the count is stated, and under 30
    items the comparison is called a demonstration, not a measurement."""
    import pandas as pd

    from clika_utils.experiments.live_evaluation import findings
    summary = pd.DataFrame([{"system": "m_letter", "source": "live", "normalised": 0.1, "en_above_chance": False,
                             "lang": lang, "task": "x_geo", "rankc": float("nan")} for lang in ("en", "de")])

    def methods(n):
        return pd.DataFrame([{"task": "x_geo", "lang": lang, "n": n, "acc_letter": 0.3, "acc_text": 0.2}
                             for lang in ("en", "de")])
    few, many = " ".join(findings(summary, methods(3), "m")), " ".join(findings(summary, methods(40), "m"))
    assert "on the 3 items per stream every method answered" in few and "measures nothing" in few
    assert "on the 40 items per stream" in many and "measures nothing" not in many
