"""Score a CLiKA data tree: every result file -> per-item table and per (system, task, lang) summary.

This is what ``clika score`` and notebook 01 run; live evaluations written in the official result
format are scored by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import judge as judge_mod
from .data import TASKS, Inventory, ResultTable, check_aligned, discover, load_result_file, model_input_path
from .errors import ConfigError, warn
from .langs import LANGS, check_langs
from .metrics import CO_VARIANTS, RA_VARIANTS, bootstrap_weights, lang_metrics, normalised_score, rankc_metrics

SUMMARY_COLUMNS = [
    "system", "task", "lang", "n", "n_correct", "accuracy", "accuracy_lo", "accuracy_hi",
    "ra", "ra_lo", "ra_hi", "en_co", "en_co_lo", "en_co_hi", "co_kappa", "co_kappa_lo",
    "co_kappa_hi", "rankc", "rankc_lo", "rankc_hi", "normalised",
    "n_unparsed", "complete", "en_above_chance",
]
SCORE_FILES = ("items.csv", "summary.csv", "systems.csv")  #: what :func:`write_scores` writes
ITEM_COLUMNS = ["system", "task", "lang", "item_id", "label", "prediction", "correct"]


@dataclass
class ScoreResult:
    items: pd.DataFrame
    summary: pd.DataFrame
    inventory: Inventory
    settings: dict


def score_tree(root, *, judge: str = "official", ra_variant: str = "ratio", co_variant: str = "jaccard",
               n_boot: int = 1000, seed: int = 0, ci_level: float = 0.95, tasks=None, langs=None,
               systems=None, limit: int | None = None) -> ScoreResult:
    """Score every primary result file under ``root`` (a CLiKA folder).

    English is always loaded (RA, en-CO and RankC are relative to it). RankC is computed for systems
    whose result files store option scores (live ``letter``/``text`` runs), NaN for the others. A system missing some folders is
    scored where present and marked ``complete=False``. Items must align across all files of a task
    (same ids, labels, uuids), else DataError. ``limit``: score only the first ``limit`` items (by id)
    of every file — what ``clika evaluate --limit`` covers — so live and stored systems share items.
    """
    if judge not in judge_mod.JUDGES:
        raise ConfigError(f"unknown judge {judge!r}; expected one of {judge_mod.JUDGES}")
    if ra_variant not in RA_VARIANTS or co_variant not in CO_VARIANTS:
        raise ConfigError(f"RA variant must be one of {RA_VARIANTS}, en-CO variant one of {CO_VARIANTS}")
    if n_boot < 1 or not 0 < ci_level < 1:
        raise ConfigError("n_boot must be >= 1 and ci_level in (0, 1)")
    langs = check_langs(set(langs) | {"en"}) if langs else LANGS
    inv = discover(root, tasks=tasks, langs=langs, systems=systems)
    incomplete = inv.incomplete_systems()
    item_frames, summary_rows = [], []
    for task, spec in TASKS.items():
        task_files = [f for f in inv.files if f.task == task]
        if not task_files:
            continue
        tables = [_first(load_result_file(f), limit) for f in task_files]
        ref = next((t for t in tables if t.file.lang == "en"), tables[0])
        for t in tables:
            check_aligned(ref, t)
        if not limit:
            _warn_if_items_missing(root, inv, task, len(ref.ids))
        weights = bootstrap_weights(len(ref.ids), n_boot, seed, task)
        options = set(spec.letters)  # a set: "" (empty answer) must not count as an option
        by_system: dict[str, list[ResultTable]] = {}
        for t in tables:
            by_system.setdefault(t.file.system, []).append(t)
        for system, sys_tables in by_system.items():
            sys_tables.sort(key=lambda t: LANGS.index(t.file.lang))
            preds = [[judge_mod.predict(r, judge) for r in t.res] for t in sys_tables]
            correct = np.array([[p == g for p, g in zip(pr, t.labels)] for pr, t in zip(preds, sys_tables)])
            lang_list = [t.file.lang for t in sys_tables]
            en_row = lang_list.index("en") if "en" in lang_list else None
            m = lang_metrics(correct, en_row, weights, chance=spec.chance, ra_variant=ra_variant,
                             co_variant=co_variant, level=ci_level)
            m.update(rankc_metrics([None if t.scores is None else np.asarray(t.scores, float) for t in sys_tables],
                                   en_row, weights, level=ci_level))
            norm = normalised_score(m["accuracy"], spec.chance, spec.official_ref)
            for i, (t, pr) in enumerate(zip(sys_tables, preds)):
                summary_rows.append({
                    "system": system, "task": task, "lang": t.file.lang, "n": len(t.ids),
                    "n_correct": int(correct[i].sum()),
                    **{k: float(v[i]) for k, v in m.items()},
                    "normalised": float(norm[i]),
                    "n_unparsed": sum(p not in options for p in pr),
                    "complete": system not in incomplete,
                })
                item_frames.append(pd.DataFrame({
                    "system": system, "task": task, "lang": t.file.lang, "item_id": t.ids,
                    "label": t.labels, "prediction": pr, "correct": correct[i].astype(int)}))
    if not summary_rows:
        raise ConfigError(f"no result files found under {root} for the requested tasks/languages/systems")
    summary = pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS[:-1])
    summary["en_above_chance"] = above_chance_cells(summary)
    order = {"task": list(TASKS), "lang": list(LANGS)}
    summary = _sort(summary, order)
    items = _sort(pd.concat(item_frames, ignore_index=True)[ITEM_COLUMNS], order, extra=["item_id"])
    settings = {"limit": limit, "judge": judge, "ra_variant": ra_variant, "co_variant": co_variant, "n_boot": n_boot,
                "seed": seed, "ci_level": ci_level}
    return ScoreResult(items, summary, inv, settings)


def above_chance_cells(summary: pd.DataFrame) -> pd.Series:
    """Per row of a summary: is its system above chance in English on its task (the chance gate,
    :func:`clika_utils.decide.above_chance`, on the English row's ``accuracy_lo``)? False where the system has no
    English row or the task no known chance level."""
    from .decide import above_chance
    en = summary[summary["lang"] == "en"].set_index(["system", "task"])["accuracy_lo"]
    lo = en.reindex(list(zip(summary["system"], summary["task"]))).to_numpy(float)
    return pd.Series([above_chance(b, TASKS[t].chance if t in TASKS else float("nan"))
                      for b, t in zip(lo, summary["task"])], index=summary.index, dtype=bool)


def _warn_if_items_missing(root, inv: Inventory, task: str, n_scored: int) -> None:
    """Every result file of a task may lack the same items (they still align): compare with the task's
    model-input file, where the data tree has one, and say so."""
    folder = inv.lang_folders.get(task, {}).get("en")
    path = model_input_path(root, task, folder) if folder is not None else None
    if path is None or not path.exists():
        return
    n_inputs = sum(1 for line in path.read_text(encoding="utf-8").split("\n") if line.strip())
    if n_scored < n_inputs:
        warn(f"{task}: the result files hold {n_scored} items but {path.name} has {n_inputs}: "
             f"{n_inputs - n_scored} item(s) are missing from every file and are not scored")


def _first(table: ResultTable, limit: int | None) -> ResultTable:
    if not limit:
        return table
    return ResultTable(table.file, table.ids[:limit], table.labels[:limit], table.res[:limit], table.uuids[:limit],
                       None if table.scores is None else table.scores[:limit])


def _sort(df: pd.DataFrame, order: dict, extra=()) -> pd.DataFrame:
    keys = {c: df[c].map({v: i for i, v in enumerate(vals)}) for c, vals in order.items()}
    tmp = df.assign(_t=keys["task"], _l=keys["lang"])
    tmp = tmp.sort_values(["system", "_t", "_l", *extra], kind="mergesort")
    return tmp.drop(columns=["_t", "_l"]).reset_index(drop=True)


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


def write_scores(result: ScoreResult, results_dir, *, parameters: dict | None = None, seed: int = 0,
                 extra: dict[str, pd.DataFrame] | None = None) -> dict:
    """Write ``items.csv``, ``summary.csv`` and ``systems.csv`` of ``result`` (and the ``extra`` tables: file
    name -> table) all-or-nothing with provenance (inputs: the scored files; parameters: the scoring settings,
    then ``parameters``)."""
    from .provenance import input_hashes, write_result_set
    from .settings import portable

    inputs = input_hashes([f.path for f in result.inventory.files], root=result.inventory.root)
    params = {**result.settings, **(parameters or {})}
    tables = dict(zip(SCORE_FILES, (result.items, result.summary, systems_table(result)))) | dict(extra or {})
    return write_result_set(Path(results_dir), tables,
                            parameters=params, seed=seed, inputs=inputs, extra={"data_root": portable(result.inventory.root)})


def load_scores(results_dir) -> dict[str, pd.DataFrame]:
    """The results tables written by :func:`write_scores`, keyed by file stem."""
    results_dir = Path(results_dir)
    # systems.csv has no numeric gaps; reading it without NA parsing keeps "missing" == "" for complete systems
    return {name[:-4]: pd.read_csv(results_dir / name, keep_default_na=(name != "systems.csv"))
            for name in SCORE_FILES}
