"""Notebook 01's experiment: Performance (accuracy, RA) and Consistency (en-CO) of the stored systems.

:func:`run` scores the data and writes tidy results with provenance; :func:`load` reads them back;
figures and :func:`findings` work from the loaded results only.

Results written to ``results_dir``:
* ``items.csv``      system, task, lang, item_id, label, prediction, correct
* ``summary.csv``    one row per (system, task, lang): accuracy, RA, en-CO with CIs, normalised score
* ``systems.csv``    one row per system: files found, completeness, unparsed answers
* with the official judge, the look-alike check (:data:`VARIANT_JUDGE`): ``judge_check.csv`` (per system, task and
  language: answers the variant reads differently, accuracy under each judge) and ``summary_lookalike.csv`` (the
  summary under the variant), from which :func:`judge_dependence` decides the claims again
each with ``<file>.provenance.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from .. import claims, decide, settings
from .. import judge as judge_mod
from ..claims import PaperClaim
from ..config import ExperimentConfig
from ..data import TASKS
from ..langs import LANG_NAMES, LANGS
from ..scoring import (
    SCORE_FILES,
    above_chance_cells,
    load_scores,
    score_tree,
    write_scores,
)
from .shared import judge_table

RESULT_FILES = SCORE_FILES  #: the results files every run writes (:func:`clika_utils.scoring.write_scores`)
#: the judge variant checked beside the official one: look-alike letters (Cyrillic "А." for "A.") read as Latin
VARIANT_JUDGE = judge_mod.CHECKED
CHECK_FILES = ("judge_check.csv", f"summary_{VARIANT_JUDGE}.csv")     #: written with the official judge
#: a heatmap cell is marked when the variant reads at least this share of its answers differently
MARK_SHARE = 0.10


def load(results_dir) -> dict[str, pd.DataFrame]:
    """The results tables, keyed by file stem (the judge check's too, where the run wrote them)."""
    out = load_scores(results_dir)
    for name in CHECK_FILES:
        if (Path(results_dir) / name).exists():
            out[name[:-4]] = pd.read_csv(Path(results_dir) / name)
    return out


def judge_check(items: pd.DataFrame, variant: pd.DataFrame) -> pd.DataFrame:
    """Per (system, task, language): items, answers the variant judge reads differently (``changed``) and the
    accuracy under each judge — the same answers, judged twice."""
    keys = ["system", "task", "lang", "item_id"]
    m = items[keys + ["prediction", "correct"]].merge(variant[keys + ["prediction", "correct"]], on=keys,
                                                      suffixes=("", "_variant"), validate="one_to_one")
    m["changed"] = m["prediction"].fillna("") != m["prediction_variant"].fillna("")
    return (m.groupby(["system", "task", "lang"], sort=False)
            .agg(n=("changed", "size"), changed=("changed", "sum"), accuracy=("correct", "mean"),
                 **{f"accuracy_{VARIANT_JUDGE}": ("correct_variant", "mean")}).reset_index())


def marked_cells(check: pd.DataFrame, task: str) -> pd.DataFrame:
    """system × language: True where the variant judge reads at least :data:`MARK_SHARE` of the answers differently."""
    sub = check[check["task"] == task].assign(share=lambda d: d["changed"] / d["n"])
    return sub.pivot(index="system", columns="lang", values="share").fillna(0) >= MARK_SHARE


def judge_summary(check: pd.DataFrame) -> pd.DataFrame:
    """Per system the variant judge reads some answer of differently: how many answers, of how many, the
    (system, task, language) cells marked in the heatmaps, and the accuracy each judge gives over its answers."""
    acc = f"accuracy_{VARIANT_JUDGE}"
    c = check.assign(right=check["accuracy"] * check["n"], right_variant=check[acc] * check["n"],
                     marked=check["changed"] / check["n"] >= MARK_SHARE)
    g = c.groupby("system").agg(changed=("changed", "sum"), answers=("n", "sum"), cells_marked=("marked", "sum"),
                                right=("right", "sum"), right_variant=("right_variant", "sum"))
    g = g[g["changed"] > 0]
    out = pd.DataFrame({"answers read differently": g["changed"].astype(int), "of": g["answers"].astype(int),
                        "cells marked †": g["cells_marked"].astype(int),
                        "accuracy (official)": (g["right"] / g["answers"]).round(3),
                        f"accuracy ({VARIANT_JUDGE})": (g["right_variant"] / g["answers"]).round(3)})
    return out.sort_values("answers read differently", ascending=False)


def execute(data_dir, results_dir, *, judge="official", ra_variant="ratio", co_variant="jaccard", n_boot=1000,
            seed=0, systems=None, tasks=None, langs=None, limit=None, parameters: dict | None = None) -> dict[str, Path]:
    """Score ``data_dir`` and write the results files (atomically) with provenance sidecars; with the official
    judge, score again with :data:`VARIANT_JUDGE` for the judge check (:data:`CHECK_FILES`)."""
    kw = dict(ra_variant=ra_variant, co_variant=co_variant, n_boot=n_boot, seed=seed, systems=systems or None,
              tasks=tasks or None, langs=langs or None, limit=limit or None)
    result = score_tree(data_dir, judge=judge, **kw)
    extra = {}
    if judge == "official":
        variant = score_tree(data_dir, judge=VARIANT_JUDGE, **kw)
        extra = dict(zip(CHECK_FILES, (judge_check(result.items, variant.items), variant.summary)))
    return write_scores(result, results_dir, parameters=parameters, seed=seed, extra=extra)


def pivot(summary: pd.DataFrame, task: str, value: str) -> pd.DataFrame:
    """system x language table of ``value`` for one task (languages in canonical order)."""
    sub = summary[summary["task"] == task]
    table = sub.pivot(index="system", columns="lang", values=value)
    return table[[lang for lang in LANGS if lang in table.columns]]


def accuracy_note(summary: pd.DataFrame, task: str) -> str:
    """The uncertainty of a task's accuracy heatmap in one phrase (the cells are too small for intervals):
    the largest 95 % CI half-width in points and the items per cell."""
    from ..plots import interval_note
    sub = summary[summary["task"] == task]
    return interval_note(100 * (sub["accuracy_hi"] - sub["accuracy_lo"]) / 2, sub["n"])


def normalised_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The official normalised-score table: system x task, mean over the languages of each task,
    plus the mean over tasks (fractions; 1.0 = ChatGPT's English level)."""
    t = summary.pivot_table(index="system", columns="task", values="normalised", aggfunc="mean")
    t = t[[task for task in TASKS if task in t.columns]]
    t["mean"] = t.mean(axis=1)
    return t.sort_values("mean", ascending=False)


def findings(summary: pd.DataFrame) -> list[str]:
    """Plain-language observations computed from the summary (no hard-coded numbers)."""
    s = summary[summary["lang"] != "en"]
    out = []
    by_level = {lvl: s[s["task"].map(lambda t: TASKS[t].level) == lvl] for lvl in ("basic", "factual")}
    for lvl, sub in by_level.items():
        if len(sub):
            out.append(f"{lvl.capitalize()} knowledge ({', '.join(sorted(sub['task'].unique()))}): median RA "
                       f"{sub['ra'].median():.2f}, median en-CO {sub['en_co'].median():.2f} over "
                       f"{sub['system'].nunique()} systems and {sub['lang'].nunique()} non-English languages.")
    lang_ra = s.groupby("lang")["ra"].median().sort_values()
    if len(lang_ra) >= 2:
        lo, hi = lang_ra.index[0], lang_ra.index[-1]
        out.append(f"Lowest median RA: {LANG_NAMES[lo]} ({lang_ra.iloc[0]:.2f}); highest: {LANG_NAMES[hi]} "
                   f"({lang_ra.iloc[-1]:.2f}).")
    en = summary[summary["lang"] == "en"].set_index(["system", "task"])["accuracy"]
    above = s[s["ra_lo"] > 1.0]
    if len(above):
        chance = above["task"].map(lambda t: TASKS[t].chance).to_numpy()
        en_acc = en.reindex(list(zip(above["system"], above["task"]))).to_numpy()
        near = int((en_acc < chance + 0.10).sum())
        out.append(f"{len(above)} of {len(s)} non-English (system, task, language) cells have an RA whose 95% CI "
                   f"lies above 1; in {near} of them English accuracy is within 10 points of chance, where "
                   "the ratio RA is unstable (see the chance-corrected variant).")
    gap = (s["ra"] - s["en_co"]).median()
    out.append(f"en-CO is below RA in the median cell by {gap:.2f}: a language can match English accuracy "
               "while getting different items right, so Consistency is the stricter level.")
    both = s[["ra", "en_co"]].dropna()
    if len(both) > 2:
        rho = both.rank().corr().iloc[0, 1]
        out.append(f"Across cells, RA and en-CO are rank-correlated at Spearman ρ = {rho:.2f}.")
    return out


def anchors(summary: pd.DataFrame, system: str = "chatgpt") -> pd.DataFrame:
    """English accuracy of ``system`` per task next to the official normalisation constant."""
    sub = summary[(summary["system"] == system) & (summary["lang"] == "en")].set_index("task")
    return pd.DataFrame({"accuracy_en": sub["accuracy"],
                         "official_ref": [TASKS[t].official_ref for t in sub.index]},
                        index=sub.index).reindex([t for t in TASKS if t in sub.index])


# ----------------------------------------------------------------------------------------------
# the papers' claims this notebook measures


CLAIMS = [
    PaperClaim(key="pf", paper="CLiKA", statement="LLMs are less accurate in non-English languages than in English "
               "(RA < 1)", metric="RA", expected="decrease", source="summary.csv", null=1.0,
               headline="Non-English answers are less accurate than English ones (RA < 1)"),
    PaperClaim(key="ct", paper="CLiKA", statement="Knowledge is less consistent across languages than the accuracies "
               "allow (en-CO beyond chance below 0.5)", metric="en-CO beyond chance (κ/κ_max)", expected="decrease",
               source="summary.csv", null=0.5,
               headline="Knowledge is less consistent across languages than the accuracies allow (en-CO beyond "
                        "chance < 0.5)"),
]


def measurable_cells(summary: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The non-English (system, task, language) cells of the stored systems that pass the chance gate (the
    system's English accuracy on the task above chance, :func:`clika_utils.scoring.above_chance_cells`), and how
    many non-English cells the gate left out."""
    keep = above_chance_cells(summary) & (summary.lang != "en")
    return summary[keep], int(((summary.lang != "en") & ~keep).sum())


def claim_rows(results_dir) -> list[dict]:
    """Both claims over the stored non-English (system, language, stream) cells that pass the chance gate; the
    systems are the resampling unit (a cluster bootstrap: the 42 systems are a sample of the models one could
    have scored, and the cells of one system are not independent)."""
    s = claims.read(results_dir, "summary")
    if s is None:
        return claims.not_run(CLAIMS, Config.NOTEBOOK)
    return _claim_rows(s)


def judge_dependence(results_dir) -> pd.DataFrame:
    """Each claim decided on the official summary and again on :data:`VARIANT_JUDGE`'s: whether a stored verdict
    depends on reading look-alike letters (empty when the run wrote no judge check)."""
    s, v = claims.read(results_dir, "summary"), claims.read(results_dir, f"summary_{VARIANT_JUDGE}")
    if s is None or v is None:
        return pd.DataFrame()
    return judge_table(pd.DataFrame(_claim_rows(s)), pd.DataFrame(_claim_rows(v)), value="measured")


def _claim_rows(s: pd.DataFrame) -> list[dict]:
    nb = Config.NOTEBOOK
    pf, ct = CLAIMS
    cells, gated = measurable_cells(s)
    gate = (f"{gated} cells left out by the chance gate (English accuracy not above chance + "
            f"{decide.CHANCE_MARGIN:g})")
    rows = []
    for claim, metric, what in ((pf, "ra", "RA"), (ct, "co_kappa", "en-CO beyond chance")):
        part = cells[cells[metric].notna()]
        m, summary = claims.mean_summary(part[metric].to_numpy(), groups=part.system.to_numpy())
        k = part.system.nunique()
        rows.append(claims.row(claim, nb, f"mean {what} {m:.3f} over {len(part)} cells of {k} stored systems",
                               claims.judge(claim, m, summary, metric, units=k, unit="systems"), source="stored",
                               metric=metric, n=k,
                               note=f"cluster bootstrap over systems; effect = {what} − {claim.null:g}; {gate}"))
    return rows


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 01's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "01_performance_consistency"

    profile: str
    data_dir: str
    render_only: bool
    results_dir: str
    figures_dir: str
    systems: list
    tasks: list
    judge: str
    ra_variant: str
    co_variant: str
    n_boot: int
    seed: int


def run(config: Config) -> dict[str, Path]:
    """Score every stored system as notebook 01 does; writes :data:`RESULT_FILES` with the config."""
    c = config
    return execute(settings.clika_dir(c.data_dir), c.path("results_dir"), judge=c.judge,
                   ra_variant=c.ra_variant, co_variant=c.co_variant, n_boot=c.n_boot, seed=c.seed, systems=c.systems,
                   tasks=c.tasks, parameters=c.record())
