"""The one verdict rule: supported / contradicted / negligible / no effect larger than δ / inconclusive /
not measurable, with the power of each comparison. The rule, the margins and the gates are fixed in
docs/analysis-plan.md.

Every claim of the papers is read as the sign of an effect (a paired difference, a ratio minus 1, a value
minus a stated threshold …) with bootstrap replicates from the same paired resampling the CIs use. The
replicates are summarised once (:func:`summarize`: the two-sided 95 % percentile interval, the 90 % one
the equivalence test needs, their SD) — the summary is what results tables store — and
:func:`verdict_of` turns a summary into one of six verdicts:

* ``supported`` / ``contradicted`` — the two-sided ``level`` percentile CI of ``effect − null`` excludes 0
  on the expected / on the other side;
* ``negligible`` — the 95 % CI excludes 0 but the equivalence test below also holds: an effect that is
  there and smaller than δ. Reported with *no effect*, never as support or contradiction;
* ``no effect`` — no effect larger than δ (the equivalence margin, :data:`DELTA`): two one-sided tests
  (TOST), each at α = 1 − ``level``, reject "effect ≤ −δ" and "effect ≥ +δ"; with percentile intervals
  that is the (1 − 2α) interval lying inside (−δ, +δ) (Schuirmann 1987);
* ``inconclusive`` — none of these: the sample is too small to decide, and the row says how small an
  effect it could have detected; also a row that rests on fewer than :data:`MIN_UNITS` sampled units
  (e.g. model pairs of the stored systems), whatever its interval;
* ``not measurable`` — the effect is undefined (NaN estimate, most replicates NaN, or a metric that means
  nothing here, e.g. RA when the model is at chance in English), with the reason.

Power: :func:`mde` is the minimum detectable effect at 80 % power and two-sided α = 1 − ``level`` under
the normal approximation, ``(z_{1−α/2} + z_{power}) · SE`` with SE the replicates' standard deviation;
:func:`n_needed` is the sample size at which an effect of a given size becomes detectable (SE ∝ 1/√n).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError
from .metrics import percentile_ci

VERDICTS = ("supported", "contradicted", "negligible", "no effect", "inconclusive", "not measurable")
#: the verdicts that decide a row; *negligible* and *no effect* both say "no effect larger than δ"
DECIDED = ("supported", "contradicted", "negligible", "no effect")
#: the verdicts that say an effect of the expected size or sign exists (or its opposite)
DIRECTIONAL = ("supported", "contradicted")

#: δ per metric (the equivalence margin): effects smaller than this count as "no effect" when the TOST says
#: so. Fixed in docs/analysis-plan.md with a rationale that uses no result of this project (a test keeps the
#: two equal): for a bounded metric one tenth of the range between its no-effect value and its best value;
#: for the others the paper's stated effect or a stated convention.
DELTA = {"accuracy": 0.05, "ra": 0.10, "en_co": 0.10, "co_kappa": 0.10, "nll_per_token": 0.02, "xrr": 0.10,
         "relative_gain_pct": 10.0, "qa_points": 10.0, "sum_points": 1.0, "slope_per_doubling": 1.0,
         "middle_advantage_retrieval": 0.10, "middle_advantage_cosine_gap": 0.10}

#: The chance gate of every Performance/Consistency comparison (docs/analysis-plan.md): a system is *above
#: chance* on a task when the lower end of the 95 % CI of its English accuracy lies at least this far above
#: the task's chance accuracy (δ of accuracy); a comparison on a task where a compared system is not above
#: chance is not measurable there.
CHANCE_MARGIN = 0.05

#: Fewest sampled units (model pairs of the stored systems, training seeds) a row may generalise over: a row
#: resting on fewer is *inconclusive* whatever its interval, and says so.
MIN_UNITS = 3

SUMMARY_KEYS = ("lo", "hi", "tost_lo", "tost_hi", "se")


def above_chance(accuracy_lo: float, chance: float) -> bool:
    """The chance gate (:data:`CHANCE_MARGIN`): is the lower end of English accuracy's 95 % CI at least the
    margin above chance? (False where chance is unknown or the bound undefined.)"""
    return bool(math.isfinite(chance) and math.isfinite(accuracy_lo) and accuracy_lo >= chance + CHANCE_MARGIN)


def _z(p: float) -> float:
    from scipy.stats import norm
    return float(norm.ppf(p))


def margin(metric: str) -> float:
    """δ of ``metric`` (:data:`DELTA`)."""
    if metric not in DELTA:
        raise ConfigError(f"no equivalence margin for metric {metric!r}; expected one of {sorted(DELTA)}")
    return DELTA[metric]


def summarize(replicates, level: float = 0.95) -> dict:
    """The replicates' two-sided ``level`` percentile interval (``lo``, ``hi``), the (2·level − 1) one the TOST
    reads (``tost_lo``, ``tost_hi``), their SD (``se``), and ``defined`` (False when most are NaN)."""
    if not 0.5 < level < 1:
        raise ConfigError(f"level must lie in (0.5, 1), got {level!r}")
    r = np.asarray(replicates, dtype=float).ravel()
    finite = r[np.isfinite(r)]
    nan = float("nan")
    if finite.size < max(2, r.size / 2):
        return {"lo": nan, "hi": nan, "tost_lo": nan, "tost_hi": nan, "se": nan, "defined": False}
    lo, hi = percentile_ci(finite, level)
    tlo, thi = percentile_ci(finite, 2 * level - 1)             # each one-sided test at α = 1 − level
    return {"lo": float(lo), "hi": float(hi), "tost_lo": float(tlo), "tost_hi": float(thi),
            "se": float(finite.std(ddof=1)), "defined": True}


def mde_of(se: float, level: float = 0.95, power: float = 0.8) -> float:
    """Minimum detectable effect of a two-sided test at α = 1 − ``level`` with ``power``, from the SE."""
    return (_z(1 - (1 - level) / 2) + _z(power)) * se if math.isfinite(se) else float("nan")


def mde(replicates, level: float = 0.95, power: float = 0.8) -> float:
    """Minimum detectable effect (two-sided test at α = 1 − ``level``, ``power``) from bootstrap replicates."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    return mde_of(float(r.std(ddof=1)), level, power) if r.size >= 2 else float("nan")


