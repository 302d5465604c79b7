"""clika_utils.compare and clika_utils.lineage: hand-computed deltas, an independent bootstrap,
agreement with the scorer, claims, and bad input."""

import numpy as np
import pandas as pd
import pytest

from clika_utils import compare as C
from clika_utils import lineage
from clika_utils.cli import main
from clika_utils.data import discover
from clika_utils.errors import ConfigError, DataError
from clika_utils.metrics import bootstrap_weights
from clika_utils.scoring import score_tree


def items_frame(spec):
    """spec[system][lang] = 0/1 list (task x_geo)."""
    rows = []
    for system, by_lang in spec.items():
        for lang, correct in by_lang.items():
            rows += [{"system": system, "task": "x_geo", "lang": lang, "item_id": i, "correct": c}
                     for i, c in enumerate(correct)]
    return pd.DataFrame(rows)


HAND = {"d": {"en": [1, 1, 0, 0], "zh": [1, 0, 0, 0], "de": [0, 0, 1, 1]},
        "b": {"en": [1, 0, 0, 0], "zh": [0, 0, 0, 0], "de": [1, 0, 0, 0]}}


def test_hand_computed_deltas():
    t = C.Comparison(items_frame(HAND), [("d", "b", "zh")], n_boot=20, chance_gate=False).table().set_index(["lang", "metric"])
    # zh: acc .25 vs 0; RA .25/.5 = .5 vs 0/.25 = 0; en-CO |{0}|/|{0,1}| = .5 vs 0/|{0}| = 0
    assert t.loc[("zh", "accuracy"), "delta"] == pytest.approx(0.25)
    assert t.loc[("zh", "ra"), "delta"] == pytest.approx(0.5)
    assert t.loc[("zh", "en_co"), "delta"] == pytest.approx(0.5)
    # de: acc .5 vs .25; RA 1.0 vs 1.0; en-CO 0/4 = 0 vs 1/1 = 1
    assert t.loc[("de", "accuracy"), "delta"] == pytest.approx(0.25)
    assert t.loc[("de", "ra"), "delta"] == pytest.approx(0.0)
    assert t.loc[("de", "en_co"), "delta"] == pytest.approx(-1.0)
    assert t.loc[("en", "ra"), "delta"] == 0.0


def _naive_ci(spec, lang, metric, weights, level=0.95):
    """Independent bootstrap: expand each replicate's resampled items and recompute by plain Python."""
    def value(correct_en, correct_l):
        if metric == "accuracy":
            return sum(correct_l) / len(correct_l)
        if metric == "ra":
            e = sum(correct_en) / len(correct_en)
            return float("nan") if e == 0 else (sum(correct_l) / len(correct_l)) / e
        inter = sum(a and b for a, b in zip(correct_en, correct_l))
        union = sum(a or b for a, b in zip(correct_en, correct_l))
        return float("nan") if union == 0 else inter / union
    reps = []
    for w in weights:
        idx = [i for i, k in enumerate(w) for _ in range(int(k))]
        d = value([spec["d"]["en"][i] for i in idx], [spec["d"][lang][i] for i in idx])
        b = value([spec["b"]["en"][i] for i in idx], [spec["b"][lang][i] for i in idx])
        reps.append(d - b)
    reps = np.array(reps)
    reps = reps[~np.isnan(reps)]
    alpha = (1 - level) / 2
    return np.quantile(reps, alpha), np.quantile(reps, 1 - alpha)


def test_paired_ci_matches_an_independent_bootstrap():
    rng = np.random.default_rng(3)
    spec = {s: {lang: rng.integers(0, 2, 40).tolist() for lang in ("en", "zh", "de")} for s in ("d", "b")}
    t = C.Comparison(items_frame(spec), [("d", "b", "zh")], n_boot=300, seed=7,
                     chance_gate=False).table().set_index(["lang", "metric"])
    weights = bootstrap_weights(40, 300, 7, "x_geo")
    for lang in ("zh", "de"):
        for metric in ("accuracy", "ra", "en_co"):
            lo, hi = _naive_ci(spec, lang, metric, weights)
            assert t.loc[(lang, metric), "delta_lo"] == pytest.approx(lo, abs=1e-12)
            assert t.loc[(lang, metric), "delta_hi"] == pytest.approx(hi, abs=1e-12)


