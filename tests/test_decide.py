"""Verdicts with 'no effect' (TOST) and the minimum detectable effect: hand cases and simulations."""

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from clika_utils.decide import (
    CHANCE_MARGIN,
    DECIDED,
    DELTA,
    DIRECTIONAL,
    MIN_UNITS,
    above_chance,
    decide,
    mde,
    n_needed,
)
from clika_utils.errors import ConfigError
from clika_utils.metrics import bootstrap_weights


def _normal_reps(center, se, n=20001):
    """Replicates whose quantiles are exactly those of N(center, se²)."""
    return center + se * norm.ppf((np.arange(n) + 0.5) / n)


def test_hand_cases():
    # CI 0.1 ± 1.96·0.02 excludes 0 on the expected side
    assert decide(0.1, _normal_reps(0.1, 0.02), +1, 0.05)["verdict"] == "supported"
    assert decide(0.1, _normal_reps(0.1, 0.02), -1, 0.05)["verdict"] == "contradicted"
    # 0 ± 1.645·0.01 lies inside ±0.05: no effect larger than δ
    d = decide(0.0, _normal_reps(0.0, 0.01), +1, 0.05)
    assert d["verdict"] == "no effect" and d["tost_hi"] == pytest.approx(1.645 * 0.01, rel=1e-3)
    # 0 ± 1.645·0.04 reaches beyond 0.05: inconclusive, with the MDE (2.80 · SE) in the reason
    d = decide(0.0, _normal_reps(0.0, 0.04), +1, 0.05)
    assert d["verdict"] == "inconclusive" and d["mde"] == pytest.approx((1.95996 + 0.84162) * 0.04, rel=1e-3)
    assert "0.112" in d["reason"]
    # undefined effects
    assert decide(float("nan"), [0.1] * 10, +1, 0.05)["verdict"] == "not measurable"
    assert decide(0.1, [np.nan] * 6 + [0.1] * 4, +1, 0.05)["verdict"] == "not measurable"
    with pytest.raises(ConfigError):
        decide(0.1, [0.1, 0.2], 0, 0.05)
    with pytest.raises(ConfigError):
        decide(0.1, [0.1, 0.2], 1, 0.0)
    assert DELTA["accuracy"] == 0.05 and DELTA["nll_per_token"] == 0.02


def test_a_significant_but_negligible_effect_is_not_support():
    """CI 0.02 ± 1.96·0.005 excludes 0, and its 90 % interval lies inside ±0.05: *negligible* (the old rule
    called it supported/contradicted); the same effect with δ = 0.01 is supported again."""
    d = decide(0.02, _normal_reps(0.02, 0.005), +1, 0.05)
    assert d["lo"] > 0 and d["verdict"] == "negligible" and "too small to matter" in d["reason"]
    assert decide(-0.02, _normal_reps(-0.02, 0.005), +1, 0.05)["verdict"] == "negligible"
    assert decide(0.02, _normal_reps(0.02, 0.005), +1, 0.01)["verdict"] == "supported"
    assert "negligible" in DECIDED and "negligible" not in DIRECTIONAL


def test_too_few_units_cannot_decide():
    """A clear effect over two model pairs is inconclusive (analysis plan: at least MIN_UNITS); over three, it
    is decided."""
    reps = _normal_reps(0.3, 0.02)
    d = decide(0.3, reps, +1, 0.05, units=2, unit="model pairs")
    assert d["verdict"] == "inconclusive" and "rests on 2 model pairs" in d["reason"]
    assert decide(0.3, reps, +1, 0.05, units=MIN_UNITS)["verdict"] == "supported"


def test_the_chance_gate():
    assert above_chance(0.25 + CHANCE_MARGIN, 0.25) and not above_chance(0.25 + CHANCE_MARGIN - 1e-9, 0.25)
    assert not above_chance(0.9, float("nan")) and not above_chance(float("nan"), 0.25)


