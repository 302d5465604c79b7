"""Notebook 02's experiment: evaluate a live model and place it among the stored systems.

:func:`run` evaluates and places the model (:func:`clika_utils.placement.evaluate_and_place`:
``summary.csv``, ``methods.csv``) and, for ``lm_eval_streams``, runs the same model through
lm-evaluation-harness on whole streams (:func:`lm_eval_comparison`: ``lm_eval.csv``,
``lm_eval_ranking.csv``). Figures and text are made from these files only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from .. import settings
from ..config import ExperimentConfig
from ..data import TASKS
from ..decide import CHANCE_MARGIN, above_chance
from ..errors import ConfigError
from ..evaluate import evaluate
from ..io import write_json_atomic
from ..langs import LANGS
from ..metrics import rankc_chance, wilson_ci
from ..models import load_model
from ..outdir import system_name
from ..placement import evaluate_and_place, load_placement
from ..provenance import input_hashes, write_result_set
from ..scoring import score_tree

load = load_placement  #: the tables :func:`run` wrote (summary, methods)


def ra_gap_by_method(methods_table: pd.DataFrame) -> pd.DataFrame:
    """Per task and method: mean accuracy over non-English languages relative to English — the
    cross-lingual gap as each method measures it."""
    rows = []
    accs = [c for c in methods_table.columns if c.startswith("acc_")]
    for task, sub in methods_table.groupby("task", sort=False):
        en = sub[sub["lang"] == "en"]
        other = sub[sub["lang"] != "en"]
        for col in accs:
            acc_en = float(en[col].iloc[0]) if len(en) else float("nan")
            rows.append({"task": task, "method": col[4:], "acc_en": acc_en, "acc_other_mean": other[col].mean(),
                         "ra_mean": other[col].mean() / acc_en if acc_en else float("nan")})
    return pd.DataFrame(rows)


def findings(summary: pd.DataFrame, methods_table: pd.DataFrame, label: str) -> list[str]:
    """Computed observations: where the live model ranks, and how much the method matters."""
    out = []
    unranked = set(at_chance_systems(summary))
    norm = summary.groupby(["system", "source"])["normalised"].mean().reset_index()
    norm = norm[~norm["system"].isin(unranked)].sort_values("normalised", ascending=False).reset_index(drop=True)
    for row in norm[norm["source"] == "live"].itertuples():
        out.append(f"{row.system}: mean official normalised score {row.normalised:.3f}, rank {row.Index + 1} of "
                   f"{len(norm)} systems above chance in English on some stream, on the same items.")
    for system in sorted(unranked & set(summary.loc[summary["source"] == "live", "system"])):
        out.append(f"{system}: at chance in English on every stream (chance gate: the lower end of English accuracy's "
                   f"95 % CI below chance + {CHANCE_MARGIN:.2f}), so it is not ranked: its scores measure which letter "
                   f"it prefers, not what it knows ({len(unranked)} systems of {summary['system'].nunique()} are).")
    gap = ra_gap_by_method(methods_table)
    n = int(methods_table["n"].min()) if len(methods_table) else 0
    for task, sub in gap.groupby("task", sort=False):
        parts = ", ".join(f"{r.method} {r.acc_en:.2f}→{r.acc_other_mean:.2f}" for r in sub.itertuples())
        out.append(f"{task}: English → mean non-English accuracy by method, on the {n} items per stream every method "
                   f"answered: {parts}.")
    if n < 30:
        out.append(f"The methods are compared on {n} items per stream: far too few to tell them apart (one item moves "
                   f"an accuracy by {1 / max(n, 1):.2f}); the comparison shows the protocol, it measures nothing.")
    ranked = summary[(summary["source"] == "live") & (summary["lang"] != "en") & summary["rankc"].notna()]
    for system, sub in ranked.groupby("system", sort=True):
        gated = sub[sub["en_above_chance"].astype(bool)] if "en_above_chance" in sub else sub
        if gated.empty:
            out.append(f"{system}: RankC and en-CO not measurable — at chance in English on every stream with option "
                       "scores: the same ranking in every language is then the same letter preference, not the same "
                       "knowledge.")
            continue
        above = gated[gated["rankc_lo"] > gated["task"].map(rankc_chance_by_task)]
        out.append(f"{system}: RankC (en → l, ranking of all options) mean {gated['rankc'].mean():.2f} over the "
                   f"{len(gated)} (task, language) cells of streams where it is above chance in English "
                   f"({len(sub) - len(gated)} at-chance cells left out), en-CO mean {gated['en_co'].mean():.2f}; in "
                   f"{len(above)} of them the RankC interval lies above what random rankings give.")
    agree = [c for c in methods_table.columns if c.startswith("agree_")]
    for col in agree:
        out.append(f"{col[6:].replace('_', ' vs ', 1)}: the two methods pick the same option on "
                   f"{methods_table[col].mean():.0%} of items (mean over streams and languages).")
    return out


def at_chance_systems(summary: pd.DataFrame) -> list[str]:
    """The systems of a scored summary that the chance gate (``en_above_chance``) finds at chance in English on
    every stream they were scored on: a ranking of them would order letter preferences, so figures and findings
    leave them unranked."""
    if "en_above_chance" not in summary:
        return []
    above = summary.assign(g=summary["en_above_chance"].astype(bool)).groupby("system")["g"].any()
    return sorted(above.index[~above])


def rankc_chance_by_task(task: str) -> float:
    """RankC of two independent random rankings of ``task``'s options."""
    return rankc_chance(len(TASKS[task].letters))