def test_paired_ci_is_narrower_than_unpaired_for_correlated_systems():
    rng = np.random.default_rng(0)
    base = {lang: rng.integers(0, 2, 200) for lang in ("en", "zh")}
    derived = {lang: np.where(rng.random(200) < 0.1, 1 - v, v) for lang, v in base.items()}  # 90 % the same
    t = C.Comparison(items_frame({"d": {k: v.tolist() for k, v in derived.items()},
                                  "b": {k: v.tolist() for k, v in base.items()}}),
                     [("d", "b", "zh")], n_boot=500).table().set_index(["lang", "metric"])
    paired = t.loc[("zh", "accuracy"), "delta_hi"] - t.loc[("zh", "accuracy"), "delta_lo"]
    p = base["zh"].mean()
    unpaired = 2 * 1.96 * np.sqrt(2 * p * (1 - p) / 200)
    assert paired < 0.6 * unpaired


def test_group_mean_and_claim_verdicts():
    cmp = C.Comparison(items_frame(HAND), [("d", "b", "zh")], n_boot=50, chance_gate=False)
    target = cmp.group([("d", "b", "zh")], "accuracy", lambda p: {"zh"})
    both = cmp.group([("d", "b", "zh")], "accuracy", lambda p: {"zh", "de"})
    assert target["delta"] == pytest.approx(0.25) and target["cells"] == 1
    assert both["delta"] == pytest.approx(0.25) and both["cells"] == 2
    claims = [C.Claim("t", "target up", [("d", "b", "zh")], "en_co", "target", 1),
              C.Claim("o", "others down", [("d", "b", "zh")], "en_co", "others", -1),
              C.Claim("x", "absent pair", [("q", "b", "zh")], "en_co", "others", -1)]
    out = C.check_claims(cmp, claims).set_index("claim")
    assert out.loc["o", "delta"] == pytest.approx(-1.0)       # de only (he, ... absent)
    assert out.loc["x", "cells"] == 0 and out.loc["x", "verdict"] == "not measurable"
    assert out.loc["x", "reason"] == "no pair available"
    assert set(out.columns) >= {"mde", "margin", "tost_lo", "tost_hi", "n"} and out.loc["t", "n"] == 4


def test_no_metric_is_measurable_when_english_is_at_chance():
    """x_geo has four options (chance 0.25): the systems' English accuracies (2/4, 1/4) are not above chance
    + the margin, so *every* PF/CT metric of the pair is left out — accuracy and en-CO too (before the gate
    covered them, the accuracy claim here was judged on a model at chance); with both systems clearly above
    chance in English they are kept."""
    cmp = C.Comparison(items_frame(HAND), [("d", "b", "zh")], n_boot=50)
    assert cmp.table().delta.isna().all()
    for metric in C.METRICS:
        row = C.check_claims(cmp, [C.Claim("r", "up", [("d", "b", "zh")], metric, "target", 1)]).iloc[0]
        assert row.verdict == "not measurable" and "English accuracy of d and b not above chance" in row.reason
    good = {s: {"en": [1] * 18 + [0] * 2, "zh": [1] * 10 + [0] * 10} for s in ("d", "b")}
    good["d"]["zh"] = [1] * 14 + [0] * 6
    t = C.Comparison(items_frame(good), [("d", "b", "zh")], n_boot=50).table().set_index(["lang", "metric"])
    assert t.loc[("zh", "ra"), "delta"] == pytest.approx(14 / 18 - 10 / 18)
    assert t.loc[("zh", "accuracy"), "delta"] == pytest.approx(0.2)


