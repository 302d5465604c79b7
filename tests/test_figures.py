"""The visual language and its check (clika_utils.plots.lint): each rule is shown to catch the defect it is
for, on a figure built to have it, and to pass the project's own figures; display names and ordering;
the committed cpu figures (one dpi, lint-clean sidecars, a contact sheet equal to their sidecars)."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from clika_utils import lineage, plots, report
from clika_utils.metrics import wilson_ci

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "figures"


def teardown_function():
    plt.close("all")


# ----------------------------------------------------------------------------------------------
# the check catches what it is for


def test_lint_catches_a_title_wider_than_the_canvas():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_title("a title much too long for a two-inch figure to hold on one single line")
    problems = plots.lint(fig)
    assert any("outside the canvas" in p for p in problems), problems


def test_lint_catches_overlapping_text():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second label", transform=ax.transAxes)
    assert any("overlaps" in p for p in plots.lint(fig))


def test_lint_catches_a_heatmap_whose_colour_bar_is_in_another_unit_than_its_cells():
    import seaborn as sns
    table = pd.DataFrame({"en": [0.9, 0.5], "zh": [0.4, 0.2]}, index=["a", "b"])
    fig, ax = plt.subplots(figsize=(4, 3))
    sns.heatmap(table, ax=ax, vmin=0, vmax=1, annot=(table * 100).map("{:.0f}".format), fmt="")  # the old defect
    assert any("different units" in p for p in plots.lint(fig))


def test_lint_catches_a_language_in_another_colour():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], color="red", label="de")
    ax.legend()
    assert any("'de'" in p for p in plots.lint(fig))
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], color=plots.lang_colour("de"), label="de")
    ax.legend()
    assert plots.lint(fig) == []


def test_a_system_at_chance_is_marked_not_placed():
    """by_language with the chance gate: a live system at chance in English on a stream is drawn hollow and grey and
    labelled not measurable (not placed above the stored systems, as its en-CO of 1.0 once was), and a stored system
    at chance is left out of that panel, its absence counted in the title."""
    rows = [{"system": s, "task": "x_geo", "lang": lang, "en_co": v, "en_co_lo": v - 0.1, "en_co_hi": v,
             "en_above_chance": s not in ("gemma-3-270m_letter", "bloom_7b1")}
            for s, v in (("llama_7b", 0.5), ("chatgpt", 0.8), ("bloom_7b1", 0.9), ("gemma-3-270m_letter", 1.0))
            for lang in ("en", "de", "zh")]
    fig = plots.by_language(pd.DataFrame(rows), value="en_co", tasks=["x_geo"], langs=["de", "zh"], title="en-CO",
                            ylabel="en-CO", reference=None, highlight=["gemma-3-270m_letter"])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("at chance in English, not measurable" in t for t in labels)
    assert "(1 at chance left out)" in fig.axes[0].get_title()
    assert plots.lint(fig) == []


def test_heatmap_cells_print_what_they_are_coloured_in_the_colour_bar_unit():
    table = pd.DataFrame({"en": [0.9, -0.004], "zh": [0.4, np.nan]}, index=["llama_7b", "chatgpt"])
    fig = plots.heatmap(table, title="Δ", cbar_label="Δ (points)", vmin=-30, vmax=30, cmap="RdBu", fmt="{:+.0f}",
                        systems=True, chance=25)
    assert plots.lint(fig) == []
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["+40", "+90", "0"]                 # "−0" is printed as 0; NaN is blank
    assert fig.axes[-1].get_ylim() == (-30.0, 30.0)      # the colour bar spans the cells' unit
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["LLaMA-7B", "ChatGPT"]             # published names, family order


def test_heatmap_marks_the_cells_it_is_told_to_whatever_their_order():
    table = pd.DataFrame({"en": [0.9, 0.5], "ru": [0.4, 0.2]}, index=["llama_7b", "bloom_7b1"])
    marks = pd.DataFrame({"ru": [True, False]}, index=["bloom_7b1", "llama_7b"])      # other order, a column short
    fig = plots.heatmap(table, title="acc", cbar_label="accuracy (%)", systems=True, marks=marks)
    assert plots.lint(fig) == []
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["20†", "40", "50", "90"]


def test_every_figure_function_draws_clean_figures_on_small_tables():
    """The figure functions on tables shaped like the notebooks' (smoke-sized): no lint problem."""
    langs = ["en", "ar", "de", "zh"]
    rng = np.random.default_rng(0)
    summary = pd.DataFrame([{"system": s, "task": t, "lang": lang, "ra": rng.uniform(0.3, 1.2), "en_co": rng.uniform(0, 1),
                             "rankc": rng.uniform(0, 1)} for s in ("llama_7b", "chatgpt", "gemma-3-270m_letter")
                            for t in ("x_csqa", "x_geo") for lang in langs])
    for m in ("ra", "en_co", "rankc"):
        summary[f"{m}_lo"], summary[f"{m}_hi"] = summary[m] - 0.1, summary[m] + 0.1
    figs = [plots.by_language(summary, value="ra", tasks=["x_csqa", "x_geo"], langs=langs[1:], title="RA", ylabel="RA",
                              highlight=["gemma-3-270m_letter"]),
            plots.consistency_by_lang(summary, systems=["gemma-3-270m_letter"], tasks=["x_csqa"], langs=langs[1:],
                                      chance={"x_csqa": 0.1}, title="en-CO"),
            plots.ranking(pd.Series({"llama_7b": 0.3, "chatgpt": 0.8, "gemma-3-270m_letter": 0.1}),
                          highlight=["gemma-3-270m_letter"], title="normalised", xlabel="score", chance=0.2),
            plots.dodged(pd.DataFrame({"g": ["a", "a", "b", "b"], "lang": ["en", "zh"] * 2, "value": [0.5, 0.4, 0.6, 0.3],
                                       "lo": [0.4, 0.3, 0.5, 0.2], "hi": [0.6, 0.5, 0.7, 0.4]}),
                         x="lang", group="g", xs=["en", "zh"], groups=["a", "b"], title="t", ylabel="acc",
                         chance=0.25, percent=True)]
    al = pd.DataFrame([{"system": s, "lang": lang, "layer": k, "cos_gap_centred": 0.01 * k, "cos_gap_centred_lo": 0.0,
                        "cos_gap_centred_hi": 0.02 * k, "retrieval_xy": 0.1, "retrieval_yx": 0.2} for s in ("base", "06:x-llama-ar") for lang in ("ar", "zh")
                       for k in range(7)])
    figs += [plots.alignment_by_layer(al, system="base", title="by layer", chance=1 / 96), plots.alignment_systems(al, title="systems")]
    for fig in figs:
        assert plots.lint(fig) == [], fig.texts[0].get_text() if fig.texts else fig.axes[0].get_title()
    # languages keep their colour: the by-layer legend uses LANG_COLOURS
    assert plots.lang_colours_used(figs[4]) == {"ar": plots.LANG_COLOURS["ar"].lower(), "zh": plots.LANG_COLOURS["zh"].lower()}


