import math

import numpy as np
import pytest

from clika_utils.errors import ConfigError
from clika_utils.metrics import (accuracy, bootstrap_weights, en_co, lang_metrics, normalised_score,
                                 percentile_ci, relative_accuracy, resample_units)


def test_accuracy_hand_computed():
    assert accuracy([1, 0, 1, 1]) == 0.75
    with pytest.raises(ValueError):
        accuracy([])


def test_ra_variants_hand_computed():
    assert relative_accuracy(0.45, 0.9) == pytest.approx(0.5)
    # chance-corrected, 4 options: (0.45 - 0.25) / (0.9 - 0.25) = 0.2 / 0.65
    assert relative_accuracy(0.45, 0.9, "chance_corrected", 0.25) == pytest.approx(0.2 / 0.65)
    assert math.isnan(relative_accuracy(0.3, 0.0))
    assert math.isnan(relative_accuracy(0.3, 0.25, "chance_corrected", 0.25))  # English at chance: undefined
    with pytest.raises(ConfigError):
        relative_accuracy(0.3, 0.5, "chance_corrected")
    with pytest.raises(ConfigError):
        relative_accuracy(0.3, 0.5, "log")


def test_en_co_variants_hand_computed():
    en = [1, 1, 1, 0, 0]
    xx = [1, 0, 1, 1, 0]
    # C_en = {0,1,2}, C_l = {0,2,3}: intersection 2, union 4, |C_en| 3
    assert en_co(en, xx) == pytest.approx(2 / 4)
    assert en_co(en, xx, "en_recall") == pytest.approx(2 / 3)
    assert en_co(en, en) == 1.0 and en_co(en, en, "en_recall") == 1.0
    assert math.isnan(en_co([0, 0], [0, 0]))
    # transfer (published XLTR): (2/3 - 0.25) / 0.75
    assert en_co(en, xx, "transfer", chance=0.25) == pytest.approx((2 / 3 - 0.25) / 0.75)
    assert en_co(en, en, "transfer", chance=0.25) == 1.0
    assert en_co(en, [0, 0, 0, 1, 1], "transfer", chance=0.25) == pytest.approx(-1 / 3)   # below chance: negative
    assert math.isnan(en_co([0, 0], [1, 1], "transfer", chance=0.5))                     # |C_en| = 0: undefined
    with pytest.raises(ConfigError):
        en_co(en, xx, "transfer")
    with pytest.raises(ConfigError):
        en_co(en, xx, "transfer", chance=1.0)


def test_transfer_variant_bootstrap_matches_a_naive_loop():
    rng = np.random.default_rng(4)
    n, B = 30, 200
    correct = (rng.random((2, n)) < [[0.7], [0.4]]).astype(int)
    w = bootstrap_weights(n, B, seed=2, stream="t")
    m = lang_metrics(correct, 0, w, chance=0.2, co_variant="transfer")
    e, t = correct[0].astype(bool), correct[1].astype(bool)
    assert m["en_co"][1] == pytest.approx(((e & t).sum() / e.sum() - 0.2) / 0.8)
    reps = []
    for b in range(B):
        idx = np.repeat(np.arange(n), w[b].astype(int))
        eb, tb = e[idx], t[idx]
        reps.append(((eb & tb).sum() / eb.sum() - 0.2) / 0.8 if eb.sum() else np.nan)
    assert m["en_co_lo"][1] == pytest.approx(np.nanquantile(reps, 0.025), abs=1e-12)
    assert m["en_co_hi"][1] == pytest.approx(np.nanquantile(reps, 0.975), abs=1e-12)


def test_normalised_score_matches_official_formula():
    # official: max(0, (acc*100 - chance) / (ref - chance)) with percent constants
    for acc, chance, ref in [(0.5, 20, 74.6), (0.1, 20, 74.6), (0.97, 25, 97.0), (0.9222, 25, 92.2)]:
        expected = max(0.0, (acc * 100 - chance) / (ref - chance))
        assert normalised_score(acc, chance / 100, ref / 100) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_weights_are_deterministic_and_valid():
    w1 = bootstrap_weights(50, 100, seed=7, stream="x_geo")
    w2 = bootstrap_weights(50, 100, seed=7, stream="x_geo")
    assert np.array_equal(w1, w2)
    assert (w1.sum(axis=1) == 50).all()
    assert not np.array_equal(w1, bootstrap_weights(50, 100, seed=8, stream="x_geo"))
    assert not np.array_equal(w1, bootstrap_weights(50, 100, seed=7, stream="x_name"))


def test_lang_metrics_point_estimates_and_paired_bootstrap_match_a_naive_loop():
    rng = np.random.default_rng(3)
    n, B = 40, 300
    correct = (rng.random((3, n)) < [[0.8], [0.5], [0.3]]).astype(int)
    w = bootstrap_weights(n, B, seed=1, stream="t")
    m = lang_metrics(correct, 0, w, chance=0.25)
    assert m["accuracy"] == pytest.approx(correct.mean(axis=1))
    assert m["ra"] == pytest.approx(correct.mean(axis=1) / correct[0].mean())
    # naive loop: expand the counts into explicit resampled indices
    ra_b, co_b, acc_b = [], [], []
    for b in range(B):
        idx = np.repeat(np.arange(n), w[b].astype(int))
        c = correct[:, idx]
        acc_b.append(c.mean(axis=1))
        ra_b.append(c.mean(axis=1) / c[0].mean())
        co_b.append([(c[0] & c[k]).sum() / (c[0] | c[k]).sum() for k in range(3)])
    for key, samples in (("accuracy", acc_b), ("ra", ra_b), ("en_co", co_b)):
        s = np.array(samples).T
        assert m[f"{key}_lo"] == pytest.approx(np.quantile(s, 0.025, axis=1), abs=1e-12)
        assert m[f"{key}_hi"] == pytest.approx(np.quantile(s, 0.975, axis=1), abs=1e-12)
    assert (m["accuracy_lo"] <= m["accuracy"]).all() and (m["accuracy"] <= m["accuracy_hi"]).all()
    assert m["ra_lo"][0] == m["ra_hi"][0] == 1.0 and m["en_co"][0] == 1.0