def test_the_gate_knows_the_probe_chance_and_refuses_an_unknown_one():
    good = items_frame({s: {"en": [1] * 18 + [0] * 2, "zh": [1] * 10 + [0] * 10} for s in ("d", "b")})
    probe = good.assign(task="cldr")
    assert C.Comparison(probe, [("d", "b", "zh")], n_boot=20).table().delta.isna().all()   # chance unknown
    t = C.Comparison(probe, [("d", "b", "zh")], n_boot=20, chance={"cldr": 0.25}).table()
    assert t.delta.notna().all()
    at_chance = items_frame({s: {"en": [1] * 6 + [0] * 14, "zh": [1] * 5 + [0] * 15} for s in ("d", "b")})
    assert C.Comparison(at_chance.assign(task="cldr"), [("d", "b", "zh")], n_boot=50,
                        chance={"cldr": 0.25}).table().delta.isna().all()


def _stored_pairs(effects, n=200, seed=0):
    """Pairs d_k/b_k on x_copa-like items (chance 0.5): English right 90 %, zh of b right 60 %, zh of d right
    60 % + effects[k] (flipped items)."""
    rng = np.random.default_rng(seed)
    spec, pairs = {}, []
    for k, e in enumerate(effects):
        en = (rng.random(n) < 0.9).astype(int).tolist()
        zh = (rng.random(n) < 0.6).astype(int)
        flip = np.flatnonzero(zh == 0)[: round(e * n)]
        zd = zh.copy()
        zd[flip] = 1
        spec[f"d{k}"], spec[f"b{k}"] = {"en": en, "zh": zd.tolist()}, {"en": en, "zh": zh.tolist()}
        pairs.append((f"d{k}", f"b{k}", "zh"))
    return items_frame(spec), pairs


def test_pairs_are_the_resampling_unit_of_stored_rows():
    """One pair with a large effect among five with none: items as the unit call it an effect (the old stored
    rows); resampling the pairs too (the systems are a sample) does not; two pairs cannot decide at all."""
    items, pairs = _stored_pairs([0.25, 0, 0, 0, 0])
    cmp = C.Comparison(items, pairs, n_boot=400)
    claim = [C.Claim("a", "acc up", pairs, "accuracy", "target", 1)]
    by_items = C.check_claims(cmp, claim, unit="items").iloc[0]
    by_pairs = C.check_claims(cmp, claim, unit="pairs").iloc[0]
    assert by_items.delta == pytest.approx(by_pairs.delta) == pytest.approx(0.05)
    assert by_items.verdict == "supported" and by_items.delta_lo > 0
    assert by_pairs.verdict == "inconclusive" and by_pairs.delta_lo <= 0 < by_pairs.delta_hi
    assert by_pairs.units == 5 and (by_pairs.delta_hi - by_pairs.delta_lo) > 2 * (by_items.delta_hi - by_items.delta_lo)
    items2, pairs2 = _stored_pairs([0.2, 0.2])
    two = C.check_claims(C.Comparison(items2, pairs2, n_boot=200),
                         [C.Claim("a", "acc up", pairs2, "accuracy", "target", 1)], unit="pairs").iloc[0]
    assert two.delta_lo > 0 and two.verdict == "inconclusive" and "rests on 2 model pairs" in two.reason
    same, pairs3 = _stored_pairs([0.1, 0.1, 0.1, 0.1], seed=2)
    three = C.check_claims(C.Comparison(same, pairs3, n_boot=200),
                           [C.Claim("a", "acc up", pairs3, "accuracy", "target", 1)], unit="pairs").iloc[0]
    assert three.verdict in ("supported", "negligible") and three.delta_lo > 0


def test_claim_verdicts_use_the_equivalence_margin():
    """Identical systems on many items: Δ = 0 with a tight CI is 'no effect', not 'inconclusive'."""
    rng = np.random.default_rng(1)
    same = {lang: rng.integers(0, 2, 400).tolist() for lang in ("en", "zh", "de")}
    cmp = C.Comparison(items_frame({"d": same, "b": same}), [("d", "b", "zh")], n_boot=200)
    out = C.check_claims(cmp, [C.Claim("a", "acc up", [("d", "b", "zh")], "accuracy", "target", 1)]).iloc[0]
    assert out.delta == 0 and out.verdict == "no effect" and out.margin == 0.05