def test_margins_and_gates_equal_the_frozen_analysis_plan():
    """docs/analysis-plan.md fixes δ per metric, the chance margin and the fewest units; decide uses exactly
    those (a change to either without the other fails here)."""
    plan = (Path(__file__).resolve().parent.parent / "docs" / "analysis-plan.md").read_text(encoding="utf-8")
    table = plan.split("<!-- margins table: start")[1].split("<!-- margins table: end -->")[0]
    found = {m: float(v) for m, v in re.findall(r"^\| `([a-z_]+)` \| ([0-9.]+) \|", table, re.MULTILINE)}
    assert found == DELTA
    assert f"**{CHANCE_MARGIN:g}**" in plan.split("## Chance gate")[1].split("##")[0]
    assert f"**{MIN_UNITS}**" in plan.split("## Resampling units")[1].split("\n## ")[0]


def test_n_needed():
    assert n_needed(100, 0.2, 0.1) == 400                    # half the effect -> four times the items
    assert n_needed(100, 0.05, 0.1) == 100                   # already detectable
    assert n_needed(100, float("nan"), 0.1) is None and n_needed(100, 0.1, 0.0) is None


def _paired_bootstrap(diffs, n_boot, seed):
    w = bootstrap_weights(len(diffs), n_boot, seed, "sim")
    return (w @ diffs) / len(diffs)


def test_tost_keeps_its_error_rate_and_mde_gives_its_power_in_simulation():
    """Over 300 synthetic paired data sets (n = 200 items, per-item differences with SD 1):
    * a true effect exactly at δ is called 'no effect' at most α = 5 % of the time (+ Monte-Carlo error);
    * a true effect equal to the MDE is 'supported' about 80 % of the time;
    * a true effect of 0 is 'contradicted' or 'supported' about 5 % of the time."""
    rng = np.random.default_rng(0)
    n, n_sets, n_boot = 200, 300, 400
    se = 1 / np.sqrt(n)
    delta = 2.5 * se
    target_mde = (norm.ppf(0.975) + norm.ppf(0.8)) * se
    calls = {"at_delta": [], "at_mde": [], "null": [], "mde": []}
    for k in range(n_sets):
        for name, effect in (("at_delta", delta), ("at_mde", target_mde), ("null", 0.0)):
            diffs = effect + rng.standard_normal(n)
            reps = _paired_bootstrap(diffs, n_boot, k)
            d = decide(float(diffs.mean()), reps, +1, delta)
            calls[name].append(d["verdict"])
            if name == "null":
                calls["mde"].append(d["mde"])
    mc = lambda p: 3 * np.sqrt(p * (1 - p) / n_sets)          # noqa: E731  three Monte-Carlo standard errors
    no_effect_at_delta = np.mean([v == "no effect" for v in calls["at_delta"]])
    power = np.mean([v == "supported" for v in calls["at_mde"]])
    false_pos = np.mean([v in ("supported", "contradicted") for v in calls["null"]])
    assert no_effect_at_delta <= 0.05 + mc(0.05)
    assert abs(power - 0.8) <= mc(0.8) + 0.03                 # + the bootstrap's own small-sample slack
    assert abs(false_pos - 0.05) <= mc(0.05) + 0.01
    assert np.median(calls["mde"]) == pytest.approx(target_mde, rel=0.08)
    assert mde(_normal_reps(0, se)) == pytest.approx(target_mde, rel=1e-3)


def test_summary_and_null_shift():
    """A stored summary gives the same verdict as the replicates it came from; a no-effect value other than 0
    (XRR against the 0.5 threshold) shifts every bound."""
    from clika_utils.decide import summarize, verdict_of
    reps = _normal_reps(0.3, 0.05)
    s = summarize(reps)
    assert s["lo"] == pytest.approx(0.3 - 1.95996 * 0.05, rel=1e-3) and s["tost_hi"] == pytest.approx(0.3 + 1.64485 * 0.05, rel=1e-3)
    assert verdict_of(0.3, s, +1, 0.1) == decide(0.3, reps, +1, 0.1)
    d = verdict_of(0.3, s, -1, 0.1, null=0.5)                 # XRR 0.3 below 0.5: the claimed direction
    assert d["verdict"] == "supported" and d["effect"] == pytest.approx(-0.2) and d["hi"] == pytest.approx(-0.2 + 1.96 * 0.05, rel=1e-2)
    assert verdict_of(0.52, summarize(_normal_reps(0.52, 0.02)), -1, 0.1, null=0.5)["verdict"] == "no effect"
    assert verdict_of(0.3, s, +1, 0.1, undefined="English at chance")["reason"] == "English at chance"
    assert summarize([np.nan] * 3 + [0.1, 0.2])["defined"] is False
