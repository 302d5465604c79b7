"""The papers' claims, declared once, and the one claims table.

Each experiment module declares the claims it measures as :class:`PaperClaim` objects (``CLAIMS``: paper,
statement, metric, expected direction, the results file the number comes from, and the effect the paper
states where it states one) and turns its results into rows of the claims table with
``claim_rows(results_dir)``; the report (:mod:`clika_utils.report`) iterates the experiments, knows no
results schema, and writes the rows as one CSV (:data:`ROW_COLUMNS`). A claim whose notebook has not run
gets a ``not run`` row.

Every row's verdict comes from :mod:`clika_utils.decide` (the one rule: supported / contradicted /
no effect larger than δ / inconclusive / not measurable), with the effect, its 95 % CI, the equivalence
margin δ, the minimum detectable effect at the run's sample size and — where the paper states an effect
size — the sample size that would detect it. (Claims judged per language — the scaling-law slopes, the
middle-layer peaks — are read as one effect averaged over the languages, stated in the row.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import decide
from .errors import ConfigError
from .io import Table

EXPECTED = ("increase", "decrease")
SOURCES = ("stored", "live", "")
#: The claims table: one row per claim and measurement. ``effect``, ``lo``, ``hi``, ``mde`` and ``margin`` (δ)
#: are on the effect scale (the measured value minus the no-effect value); ``n`` is the sample the CI
#: resamples (items, places, questions, sentences, cells); ``n_needed`` the sample that would detect the
#: paper's stated effect (empty where the paper states none).
ROW_COLUMNS = ["paper", "claim", "notebook", "source", "metric", "measured", "ci", "effect", "lo", "hi", "mde",
               "margin", "n", "n_needed", "verdict", "reason", "note"]


@dataclass(frozen=True)
class PaperClaim:
    """One claim of a paper as this project tests it."""
    paper: str       #: "CLiKA" or "x-LLaMA"
    statement: str   #: what the paper says, in one sentence
    metric: str      #: what is measured (e.g. "RA", "XRR", "F1 relative gain")
    expected: str    #: "increase" or "decrease" of the effect against ``null``
    source: str      #: the results file(s) of the notebook the number comes from
    null: float = 0.0
    stated_effect: float | None = None   #: the effect size the paper states, on the row's effect scale

    def __post_init__(self):
        if self.expected not in EXPECTED:
            raise ConfigError(f"claim {self.statement!r}: expected must be one of {EXPECTED}")

    @property
    def direction(self) -> int:
        return 1 if self.expected == "increase" else -1


def row(claim: "PaperClaim | str", notebook: str, measured: str = "", decision: dict | None = None, *,
        source: str = "", metric: str = "", n: int | None = None, note: str = "", paper: str | None = None,
        stated_effect: float | None = None, unit: str = "", verdict: str = "not run") -> dict:
    """One row of the claims table (``claim``: a declared claim, or a statement refining one, e.g. per
    target language, with ``paper``). ``decision``: :func:`clika_utils.decide.verdict_of`'s dict (without it
    the row is ``verdict``, by default *not run*); ``unit`` follows the CI text (e.g. " %")."""
    if isinstance(claim, PaperClaim):
        stated_effect = claim.stated_effect if stated_effect is None else stated_effect
        paper, claim = claim.paper, claim.statement
    if source not in SOURCES:
        raise ConfigError(f"source must be one of {SOURCES}, got {source!r}")
    out = {"paper": paper, "claim": claim, "notebook": notebook[:2], "source": source, "metric": metric,
           "measured": measured, "ci": "", "effect": float("nan"), "lo": float("nan"), "hi": float("nan"),
           "mde": float("nan"), "margin": float("nan"), "n": n, "n_needed": None, "verdict": verdict,
           "reason": "", "note": note}
    if decision is not None:
        out.update({k: decision[k] for k in ("effect", "lo", "hi", "mde", "margin", "verdict", "reason")})
        if np.isfinite(decision["lo"]):
            out["ci"] = f"[{decision['lo']:+.3g}, {decision['hi']:+.3g}]{unit}"
        if stated_effect is not None and n:
            out["n_needed"] = decide.n_needed(int(n), decision["mde"], stated_effect)
    return out


def judge(claim: PaperClaim, estimate: float, summary: dict, metric: str, *, undefined: str = "",
          null: float | None = None) -> dict:
    """:func:`clika_utils.decide.verdict_of` for a declared claim: its direction and no-effect value, δ of
    ``metric``."""
    return decide.verdict_of(estimate, summary, claim.direction, decide.margin(metric),
                             null=claim.null if null is None else null, undefined=undefined)


def not_run(claims, notebook: str) -> list[dict]:
    """The rows of claims whose notebook's results are missing."""
    return [row(c, notebook) for c in claims]


