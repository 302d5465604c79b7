"""The papers' claims, declared once, and the one verdict rule.

Each experiment module declares the claims it measures as :class:`PaperClaim` objects (``CLAIMS``: paper,
statement, metric, expected direction, the results file the number comes from) and turns its results
into report rows with ``claim_rows(results_dir)``; the report (:mod:`clika_utils.report`) iterates the
experiments and knows no results schema. A claim whose notebook has not run gets a ``not run`` row.

:func:`verdict` is the rule every claim row and every claims table uses: *supported* / *contradicted*
when the 95 % CI excludes the no-effect value (``null``) on the claimed / the opposite side,
*inconclusive* when it includes it or is undefined. (Claims judged by a majority over languages —
the scaling-law slopes, the middle-layer peaks — apply it per language and state their rule in the
row.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError
from .metrics import percentile_ci

EXPECTED = ("increase", "decrease")
ROW_COLUMNS = ["paper", "claim", "notebook", "measured", "ci", "verdict", "note"]


@dataclass(frozen=True)
class PaperClaim:
    """One claim of a paper as this project tests it."""
    paper: str       #: "CLiKA" or "x-LLaMA"
    statement: str   #: what the paper says, in one sentence
    metric: str      #: what is measured (e.g. "RA", "XRR", "F1 relative gain")
    expected: str    #: "increase" or "decrease" of the effect against ``null``
    source: str      #: the results file(s) of the notebook the number comes from
    null: float = 0.0

    def __post_init__(self):
        if self.expected not in EXPECTED:
            raise ConfigError(f"claim {self.statement!r}: expected must be one of {EXPECTED}")


def verdict(lo: float, hi: float, expected: str | int, null: float = 0.0) -> str:
    """``supported`` if the CI [lo, hi] lies on the expected side of ``null``, ``contradicted`` if on the
    other side, else (or undefined) ``inconclusive``. ``expected``: "increase"/"decrease" or +1/−1."""
    if expected in (1, -1):
        expected = "increase" if expected == 1 else "decrease"
    if expected not in EXPECTED:
        raise ConfigError(f"expected must be one of {EXPECTED} (or +1/-1), got {expected!r}")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if expected == "increase":
        return "supported" if lo > null else "contradicted" if hi < null else "inconclusive"
    return "supported" if hi < null else "contradicted" if lo > null else "inconclusive"


def row(claim: "PaperClaim | str", notebook: str, measured: str = "", ci: str = "", verdict: str = "not run",
        note: str = "", paper: str | None = None) -> dict:
    """One row of the paper-vs-reproduction table (``claim``: a declared claim, or a statement refining
    one, e.g. per target language, with ``paper``)."""
    if isinstance(claim, PaperClaim):
        paper, claim = claim.paper, claim.statement
    return {"paper": paper, "claim": claim, "notebook": notebook[:2], "measured": measured, "ci": ci,
            "verdict": verdict, "note": note}


def not_run(claims, notebook: str) -> list[dict]:
    """The rows of claims whose notebook's results are missing."""
    return [row(c, notebook) for c in claims]


def read(results_dir, name: str) -> pd.DataFrame | None:
    """``<results_dir>/<name>.csv``, or None when the folder or the file is missing."""
    if results_dir is None or not (Path(results_dir) / f"{name}.csv").exists():
        return None
    return pd.read_csv(Path(results_dir) / f"{name}.csv")


def mean_ci(values, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of the finite ``values`` and its percentile-bootstrap 95 % CI (resampling the values)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    rng = np.random.default_rng(seed)
    boots = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(1)
    lo, hi = percentile_ci(boots)
    return float(values.mean()), float(lo), float(hi)
