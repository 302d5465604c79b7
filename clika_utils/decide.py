"""Verdicts that can also say "no effect", and the power of a comparison (groundwork for issue 18).

Every claim of the papers is read as the sign of an effect (a paired difference, a ratio minus 1, …)
with bootstrap replicates from the same paired resampling the CIs use. :func:`decide` turns them into
one of five verdicts:

* ``supported`` / ``contradicted`` — the two-sided ``level`` percentile CI excludes 0 on the expected /
  on the other side;
* ``no effect`` — no effect larger than δ: two one-sided tests (TOST), each at α = 1 − ``level``, reject
  "effect ≤ −δ" and "effect ≥ +δ"; with percentile intervals that is the (1 − 2α) interval lying inside
  (−δ, +δ) (Schuirmann 1987). δ is stated per metric (:data:`DELTA`);
* ``inconclusive`` — none of these;
* ``not measurable`` — the effect is undefined (NaN estimate, or most replicates NaN), with the reason.

:func:`mde` is the minimum detectable effect at 80 % power and two-sided α = 1 − ``level`` under the
normal approximation, ``(z_{1−α/2} + z_{power}) · SE`` with SE the replicates' standard deviation, and
:func:`n_needed` the sample size at which an effect of a given size becomes detectable (SE ∝ 1/√n).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError

VERDICTS = ("supported", "contradicted", "no effect", "inconclusive", "not measurable")

#: δ per metric: differences smaller than this are treated as "no effect" when the TOST says so.
#: Accuracy, RA and en-CO: 0.05 — five points of accuracy, a quarter of the gap between chance and a
#: perfect model on five-option X-CSQA. Held-out loss: 0.02 nats/token, about 2 % perplexity.
#: Conductivity (XRR, transfer scale): 0.1.
DELTA = {"accuracy": 0.05, "ra": 0.05, "en_co": 0.05, "nll_per_token": 0.02, "xrr": 0.1}


def _z(p: float) -> float:
    from scipy.stats import norm
    return float(norm.ppf(p))


def mde(replicates, level: float = 0.95, power: float = 0.8) -> float:
    """Minimum detectable effect (two-sided test at α = 1 − ``level``, ``power``) from bootstrap replicates."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return float("nan")
    return (_z(1 - (1 - level) / 2) + _z(power)) * float(r.std(ddof=1))


def n_needed(n: int, mde_at_n: float, effect: float) -> int | None:
    """Items needed to detect ``effect`` when ``n`` items give ``mde_at_n`` (SE ∝ 1/√n); None if undefined."""
    if not (math.isfinite(mde_at_n) and effect and math.isfinite(effect)) or n < 1:
        return None
    return max(n, math.ceil(n * (mde_at_n / abs(effect)) ** 2))


def decide(estimate: float, replicates, direction: int, delta: float, level: float = 0.95) -> dict:
    """The verdict (see the module docstring) with the CI, the TOST interval, the MDE and a reason."""
    if direction not in (1, -1):
        raise ConfigError("direction must be +1 (expected increase) or -1 (expected decrease)")
    if not (delta > 0 and 0.5 < level < 1):
        raise ConfigError(f"need delta > 0 and level in (0.5, 1); got {delta!r}, {level!r}")
    r = np.asarray(replicates, dtype=float)
    finite = r[np.isfinite(r)]
    out = {"estimate": estimate, "lo": float("nan"), "hi": float("nan"), "tost_lo": float("nan"),
           "tost_hi": float("nan"), "delta": delta, "mde": float("nan"), "reason": ""}
    if not math.isfinite(estimate) or finite.size < max(2, r.size / 2):
        out.update(verdict="not measurable", reason="the effect is undefined (no estimate, or most bootstrap "
                                                    "replicates undefined)")
        return out
    alpha = 1 - level
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    tlo, thi = np.quantile(finite, [alpha, 1 - alpha])
    out.update(lo=float(lo), hi=float(hi), tost_lo=float(tlo), tost_hi=float(thi), mde=mde(finite, level))
    if lo > 0 or hi < 0:
        out["verdict"] = "supported" if (lo > 0) == (direction > 0) else "contradicted"
    elif -delta < tlo and thi < delta:
        out["verdict"] = "no effect"
    else:
        out["verdict"] = "inconclusive"
        out["reason"] = (f"the CI includes 0 and reaches beyond ±{delta:g}; the smallest effect this sample can "
                         f"detect (80 % power) is {out['mde']:.3g}")
    return out