def read(results_dir, name: str) -> pd.DataFrame | None:
    """``<results_dir>/<name>.csv``, or None when the folder or the file is missing."""
    if results_dir is None or not (Path(results_dir) / f"{name}.csv").exists():
        return None
    return pd.read_csv(Path(results_dir) / f"{name}.csv")


def mean_summary(values, n_boot: int = 1000, seed: int = 0) -> tuple[float, dict]:
    """Mean of the finite ``values`` and the :func:`clika_utils.decide.summarize` of its bootstrap replicates
    (resampling the values)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    rng = np.random.default_rng(seed)
    boots = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(1)
    return float(values.mean()), decide.summarize(boots)


SHOWN = ["claim", "source", "measured", "ci", "mde", "margin", "n", "n_needed", "verdict", "reason"]


def shown(rows: list[dict]) -> Table:
    """The claims-table rows a notebook displays (its own rows of ``claims.csv``): the columns of
    :data:`SHOWN`, MDE and δ rounded, the columns a notebook has no use for left out."""
    t = pd.DataFrame(rows, columns=ROW_COLUMNS)[SHOWN]
    return Table(t.assign(mde=t.mde.astype(float).round(3), margin=t.margin.astype(float)).rename(
        columns={"ci": "95 % CI of the effect", "mde": "detectable (80 % power)", "margin": "δ",
                 "n_needed": "n for the paper's effect"}))


# ----------------------------------------------------------------------------------------------
# the papers' headline claims: the claims table grouped for a reader (README, report, the tour)

#: (notebook, pattern on the claim's text, headline) — first match wins; a row no pattern matches keeps its text.
HEADLINES = [
    (1, r"less accurate", "Non-English answers are less accurate than English ones (RA < 1)"),
    (1, r"less consistent", "Knowledge is less consistent across languages than accuracy suggests (en-CO < RA)"),
    (3, r"conductivity is low", "Knowledge conducts poorly across languages (XRR < 0.5)"),
    (4, r"^Continued pretraining (raises|lowers) the target", "Continued pretraining helps the target language"),
    (4, r"^Continued pretraining .*other", "Continued pretraining hurts the other languages"),
    (4, r"^Mixed pretraining", "Mixed pretraining hurts the other languages less"),
    (5, r"^Multilingual instruction tuning raises", "Multilingual instruction tuning helps non-English PF and CT"),
    (5, r"^English-only instruction tuning raises", "English-only instruction tuning helps non-English PF and CT"),
    (5, r"beats English-only", "Multilingual beats English-only instruction tuning"),
    (6, r"^x-LLaMA", "x-LLaMA (cross-lingual instruction tuning) beats Alpaca on non-English QA"),
    (6, r"^m-LLaMA", "m-LLaMA (one multilingual model) beats Alpaca on non-English QA"),
    (7, r"scaling law", "Translation quality follows a scaling law in the amount of translation data"),
    (8, r"^Allocating", "Allocating the translation budget by the laws beats equal shares"),
    (9, r"middle layers.*retrieval", "Languages align best in the middle layers: en ↔ X retrieval"),
    (9, r"middle layers.*cosine-gap", "Languages align best in the middle layers: cosine gap"),
]


def headline(notebook, claim: str) -> str:
    import re
    return next((h for nb, pattern, h in HEADLINES if int(notebook) == nb and re.search(pattern, claim)), claim)


def _counts(verdicts: pd.Series) -> str:
    if verdicts.empty:
        return "—"
    counts = verdicts.value_counts()
    return ", ".join(f"{int(counts[v])} {v}" for v in [*decide.DECIDED, "inconclusive", "not measurable", "not run"]
                     if v in counts)


def overall(verdicts: pd.Series) -> str:
    """One word for a headline's rows: *supported* / *contradicted* / *no effect* when every decided row says so,
    *mixed* when decided rows disagree, *open* when none is decided."""
    decided = set(verdicts[verdicts.isin(decide.DECIDED)])
    if not decided:
        return "open"
    return decided.pop() if len(decided) == 1 else "mixed"


def headlines(table: pd.DataFrame) -> pd.DataFrame:
    """The claims table (:data:`ROW_COLUMNS`) grouped by the papers' headline claims, in notebook order: paper,
    headline, notebook, the verdict counts of the stored-output rows and of the live rows, and :func:`overall`."""
    t = table.assign(headline=[headline(nb, c) for nb, c in zip(table.notebook, table.claim)])
    rows = []
    for (paper, head), g in t.groupby(["paper", "headline"], sort=False):
        rows.append({"paper": paper, "headline": head, "notebook": int(g.notebook.iloc[0]),
                     "stored": _counts(g.verdict[g.source == "stored"]), "live": _counts(g.verdict[g.source == "live"]),
                     "verdict": overall(g.verdict)})
    return pd.DataFrame(rows, columns=["paper", "headline", "notebook", "stored", "live", "verdict"])
