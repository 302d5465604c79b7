"""A live model placed among the stored systems (what notebook 02 and the tour do).

:func:`evaluate_and_place` evaluates the model with each method on the first ``limits[method]`` items
of every stream (results in the official layout under ``live_dir``), scores the live systems and the
stored ones on exactly those items, and writes tidy results with provenance:

* ``summary.csv``   (system, task, lang) rows for live and stored systems, ``source`` = live | stored;
                    RankC (en → l) for the live systems whose methods store option scores
* ``methods.csv``   per (task, lang): accuracy under each method on the items every method covered,
                    and how often two methods predict the same option
"""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pandas as pd

from .data import TASKS, discover, load_result_file
from .evaluate import METHODS, evaluate
from .judge import official_prediction
from .langs import LANGS
from .models import load_model
from .outdir import system_name
from .provenance import input_hashes, write_result_set
from .scoring import score_tree

RESULT_FILES = ("summary.csv", "methods.csv")


def launch_command(num_processes: int, cuda: bool) -> list[str]:
    """The data-parallel launcher: accelerate on GPUs, torchrun for CPU processes."""
    if cuda:
        return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                str(num_processes), "-m"]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(num_processes), "-m"]


def evaluate_and_place(model: str, data_dir, live_dir, results_dir, *, label: str, limits: dict, tasks=None, langs=None,
        batch_size: int = 8, max_new_tokens: int = 5, num_beams: int = 1, dtype: str = "auto",
        num_processes: int = 1, n_boot: int = 1000, seed: int = 0, parameters: dict | None = None,
        progress: bool = True) -> dict[str, Path]:
    """Evaluate ``model`` with every method that has a limit, in this process or, with
    ``num_processes > 1``, data-parallel through ``clika evaluate`` under a launcher."""
    import torch

    tasks = list(tasks or TASKS)
    langs = list(langs or LANGS)
    methods = [m for m in METHODS if limits.get(m)]
    lm = load_model(model, dtype=dtype) if num_processes <= 1 else None
    for method in methods:
        common = dict(tasks=tasks, langs=langs, method=method, system=system_name(label, method),
                      limit=limits[method], batch_size=batch_size, max_new_tokens=max_new_tokens, num_beams=num_beams)
        if lm is not None:
            evaluate(lm, data_dir, live_dir, progress=progress, **common)
            continue
        cmd = launch_command(num_processes, torch.cuda.is_available()) + [
            "clika_utils.cli", "evaluate", "--model", model, "--data-dir", str(data_dir), "--out", str(live_dir),
            "--method", method, "--system", common["system"], "--tasks", ",".join(tasks), "--langs", ",".join(langs),
            "--limit", str(limits[method]), "--batch-size", str(batch_size), "--max-new-tokens", str(max_new_tokens),
            "--num-beams", str(num_beams), "--dtype", dtype]
        subprocess.run(cmd, check=True)
    manifest = json.loads((Path(live_dir) / f"{system_name(label, methods[0])}.eval.json").read_text(encoding="utf-8"))
    # placement: every system scored on the first `place_limit` items, the live ones and the stored ones
    place_method = "letter" if "letter" in methods else methods[0]
    place_limit = limits[place_method]
    live_systems = [system_name(label, m) for m in methods if limits[m] >= place_limit]
    common = dict(n_boot=n_boot, seed=seed, tasks=tasks, langs=langs, limit=place_limit)
    live = score_tree(live_dir, systems=live_systems, **common).summary.assign(source="live")
    stored = score_tree(data_dir, **common).summary.assign(source="stored")
    summary = pd.concat([live, stored], ignore_index=True)
    methods_table = method_agreement(live_dir, label, methods, tasks, langs, min(limits[m] for m in methods))
    results_dir = Path(results_dir)
    # the result files of the systems scored here (the live folder may hold other runs' files too)
    inputs = input_hashes(sorted(p for m in methods for p in Path(live_dir).rglob(f"{system_name(label, m)}_res.jsonl")),
                          root=live_dir)
    inputs.update(input_hashes([f.path for f in discover(data_dir, tasks=tasks, langs=langs).files], root=data_dir))
    params = {"label": label, "limits": limits, "n_boot": n_boot, "model": model, "num_processes": num_processes,
              **(parameters or {}), "model_fingerprint": manifest["fingerprint"], "model_dtype": manifest["dtype"]}
    return write_result_set(results_dir, {"summary.csv": summary, "methods.csv": methods_table},
                            parameters=params, seed=seed, inputs=inputs)


def method_agreement(live_dir, label: str, methods, tasks, langs, n_common: int) -> pd.DataFrame:
    """Per (task, lang): accuracy of each method and pairwise prediction agreement on the first
    ``n_common`` items (official judge for ``generate``; argmax for the log-likelihood methods)."""
    preds: dict[str, dict] = {}
    for method in methods:
        inv = discover(live_dir, tasks=tasks, langs=langs, systems=[system_name(label, method)])
        for f in inv.files:
            t = load_result_file(f)
            preds.setdefault(method, {})[(f.task, f.lang)] = (t.ids[:n_common],
                                                             [official_prediction(r) for r in t.res[:n_common]],
                                                             t.labels[:n_common])
    rows = []
    for task in tasks:
        for lang in langs:
            row = {"task": task, "lang": lang, "n": n_common}
            per = {m: preds[m][(task, lang)] for m in methods}
            for m, (_, p, gold) in per.items():
                row[f"acc_{m}"] = sum(a == g for a, g in zip(p, gold)) / len(gold)
            for a, b in combinations(methods, 2):
                pa, pb = per[a][1], per[b][1]
                row[f"agree_{a}_{b}"] = sum(x == y for x, y in zip(pa, pb)) / len(pa)
            rows.append(row)
    return pd.DataFrame(rows)


def eval_manifests(live_dir) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(live_dir).glob("*.eval.json"))]


def load_placement(results_dir) -> dict[str, pd.DataFrame]:
    results_dir = Path(results_dir)
    return {name[:-4]: pd.read_csv(results_dir / name) for name in RESULT_FILES}
