"""Notebook 01's experiment: Performance (accuracy, RA) and Consistency (en-CO) of the stored systems.

:func:`run` scores the data and writes tidy results with provenance; :func:`load` reads them back;
figures and :func:`findings` work from the loaded results only.

Results written to ``results_dir``:
* ``items.csv``      system, task, lang, item_id, label, prediction, correct
* ``summary.csv``    one row per (system, task, lang): accuracy, RA, en-CO with CIs, normalised score
* ``systems.csv``    one row per system: files found, completeness, unparsed answers
each with ``<file>.provenance.json``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .data import TASKS
from .langs import LANG_NAMES, LANGS
from .provenance import input_hashes, write_result_set
from .scoring import score_tree

RESULT_FILES = ("items.csv", "summary.csv", "systems.csv")


def systems_table(result) -> pd.DataFrame:
    """Per system: result files found, missing folders, unparsed answers, completeness."""
    inv, s = result.inventory, result.summary
    missing = inv.incomplete_systems()
    rows = []
    for system in inv.systems:
        sub = s[s["system"] == system]
        rows.append({"system": system, "n_files": len(sub), "n_missing": len(missing.get(system, [])),
                     "missing": ";".join(f"{t}/{l_}" for t, l_ in missing.get(system, [])),
                     "n_items": int(sub["n"].sum()), "n_unparsed": int(sub["n_unparsed"].sum()),
                     "complete": system not in missing})
    return pd.DataFrame(rows)


def run(data_dir, results_dir, *, judge="official", ra_variant="ratio", co_variant="jaccard", n_boot=1000,
        seed=0, systems=None, tasks=None, langs=None, limit=None, parameters: dict | None = None) -> dict[str, Path]:
    """Score ``data_dir`` and write the results files (atomically) with provenance sidecars."""
    result = score_tree(data_dir, judge=judge, ra_variant=ra_variant, co_variant=co_variant, n_boot=n_boot,
                        seed=seed, systems=systems or None, tasks=tasks or None, langs=langs or None,
                        limit=limit or None)
    results_dir = Path(results_dir)
    inputs = input_hashes([f.path for f in result.inventory.files], root=result.inventory.root)
    params = {**(parameters or {}), **result.settings}
    return write_result_set(results_dir, {"items.csv": result.items, "summary.csv": result.summary,
                                          "systems.csv": systems_table(result)},
                            parameters=params, seed=seed, inputs=inputs, extra={"data_root": str(result.inventory.root)})


def load(results_dir) -> dict[str, pd.DataFrame]:
    """The results tables written by :func:`run`, keyed by file stem."""
    results_dir = Path(results_dir)
    # systems.csv has no numeric gaps; reading it without NA parsing keeps "missing" == "" for complete systems
    return {name[:-4]: pd.read_csv(results_dir / name, keep_default_na=(name != "systems.csv"))
            for name in RESULT_FILES}


def pivot(summary: pd.DataFrame, task: str, value: str) -> pd.DataFrame:
    """system x language table of ``value`` for one task (languages in canonical order)."""
    sub = summary[summary["task"] == task]
    table = sub.pivot(index="system", columns="lang", values=value)
    return table[[lang for lang in LANGS if lang in table.columns]]


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

