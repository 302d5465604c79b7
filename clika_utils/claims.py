"""The papers' claims, declared once, and the one claims table.

Each experiment module declares the claims it measures as :class:`PaperClaim` objects (``CLAIMS``: paper,
statement, metric, expected direction, the results file the number comes from, and the effect the paper
states where it states one) and turns its results into rows of the claims table with
``claim_rows(results_dir)``; the report (:mod:`clika_utils.report`) iterates the experiments, knows no
results schema, and writes the rows as one CSV (:data:`ROW_COLUMNS`). A claim whose notebook has not run
gets a ``not run`` row.

Every row's verdict comes from :mod:`clika_utils.decide` (the one rule: supported / contradicted /
negligible / no effect larger than δ / inconclusive / not measurable), with the effect, its 95 % CI, the equivalence
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
#: paper's stated effect (empty where the paper states none); ``seeds`` the training runs per arm the row rests on
#: (1: one run, whose run-to-run variance the CI does not cover; rows without training: 1); ``key`` and
#: ``headline`` the declared claim the row tests (:class:`PaperClaim`) and the headline it is grouped under.
ROW_COLUMNS = ["paper", "key", "headline", "claim", "notebook", "source", "metric", "measured", "ci", "effect", "lo",
               "hi", "mde", "margin", "n", "seeds", "n_needed", "verdict", "reason", "note"]


@dataclass(frozen=True)
class PaperClaim:
    """One claim of a paper as this project tests it, declared once; rows, results tables and the headline
    tables refer to it by ``key``."""
    key: str         #: short and unique over the project ("1a", "xrr"); a results table's claim ids start with it
    paper: str       #: "CLiKA" or "x-LLaMA"
    statement: str   #: what the paper says, in one sentence; "{measure}" is filled per measured quantity
    metric: str      #: what is measured (e.g. "RA", "XRR", "F1 relative gain")
    expected: str    #: "increase" or "decrease" of the effect against ``null``
    source: str      #: the results file(s) of the notebook the number comes from
    headline: str    #: the headline claim its rows are grouped under (README, report, tour)
    null: float = 0.0
    stated_effect: float | None = None   #: the effect size the paper states, on the row's effect scale
    group: str = ""  #: Δ claims of notebooks 04/05: the languages compared (target, others or non_en)
    measures: tuple = ()   #: Δ claims of notebooks 04/05: the metrics it is tested on
    general: str = ""      #: the "{measure}" of the statement when no single measure is meant

    def __post_init__(self):
        if self.expected not in EXPECTED:
            raise ConfigError(f"claim {self.statement!r}: expected must be one of {EXPECTED}")
        if not self.key or " " in self.key or not self.headline:
            raise ConfigError(f"claim {self.statement!r}: needs a key without spaces and a headline")

    @property
    def direction(self) -> int:
        return 1 if self.expected == "increase" else -1

    def stated(self, measure: str | None = None) -> str:
        """The statement for one measured quantity (``None``: the claim in general)."""
        return self.statement.replace("{measure}", self.general if measure is None else measure)


def row(claim: PaperClaim, notebook: str, measured: str = "", decision: dict | None = None, *,
        source: str = "", metric: str = "", n: int | None = None, note: str = "", measure: str | None = None,
        detail: str = "", stated_effect: float | None = None, unit: str = "", verdict: str = "not run",
        seeds: int = 1) -> dict:
    """One row of the claims table for a declared claim: its statement for ``measure`` (see
    :meth:`PaperClaim.stated`), refined by ``detail`` (e.g. the target language) after a colon.
    ``decision``: :func:`clika_utils.decide.verdict_of`'s dict (without it the row is ``verdict``, by default
    *not run*); ``unit`` follows the CI text (e.g. " %")."""
    if not isinstance(claim, PaperClaim):
        raise ConfigError(f"a claims-table row needs a declared PaperClaim, got {claim!r}")
    if source not in SOURCES:
        raise ConfigError(f"source must be one of {SOURCES}, got {source!r}")
    stated_effect = claim.stated_effect if stated_effect is None else stated_effect
    text = claim.stated(measure) + (f": {detail}" if detail else "")
    out = {"paper": claim.paper, "key": claim.key, "headline": claim.headline, "claim": text,
           "notebook": notebook[:2], "source": source, "metric": metric,
           "measured": measured, "ci": "", "effect": float("nan"), "lo": float("nan"), "hi": float("nan"),
           "mde": float("nan"), "margin": float("nan"), "n": n, "seeds": seeds, "n_needed": None, "verdict": verdict,
           "reason": "", "note": note}
    if decision is not None:
        out.update({k: decision[k] for k in ("effect", "lo", "hi", "mde", "margin", "verdict", "reason")})
        if np.isfinite(decision["lo"]):
            out["ci"] = f"[{decision['lo']:+.3g}, {decision['hi']:+.3g}]{unit}"
        if stated_effect is not None and n:
            out["n_needed"] = decide.n_needed(int(n), decision["mde"], stated_effect)
    return out


def declared(claims, key: str) -> PaperClaim:
    """The claim of ``claims`` whose key starts ``key`` (a results table's claim id, e.g. "1a accuracy")."""
    k = str(key).split()[0]
    found = [c for c in claims if c.key == k]
    if not found:
        raise ConfigError(f"claim id {key!r} names no declared claim; declared: {[c.key for c in claims]}")
    return found[0]


def judge(claim: PaperClaim, estimate: float, summary: dict, metric: str, *, undefined: str = "",
          null: float | None = None, units: int | None = None, unit: str = "units") -> dict:
    """:func:`clika_utils.decide.verdict_of` for a declared claim: its direction and no-effect value, δ of
    ``metric`` (``units``: the sampled units it generalises over, where the analysis plan counts them)."""
    return decide.verdict_of(estimate, summary, claim.direction, decide.margin(metric),
                             null=claim.null if null is None else null, undefined=undefined, units=units, unit=unit)


def not_run(claims, notebook: str) -> list[dict]:
    """The rows of claims whose notebook's results are missing."""
    return [row(c, notebook) for c in claims]


def read(results_dir, name: str) -> pd.DataFrame | None:
    """``<results_dir>/<name>.csv``, or None when the folder or the file is missing."""
    if results_dir is None or not (Path(results_dir) / f"{name}.csv").exists():
        return None
    return pd.read_csv(Path(results_dir) / f"{name}.csv")


def mean_summary(values, n_boot: int = 1000, seed: int = 0, groups=None) -> tuple[float, dict]:
    """Mean of the finite ``values`` and the :func:`clika_utils.decide.summarize` of its bootstrap replicates.
    Without ``groups`` the values are resampled; with ``groups`` (one label per value, e.g. the system a cell
    belongs to) the groups are — a cluster bootstrap: each replicate draws as many groups as there are, with
    replacement, and takes the mean over all values of the groups drawn (resampling the top level of a
    hierarchy only; Davison & Hinkley 1997, §3.8)."""
    values = np.asarray(values, float)
    keep = np.isfinite(values)
    values = values[keep]
    rng = np.random.default_rng(seed)
    if groups is None:
        boots = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(1)
        return float(values.mean()), decide.summarize(boots)
    labels, codes = np.unique(np.asarray(groups, object)[keep].astype(str), return_inverse=True)
    sums, counts = np.bincount(codes, values, len(labels)), np.bincount(codes, minlength=len(labels))
    draw = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    boots = sums[draw].sum(1) / counts[draw].sum(1)
    return float(values.mean()), decide.summarize(boots)


SHOWN = ["claim", "source", "measured", "ci", "mde", "margin", "n", "seeds", "n_needed", "verdict", "reason"]


def shown(rows: list[dict]) -> Table:
    """The claims-table rows a notebook displays (its own rows of ``claims.csv``): the columns of
    :data:`SHOWN`, MDE and δ rounded, the columns a notebook has no use for left out."""
    t = pd.DataFrame(rows, columns=ROW_COLUMNS)[SHOWN]
    return Table(t.assign(mde=t.mde.astype(float).round(3), margin=t.margin.astype(float)).rename(
        columns={"ci": "95 % CI of the effect", "mde": "detectable (80 % power)", "margin": "δ",
                 "n_needed": "n for the paper's effect"}))


# ----------------------------------------------------------------------------------------------
# the papers' headline claims: the claims table grouped for a reader (README, report, the tour)

def _counts(verdicts: pd.Series) -> str:
    if verdicts.empty:
        return "—"
    counts = verdicts.value_counts()
    return ", ".join(f"{int(counts[v])} {v}" for v in [*decide.VERDICTS, "not run"] if v in counts)


def overall(verdicts: pd.Series) -> str:
    """One verdict for the rows of one claim from one source (docs/analysis-plan.md, "Aggregation"): rows are
    never counted as votes. *supported* / *contradicted* only when every row is decided that way, *no effect*
    when every row is *no effect* or *negligible*; otherwise *mixed* (rows decided both ways), *partly
    supported (k of n)* / *partly contradicted (k of n)* / *partly no effect (k of n)* (the other rows
    undecided or not measurable), *open* when no row is decided, and "—" for no row."""
    v = pd.Series(verdicts, dtype=object)
    if v.empty:
        return "—"
    n = len(v)
    sup, con = int((v == "supported").sum()), int((v == "contradicted").sum())
    null = int(v.isin(["no effect", "negligible"]).sum())
    if sup == n:
        return "supported"
    if con == n:
        return "contradicted"
    if null == n:
        return "no effect"
    if sup and con:
        return "mixed"
    for k, word in ((sup, "supported"), (con, "contradicted"), (null, "no effect")):
        if k:
            return f"partly {word} ({k} of {n})"
    return "open"


HEADLINE_COLUMNS = ["paper", "headline", "notebook", "stored", "stored_verdict", "live", "live_verdict"]


def headlines(table: pd.DataFrame) -> pd.DataFrame:
    """The claims table (:data:`ROW_COLUMNS`) grouped by the papers' headline claims, in notebook order: paper,
    headline, notebook, and for the stored-output rows and the live rows separately (they never vote together)
    the verdict counts and :func:`overall`."""
    rows = []
    for (paper, head), g in table.groupby(["paper", "headline"], sort=False):
        stored, live = g.verdict[g.source == "stored"], g.verdict[g.source == "live"]
        rows.append({"paper": paper, "headline": head, "notebook": int(g.notebook.iloc[0]),
                     "stored": _counts(stored), "stored_verdict": overall(stored),
                     "live": _counts(live), "live_verdict": overall(live)})
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def headline_sentence(h) -> str:
    """How the tour states one row of :func:`headlines` (``publish.disagreements`` looks for exactly this)."""
    return (f"**{h.headline}** ({h.paper}, notebook {h.notebook:02d}): stored outputs **{h.stored_verdict}**, "
            f"live runs **{h.live_verdict}**")


# ----------------------------------------------------------------------------------------------
# what a change did to the table (the analysis plan's change log)

#: what identifies a row across two versions of the claims table
ROW_KEY = ["notebook", "source", "claim", "metric"]


def changes(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Rows whose verdict differs between two claims tables (matched on :data:`ROW_KEY`), and rows present in only
    one of them (verdict ``absent`` on the other side): key, old/new verdict, old/new measured and CI."""
    cols = ["verdict", "measured", "ci"]
    a = old.assign(notebook=old.notebook.astype(int))[ROW_KEY + cols].drop_duplicates(ROW_KEY)
    b = new.assign(notebook=new.notebook.astype(int))[ROW_KEY + cols].drop_duplicates(ROW_KEY)
    m = a.merge(b, on=ROW_KEY, how="outer", suffixes=("_old", "_new"), sort=False)
    m[["verdict_old", "verdict_new"]] = m[["verdict_old", "verdict_new"]].fillna("absent")
    m = m.fillna("")
    out = m[m.verdict_old != m.verdict_new]
    return out.sort_values(["notebook", "source"], kind="mergesort").reset_index(drop=True)


def changes_markdown(diff: pd.DataFrame) -> str:
    """:func:`changes` as the change log's list: one line per flipped, added or removed row."""
    if diff.empty:
        return "No verdict changed."
    lines = []
    for r in diff.itertuples():
        old = f"{r.verdict_old} ({r.measured_old} {r.ci_old})".replace(" )", ")") if r.verdict_old != "absent" else "—"
        new = f"{r.verdict_new} ({r.measured_new} {r.ci_new})".replace(" )", ")") if r.verdict_new != "absent" else "—"
        lines.append(f"* {int(r.notebook):02d} {r.source} · {r.claim} [{r.metric}]: {old} → {new}")
    return "\n".join(lines)