def test_language_colours_are_distinct_where_languages_share_a_figure():
    from clika_utils.langs import LANGS
    for group in (LANGS, ("en", "ar", "de", "el", "hi", "tr", "vi", "zh")):
        colours = [plots.LANG_COLOURS[lang] for lang in group]
        assert len(set(colours)) == len(colours), group


# ----------------------------------------------------------------------------------------------
# names


def test_every_lineage_system_has_a_display_name_and_names_are_unique():
    systems = lineage.table().system
    assert set(lineage.DISPLAY) == set(systems)
    assert len(set(lineage.DISPLAY.values())) == len(lineage.DISPLAY)
    assert lineage.display_name("Baichuan2-13B-ChatZH1e-4") == "Baichuan2-13B-Chat + ZH lr 1e-4"
    assert lineage.display_name("gemma-3-270m_it-en") == "Gemma-3-270M + English-only IT"   # "it" is not Italian
    assert lineage.display_name("gemma-3-270m_x-llama-ar") == "Gemma-3-270M + x-LLaMA-ar (CoIT)"


def test_systems_are_ordered_by_family_and_size_not_by_string():
    order = lineage.system_order(["llama_13b", "Baichuan2-13B-ChatZH1e-4", "llama_7b", "baichuan2_13b_chat", "chatgpt",
                                  "gemma-3-270m_letter"])
    assert order == ["llama_7b", "llama_13b", "baichuan2_13b_chat", "Baichuan2-13B-ChatZH1e-4", "chatgpt",
                     "gemma-3-270m_letter"]


def test_wilson_interval_equals_scipys():
    from scipy.stats import binomtest
    for k, n in ((0, 3), (3, 3), (8, 10), (45, 177)):
        lo, hi = wilson_ci(k, n)
        ref = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert np.isclose(lo, ref.low) and np.isclose(hi, ref.high)


# ----------------------------------------------------------------------------------------------
# the committed cpu figures