def lm_eval_pairs(streams: list[str], dtype: str) -> list[tuple[str, str]]:
    """(task, language) of each of ``lm_eval_streams``, checked with the dtype before any work."""
    if dtype == "bf16-autocast":
        raise ConfigError("the lm-eval comparison needs dtype float32, bfloat16 or auto (lm-eval has no autocast)")
    pairs = []
    for s in streams:
        task, _, lang = s.partition("/")
        if task not in TASKS or lang not in LANGS:
            raise ConfigError(f"lm_eval_streams: {s!r} is not task/lang with a task of {list(TASKS)} and a "
                              f"language of {list(LANGS)}")
        pairs.append((task, lang))
    return pairs


def lm_eval_comparison(model: str, data_dir, live_dir, work_dir, results_dir, *, label: str, streams: list[str],
                       batch_size: int = 16, dtype: str = "float32", seed: int = 0, n_boot: int = 1000,
                       parameters: dict | None = None) -> dict[str, Path]:
    """The same model through lm-evaluation-harness and through ``clika evaluate --method letter`` on
    whole (task, language) streams (``streams``: ``["x_geo/en", …]``): export the streams, run
    ``lm_eval --model hf`` on the model's local checkpoint (every task x language of the streams' grid),
    import its samples, evaluate ours on the same
    items, and write ``lm_eval.csv`` (per stream: items, both accuracies, prediction agreement, lm-eval's
    version) and ``lm_eval_ranking.csv`` (every stored system and both live runs, scored on those
    streams). Wall-clock seconds (model loading included) go to ``<work_dir>/timing.json``, not to the
    results, which stay byte-identical across reruns. An existing lm-eval output is reused."""
    import time
    from importlib import metadata

    from .. import lmeval
    from ..models import placement, resolve

    device, dtype = placement("auto", dtype)         # the peer runs where and as ours does ("auto" made concrete)
    pairs = lm_eval_pairs(streams, dtype)
    tasks, langs = sorted({t for t, _ in pairs}), sorted({lang for _, lang in pairs})
    pairs = [(t, lang) for t in tasks for lang in langs]     # the export is a task x language grid: run all of it
    work_dir = Path(work_dir)
    version = metadata.version("lm_eval")
    ours_sys, lm_sys = system_name(label, "letter-all-items"), system_name(label, "lm-eval")
    timing_file = work_dir / "timing.json"
    out = work_dir / "out"
    fresh = not (timing_file.exists() and out.exists() and any(out.rglob("samples_clika_*.jsonl")))
    if fresh:
        import shutil
        shutil.rmtree(out, ignore_errors=True)          # a run without its timing record is redone whole
        lmeval.export(data_dir, work_dir / "tasks", tasks=tasks, langs=langs, overwrite=True)
        cli = Path(sys.executable).parent / "lm_eval"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        t0 = time.perf_counter()
        subprocess.run([str(cli), "--model", "hf", "--model_args", f"pretrained={resolve(model)},dtype={dtype}",
                        "--include_path", str(work_dir / "tasks"), "--tasks", "clika", "--log_samples",
                        "--output_path", str(out),
                        "--device", device, "--batch_size", str(batch_size), "--seed", str(seed)],
                       check=True, env=env, capture_output=True)
        write_json_atomic(timing_file, {"lm_eval_seconds": round(time.perf_counter() - t0, 1), "lm_eval": version})
    lmeval.import_samples(out, data_dir, live_dir, system=lm_sys, model=model, overwrite=True)
    t0 = time.perf_counter()
    lm = load_model(model, device=device, dtype=dtype)
    for task, lang in pairs:
        evaluate(lm, data_dir, live_dir, tasks=[task], langs=[lang], method="letter", system=ours_sys,
                 batch_size=batch_size, progress=False)
    ours_s = round(time.perf_counter() - t0, 1)
    timing = json.loads(timing_file.read_text(encoding="utf-8"))
    if fresh:              # wall clock, not a result; a rerun (both sides cached) keeps the first record
        write_json_atomic(timing_file, {**timing, "clika_letter_seconds": ours_s})
    live = score_tree(live_dir, systems=[ours_sys, lm_sys], tasks=tasks, langs=langs, n_boot=n_boot, seed=seed)
    ranking = pd.concat([live.summary.assign(source="live"),
                         score_tree(data_dir, tasks=tasks, langs=langs, n_boot=n_boot, seed=seed).summary
                         .assign(source="stored")], ignore_index=True)
    ranking = ranking[[(t, lang) in set(pairs) for t, lang in zip(ranking.task, ranking.lang)]]
    acc = live.summary.set_index(["system", "task", "lang"])["accuracy"]   # the official judge, as scored
    pred = live.items.set_index(["system", "task", "lang", "item_id"])["prediction"]
    rows = []
    for task, lang in pairs:
        a, b = pred.loc[(ours_sys, task, lang)], pred.loc[(lm_sys, task, lang)]
        if list(a.index) != list(b.index):
            raise ConfigError(f"{task}/{lang}: the two runs cover different items")
        rows.append({"task": task, "lang": lang, "n": len(a), "acc_clika": acc[(ours_sys, task, lang)],
                     "acc_lm_eval": acc[(lm_sys, task, lang)], "agreement": float((a == b).mean()),
                     "lm_eval_version": timing["lm_eval"]})
    params = {"model": model, "label": label, "streams": list(streams), "dtype": dtype, "batch_size": batch_size,
              "n_boot": n_boot, **(parameters or {}), "lm_eval": timing["lm_eval"]}
    inputs = input_hashes(sorted(Path(live_dir).rglob(f"{lm_sys}_res.jsonl")), root=live_dir)
    return write_result_set(results_dir, {"lm_eval.csv": pd.DataFrame(rows), "lm_eval_ranking.csv": ranking},
                            parameters=params, seed=seed, inputs=inputs)