def test_bad_input():
    items = items_frame(HAND)
    with pytest.raises(ConfigError, match=r"no items for system\(s\) \['zz'\]"):
        C.Comparison(items, [("zz", "b", "zh")])
    short = items[~((items.system == "b") & (items.item_id == 3))]
    with pytest.raises(DataError, match="do not align"):
        C.Comparison(short, [("d", "b", "zh")])
    bad = items.copy()
    bad.loc[0, "correct"] = 2
    with pytest.raises(DataError, match="'correct' must be 0/1"):
        C.Comparison(bad, [("d", "b", "zh")])
    with pytest.raises(ConfigError, match="unknown claim group"):
        C.Claim("c", "s", [("d", "b", "zh")], "ra", "everything", 1).langs_of(("d", "b", "zh"))


def test_read_items_names_the_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        C.read_items(tmp_path / "items.csv")
    (tmp_path / "items.csv").write_text("system,task\nx,y\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"items.csv:1: missing column"):
        C.read_items(tmp_path / "items.csv")


# ------------------------------------------------------------------------------------------------ lineage


def test_lineage_table_is_valid_and_sourced():
    df = lineage.table()
    assert set(df.stage) <= set(lineage.STAGES)
    assert (df.note.str.len() > 10).all()          # every entry says where it comes from
    assert ("chinese_llama2_13b", "llama2_13b", "zh") in lineage.pairs("continued pretraining")
    assert ("LeoLM_leo_hessianai_13b", "llama2_13b", "de") in lineage.pairs("continued pretraining")
    assert ("bloomz_7b1", "bloom_7b1", "multi") in lineage.pairs("instruction tuning")


def test_lineage_check_refuses_unknown_and_unlisted_systems():
    systems = set(lineage.table().system)
    assert len(lineage.check(systems)) == len(systems)
    with pytest.raises(ConfigError, match=r"lineage entries with no stored outputs: \['m_llama'\]"):
        lineage.check(systems - {"m_llama"})
    with pytest.raises(ConfigError, match=r"no lineage entry: \['new_model'\]"):
        lineage.check(systems | {"new_model"})
    with pytest.raises(ConfigError, match="unknown stage"):
        lineage.pairs("distillation")


@pytest.mark.data
def test_lineage_covers_every_stored_system(real_clika):
    systems = discover(real_clika).systems
    assert len(systems) == 42
    checked = lineage.check(systems)
    assert not checked[checked.base != ""].base_stored.all()   # polylm_13b is named but not stored
    assert checked.set_index("system").loc["polylm_multialpaca_13b", "base_stored"] == False  # noqa: E712


@pytest.mark.data
def test_compare_agrees_with_the_scorer_and_the_cli(real_clika, tmp_path):
    """Δ point values equal the difference of `clika score`'s own summary values, and the comparison
    computed from the CLI's items.csv alone equals the one computed in memory."""
    systems = ["llama2_13b", "chinese_llama2_13b", "LeoLM_leo_hessianai_13b"]
    assert main(["score", "--data-dir", str(real_clika), "--out", str(tmp_path), "--systems", ",".join(systems),
                 "--n-boot", "10"]) == 0
    summary = pd.read_csv(tmp_path / "summary.csv").set_index(["system", "task", "lang"])
    pairs = [("chinese_llama2_13b", "llama2_13b", "zh"), ("LeoLM_leo_hessianai_13b", "llama2_13b", "de")]
    from_cli = C.deltas(C.read_items(tmp_path / "items.csv"), pairs, n_boot=200, chance_gate=False)
    in_memory = C.deltas(score_tree(real_clika, systems=systems, n_boot=1).items, pairs, n_boot=200,
                         chance_gate=False)
    pd.testing.assert_frame_equal(from_cli, in_memory)
    for r in from_cli.sample(60, random_state=0).itertuples():
        want = summary.loc[(r.derived, r.task, r.lang), r.metric] - summary.loc[(r.base, r.task, r.lang), r.metric]
        assert r.delta == pytest.approx(want, abs=1e-12, nan_ok=True)