def test_lang_metrics_without_english_row():
    m = lang_metrics(np.ones((2, 5)), None, bootstrap_weights(5, 10, 0, "t"), chance=0.5)
    assert np.isnan(m["ra"]).all() and np.isnan(m["en_co_hi"]).all()
    assert (m["accuracy"] == 1).all()


def test_percentile_ci_ignores_nan_replicates():
    lo, hi = percentile_ci(np.array([[np.nan, 1.0, 2.0, 3.0], [np.nan] * 4]))
    assert lo[0] == pytest.approx(1.05) and hi[0] == pytest.approx(2.95)
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def _kappa_by_hand(e, l_):
    """Cohen's κ of two 0/1 vectors from their 2 × 2 table, over the largest κ their marginals allow — written
    from Cohen (1960) without the library's closed form."""
    n = len(e)
    table = {(a, b): sum(1 for x, y in zip(e, l_) if (x, y) == (a, b)) / n for a in (0, 1) for b in (0, 1)}
    pe_rows = {a: table[(a, 0)] + table[(a, 1)] for a in (0, 1)}
    pe_cols = {b: table[(0, b)] + table[(1, b)] for b in (0, 1)}
    p_o = table[(0, 0)] + table[(1, 1)]
    p_e = sum(pe_rows[k] * pe_cols[k] for k in (0, 1))
    p_max = sum(min(pe_rows[k], pe_cols[k]) for k in (0, 1))
    return (p_o - p_e) / (p_max - p_e)


def test_co_kappa_equals_cohens_kappa_over_its_maximum_and_can_fall_on_either_side():
    """en-CO beyond chance has a data-dependent null: nested correct sets give 1, correctness in l independent of
    English gives about 0, sets that avoid each other go below 0 — whatever the accuracies, where en-CO (Jaccard)
    stays bounded by acc_l / acc_en and a random model scores RA − en-CO ≈ 0.86 (issue 28)."""
    from clika_utils.metrics import co_kappa
    rng = np.random.default_rng(4)
    for _ in range(20):
        e, l_ = rng.integers(0, 2, 60), rng.integers(0, 2, 60)
        assert co_kappa(e, l_) == pytest.approx(_kappa_by_hand(e.tolist(), l_.tolist()), abs=1e-12)
    en = np.array([1] * 80 + [0] * 20)
    nested = np.array([1] * 50 + [0] * 50)               # every item right in l is right in English
    assert co_kappa(en, nested) == pytest.approx(1.0)
    big = rng.random((2, 20000)) < np.array([[0.8], [0.4]])
    assert abs(float(co_kappa(big[0], big[1]))) < 0.06   # independent: ≈ 0 (SD here ≈ 0.017)
    avoid = np.array([0] * 60 + [1] * 40)               # every item English gets wrong, few it gets right
    assert co_kappa(en, avoid) < 0
    assert math.isnan(co_kappa(np.ones(10), np.ones(10))) and math.isnan(co_kappa(en, np.zeros(100)))


def test_co_kappa_replicates_match_a_naive_loop():
    rng = np.random.default_rng(9)
    c = rng.integers(0, 2, (3, 30)).astype(float)
    w = bootstrap_weights(30, 50, 1, "x")
    from clika_utils.metrics import co_kappa, lang_metric_samples
    point, reps = lang_metric_samples(c, 0, w, chance=0.25)["co_kappa"]
    assert point[1] == pytest.approx(float(co_kappa(c[0], c[1])))
    for b in (0, 17, 49):
        idx = [i for i, k in enumerate(w[b]) for _ in range(int(k))]
        assert reps[2, b] == pytest.approx(_kappa_by_hand(c[0, idx].tolist(), c[2, idx].tolist()), abs=1e-12)


def test_resample_units_draws_whole_units_and_keeps_undefined_replicates_undefined():
    rng = np.random.default_rng(0)
    per_unit = rng.normal(size=(4, 300))
    per_unit[2, 5] = np.nan                     # one unit undefined in replicate 5: the others carry it
    per_unit[:, 7] = np.nan                     # every unit undefined in replicate 7: it stays undefined
    got = resample_units(per_unit, np.random.default_rng(1))
    draw = np.random.default_rng(1).integers(0, 4, size=(300, 4))
    for b in (0, 5, 123):                       # the same draw, unit by unit, by a plain loop
        vals = [per_unit[u, b] for u in draw[b] if not np.isnan(per_unit[u, b])]
        assert got[b] == pytest.approx(np.mean(vals))
    assert np.isnan(got[7]) and np.isnan(got).sum() == 1
    one = resample_units(per_unit[:1], np.random.default_rng(2))
    np.testing.assert_array_equal(one[~np.isnan(one)], per_unit[0][~np.isnan(per_unit[0])])
    # units are drawn whole: the spread over replicates reflects between-unit variation
    shifted = per_unit + np.array([[-5.0], [-5.0], [5.0], [5.0]])
    assert np.nanstd(resample_units(shifted, np.random.default_rng(1))) > 2 * np.nanstd(got)