def test_committed_figures_have_one_dpi_and_clean_sidecars():
    from PIL import Image
    pngs = sorted(FIGURES.glob("*.png"))
    assert len(pngs) >= 30
    for png in pngs:
        dpi = Image.open(png).info.get("dpi")
        assert dpi and round(dpi[0]) == plots.DPI, (png.name, dpi)
        meta = json.loads(png.with_name(png.name + ".provenance.json").read_text(encoding="utf-8"))
        assert meta.get("lint") == [], (png.name, meta.get("lint"))
        assert all(c == plots.LANG_COLOURS[lang].lower() for lang, c in meta["lang_colours"].items()), png.name


def test_committed_contact_sheet_lists_every_figure_as_its_sidecars_say():
    sheet = (FIGURES / "README.md").read_text(encoding="utf-8")
    assert sheet == report.contact_sheet(FIGURES, "cpu"), "figures/README.md is stale: python -m clika_utils.report cpu"
    assert {line[4:] for line in sheet.splitlines() if line.startswith("### ")} == {p.stem for p in FIGURES.glob("*.png")}


@pytest.mark.parametrize("fmt, value, text", [("{:+.0f}", -0.3, "0"), ("{:+.0f}", -5.2, "−5"), ("{:.1f}", 0.04, "0.0"),
                                              ("{:.0f}", float("nan"), "")])
def test_heatmap_cell_text(fmt, value, text):
    assert plots._cell(fmt, value) == text


# ----------------------------------------------------------------------------------------------
# the tables the new whiskers come from


def test_methods_long_gives_each_method_its_wilson_interval():
    from clika_utils.experiments.live_evaluation import methods_long
    t = pd.DataFrame({"task": ["x_geo"], "lang": ["en"], "n": [3], "acc_letter": [2 / 3], "acc_text": [0.0]})
    long = methods_long(t).set_index("method")
    assert list(long.index) == ["letter", "text"]
    lo, hi = wilson_ci(2, 3)
    assert np.isclose(long.loc["letter", "lo"], lo) and np.isclose(long.loc["letter", "hi"], hi)
    assert long.loc["text", "lo"] == 0.0 and long.loc["text", "hi"] > 0.5      # 0 of 3 is not "certainly 0"


def test_item_accuracy_counts_per_system_and_language():
    from clika_utils.experiments.shared import item_accuracy
    items = pd.DataFrame({"system": ["a"] * 4 + ["b"] * 2, "lang": ["en", "en", "zh", "zh", "en", "en"],
                          "correct": [1, 0, 1, 1, 0, 0]})
    acc = item_accuracy(items).set_index(["system", "lang"])
    assert acc.loc[("a", "en"), "value"] == 0.5 and acc.loc[("a", "zh"), "n"] == 2 and acc.loc[("b", "en"), "value"] == 0
    assert np.isclose(acc.loc[("a", "en"), "lo"], wilson_ci(1, 2)[0])


def test_qa_scores_by_language_equal_the_summary_and_carry_a_bootstrap_interval():
    from clika_utils.experiments.cross_lingual_instruction_tuning import (
        headline_gain,
        score_by_lang,
    )
    items = pd.DataFrame({"system": ["s"] * 6, "lang": ["en"] * 3 + ["ar"] * 3, "benchmark": ["xquad"] * 6,
                          "f1": [0.0, 0.5, 1.0, 0.2, 0.2, 0.2]})
    by = score_by_lang(items, "xquad", n_boot=200, seed=0).set_index("lang")
    assert np.isclose(by.loc["en", "value"], 50.0) and by.loc["en", "lo"] < 50 < by.loc["en", "hi"]
    assert np.isclose(by.loc["ar", "lo"], 20.0) and np.isclose(by.loc["ar", "hi"], 20.0)   # no spread, no width
    gains = pd.DataFrame([{"benchmark": "xquad", "metric": "f1", "system": "x-llama", "reference": "alpaca",
                           "how": "mean_of_ratios", "langs": "ar+zh", "gain_pct": 12.5, "gain_lo": -3.0, "gain_hi": 30.0}])
    assert headline_gain(gains, "xquad") == ("x-LLaMA vs Alpaca over ar+zh: relative F1 gain +12.5 % "
                                             "[95 % CI -3.0, +30.0] (paper: +27.83 %)")