def n_needed(n: int, mde_at_n: float, effect: float) -> int | None:
    """Items needed to detect ``effect`` when ``n`` items give ``mde_at_n`` (SE ∝ 1/√n); None if undefined."""
    if not (math.isfinite(mde_at_n) and effect and math.isfinite(effect)) or n < 1:
        return None
    return max(n, math.ceil(n * (mde_at_n / abs(effect)) ** 2))


def verdict_of(estimate: float, summary: dict, direction: int, delta: float, *, null: float = 0.0,
               level: float = 0.95, undefined: str = "", units: int | None = None, unit: str = "units") -> dict:
    """The verdict of ``estimate − null`` given the replicates' :func:`summarize` (of the estimate, not
    shifted): {effect, lo, hi, tost_lo, tost_hi, margin, mde, verdict, reason}, all on the effect scale.
    ``units``: how many sampled ``unit`` (model pairs, seeds) the row generalises over, where that matters —
    fewer than :data:`MIN_UNITS` cannot decide it."""
    if direction not in (1, -1):
        raise ConfigError("direction must be +1 (expected increase) or -1 (expected decrease)")
    if not delta > 0:
        raise ConfigError(f"need an equivalence margin delta > 0, got {delta!r}")
    s = {k: float(summary.get(k, float("nan"))) - (null if k != "se" else 0.0) for k in SUMMARY_KEYS}
    out = {"effect": float(estimate) - null, **{k: s[k] for k in SUMMARY_KEYS if k != "se"}, "margin": delta,
           "mde": mde_of(s["se"], level), "verdict": "", "reason": ""}
    if undefined or not math.isfinite(out["effect"]) or not summary.get("defined", True) or not math.isfinite(s["lo"]):
        out.update(verdict="not measurable", reason=undefined or "the effect is undefined (no estimate, or most "
                                                                 "bootstrap replicates undefined)")
        return out
    equivalent = -delta < s["tost_lo"] and s["tost_hi"] < delta
    if units is not None and units < MIN_UNITS:
        out["verdict"] = "inconclusive"
        out["reason"] = (f"rests on {units} {unit}; at least {MIN_UNITS} are needed to generalise over them "
                         "(analysis plan), whatever the interval")
    elif (s["lo"] > 0 or s["hi"] < 0) and equivalent:
        out["verdict"] = "negligible"
        out["reason"] = f"the CI excludes {null:g} but the effect lies within ±{delta:g} (δ): there, and too small to matter"
    elif s["lo"] > 0 or s["hi"] < 0:
        out["verdict"] = "supported" if (s["lo"] > 0) == (direction > 0) else "contradicted"
    elif equivalent:
        out["verdict"] = "no effect"
    else:
        out["verdict"] = "inconclusive"
        out["reason"] = (f"the CI includes {null:g} and reaches beyond ±{delta:g} of it; the smallest effect this "
                         f"sample can detect (80 % power) is {out['mde']:.3g}")
    return out


def decide(estimate: float, replicates, direction: int, delta: float, level: float = 0.95, *,
           null: float = 0.0, undefined: str = "", units: int | None = None, unit: str = "units") -> dict:
    """:func:`verdict_of` of the replicates' :func:`summarize` (see the module docstring)."""
    return verdict_of(estimate, summarize(replicates, level), direction, delta, null=null, level=level,
                      undefined=undefined, units=units, unit=unit)