def lm_eval_timing(work_dir) -> dict:
    """The wall-clock record of :func:`lm_eval_comparison` (seconds, model loading included; lm-eval's
    version), or an empty dict when the comparison has not run."""
    path = Path(work_dir) / "timing.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def lm_eval_tables(written: dict) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The per-stream comparison table, each system's mean accuracy on those streams (``value``, with its 95 %
    CI ``lo``/``hi`` when one stream is compared; a mean over several streams has none stored) and their mean
    chance level (accuracy, not the normalised score: the normalisation clips everything below chance to 0)."""
    table = pd.read_csv(written["lm_eval.csv"])
    ranking = pd.read_csv(written["lm_eval_ranking.csv"])
    chance = float(ranking.drop_duplicates(["task", "lang"]).task.map(lambda t: TASKS[t].chance).mean())
    by = ranking.groupby("system")
    ranked = pd.DataFrame({"value": by["accuracy"].mean(), "lo": by["accuracy_lo"].mean(), "hi": by["accuracy_hi"].mean()})
    ranked.loc[by.size() > 1, ["lo", "hi"]] = float("nan")
    gate = [above_chance(lo, TASKS[t].chance) for lo, t in zip(ranking["accuracy_lo"], ranking["task"])]
    ranked["above_chance"] = ranking.assign(g=gate).groupby("system")["g"].all()   # on every compared stream
    return table, ranked, chance


def methods_long(methods_table: pd.DataFrame) -> pd.DataFrame:
    """The methods table (``acc_<method>`` over the ``n`` items every method answered) as one row per task,
    language and method with the accuracy and its 95 % Wilson interval (the counts are all that is stored)."""
    rows = []
    for method in ("generate", "letter", "text"):
        col = f"acc_{method}"
        if col not in methods_table:
            continue
        k = methods_table[col] * methods_table["n"]
        lo, hi = wilson_ci(k.round(), methods_table["n"])
        rows.append(methods_table[["task", "lang", "n"]].assign(method=method, value=methods_table[col], lo=lo, hi=hi))
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 02's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "02_live_evaluation"

    profile: str
    data_dir: str
    model: str
    label: str
    limits: dict
    tasks: list
    langs: list
    batch_size: int
    max_new_tokens: int
    num_beams: int
    dtype: str
    num_processes: int
    n_boot: int
    seed: int
    live_dir: str
    lm_eval_streams: list
    lm_eval_dir: str
    render_only: bool
    results_dir: str
    figures_dir: str


def run(config: Config, *, progress: bool = True) -> dict[str, Path]:
    """Notebook 02: evaluate and place the model; with ``lm_eval_streams``, also the lm-evaluation-harness
    comparison. Returns every results file written."""
    c = config
    root, live_dir, results = settings.clika_dir(c.data_dir), c.path("live_dir"), c.path("results_dir")
    lm_eval_pairs(c.lm_eval_streams, c.dtype)                     # a wrong stream or dtype before any work
    written = evaluate_and_place(c.model, root, live_dir, results, label=c.label, limits=c.limits, tasks=c.tasks,
                                 langs=c.langs, batch_size=c.batch_size, max_new_tokens=c.max_new_tokens,
                                 num_beams=c.num_beams, dtype=c.dtype, num_processes=c.num_processes, n_boot=c.n_boot,
                                 seed=c.seed, parameters=c.record(), progress=progress)
    if c.lm_eval_streams:
        written.update(lm_eval_comparison(c.model, root, live_dir, c.path("lm_eval_dir"), results,
                                          label=c.label, streams=c.lm_eval_streams, batch_size=c.batch_size,
                                          dtype=c.dtype, n_boot=c.n_boot, seed=c.seed, parameters=c.record()))
    return written