def test_stored_heatmap_rows_are_named_and_grouped_by_kind_of_comparison():
    from clika_utils.experiments import pretraining_variants as pv
    from clika_utils.experiments.shared import stored_heatmap_table
    pairs, kinds = pv.stored_heatmap_pairs(lineage.table().system)
    deltas = pd.DataFrame([{"derived": d, "base": b, "metric": "accuracy", "lang": "de", "delta": 0.1} for d, b, *_ in pairs])
    table, groups = stored_heatmap_table(deltas, "accuracy", pairs, kinds)
    assert "Chinese-LLaMA-7B − LLaMA-7B" in table.index
    assert set(groups) == {"continued pretraining − its base", "mixed − continued pretraining (same size)"}
    assert groups["Baichuan2-7B-Base − Chinese-LLaMA-2-7B"].startswith("mixed")


def test_mt_intervals_contain_the_corpus_score_and_collapse_when_every_sentence_is_perfect():
    from clika_utils.experiments.cross_lingual_instruction_tuning import mt_intervals
    refs = ["the cat sat on the mat", "a dog ran in the park", "she reads a long book", "we eat rice at noon"]
    hyps = ["the cat sat on a mat", "a dog ran in park", "she reads a book", "we eat rice at noon"]
    seg = pd.DataFrame({"system": ["s"] * 8, "lang": ["de"] * 4 + ["fr"] * 4, "hypothesis": hyps + refs,
                        "reference": refs + refs})
    from clika_utils import translation
    scores = pd.concat([translation.score(hyps, refs, "de", metrics=("bleu", "chrf++")).assign(system="s", lang="de"),
                        translation.score(refs, refs, "fr", metrics=("bleu", "chrf++")).assign(system="s", lang="fr")])
    out = mt_intervals(seg, scores, n_boot=200, seed=0).set_index(["lang", "metric"])
    assert (out.lo <= out.score + 1e-9).all() and (out.score <= out.hi + 1e-9).all()
    assert out.loc[("fr", "chrf++"), "lo"] == out.loc[("fr", "chrf++"), "hi"] == 100.0


def test_interval_note_states_the_widest_interval_and_the_sample_sizes():
    assert plots.interval_note([1.0, 7.46], [200, 180]) == "95 % CIs within ±7.5 (n = 180–200 per cell)"
    assert plots.interval_note([np.nan], [3]) == ""


def test_a_ranking_does_not_place_systems_at_chance():
    """ranking with ``unranked``: the systems the chance gate finds at chance sit hatched below a rule at the bottom,
    whatever their score — the at-chance live model is not ranked above the stored systems it happens to beat."""
    values = pd.Series({"llama_7b": 0.3, "chatgpt": 0.8, "gemma-3-270m_letter": 0.5, "bloom_7b1": 0.05})
    fig = plots.ranking(values, highlight=["gemma-3-270m_letter"], title="normalised", xlabel="score",
                        unranked=["gemma-3-270m_letter", "bloom_7b1"])
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]          # bottom to top
    assert names[2:] == ["LLaMA-7B", "ChatGPT"] and set(names[:2]) == {"BLOOM-7B1", "Gemma-3-270M (letter)"}
    hatched = [p.get_hatch() for p in ax.patches[:4]]
    assert hatched[:2] == ["///", "///"] and hatched[2:] == [None, None]
    assert any("not ranked" in t.get_text() for t in ax.get_legend().get_texts())
    assert plots.lint(fig) == []
    plain = plots.ranking(values, highlight=["gemma-3-270m_letter"], title="normalised", xlabel="score")
    assert [t.get_text() for t in plain.axes[0].get_yticklabels()][2] == "Gemma-3-270M (letter)"


def test_consistency_is_not_read_where_the_model_is_at_chance():
    """consistency_by_lang with the gate: the panel of a stream where the model is at chance in English draws its
    en-CO/RankC grey with no intervals and says so; the other panel keeps the live colour and its CIs."""
    rows = [{"system": "gemma-3-270m_letter", "task": t, "lang": lang, "en_co": 1.0, "en_co_lo": 0.9, "en_co_hi": 1.0,
             "rankc": 0.95, "rankc_lo": 0.9, "rankc_hi": 1.0, "en_above_chance": t == "x_csqa"}
            for t in ("x_csqa", "x_geo") for lang in ("en", "de", "zh")]
    fig = plots.consistency_by_lang(pd.DataFrame(rows), systems=["gemma-3-270m_letter"], tasks=["x_csqa", "x_geo"],
                                    langs=["de", "zh"], chance={"x_csqa": 0.3, "x_geo": 0.4}, title="consistency")
    ok, gated = fig.axes[0], fig.axes[1]
    assert "at chance in English" in gated.get_title() and "at chance" not in ok.get_title()
    assert len(ok.containers) == 2 and len(gated.containers) == 0         # error bars only where measurable
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("at chance in English (not measurable)" in t for t in labels)
    assert plots.lint(fig) == []
