"""Benchmark: clika_utils's `letter` evaluation vs lm-evaluation-harness 0.4.13, same model, same items,
same prompts, same machine, one run.

The peer is lm-eval's `hf` model on the local Gemma-3-270M checkpoint (the safetensors folder the
registry caches) with a custom `multiple_choice` task whose documents are the official CLiKA prompts
and whose choices are the option letters (target delimiter ""), i.e. the same question: which
letter is the most likely next token after "Answer:".

Reported: items/s of each (model loading excluded for both, measured separately), the ratio, and
per-item agreement of the predicted letters, with every disagreement listed with both systems'
score margins. Results: benchmarks/results/eval_vs_lmeval.{json,csv} (+ provenance sidecars).

The physical floor, measured in the same run: one forward pass of the model body over only the
item-specific suffix tokens of every prompt (what follows the prefix all prompts of a task and
language share: the instruction and the worked example), in the same batches, with no prefix, no
LM head and no softmax — less work than any exact scorer can do. ``ratio_to_floor`` = a system's
scoring time / the floor's.

Run: bash benchmarks/run.sh   (creates benchmarks/.venv with lm_eval; needs $CLIKA_DATA_HOME)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from clika_utils.data import TASKS  # noqa: E402
from clika_utils.evaluate import Engine, letter_token_ids, task_items  # noqa: E402
from clika_utils.io import write_csv_atomic, write_json_atomic  # noqa: E402
from clika_utils.langs import LANGS  # noqa: E402
from clika_utils.models import ensure_registry_model, load_model  # noqa: E402
from clika_utils.provenance import input_hashes, write_sidecar  # noqa: E402
from clika_utils.settings import clika_dir  # noqa: E402
from floor import body_seconds, padded_batches  # noqa: E402

HERE = Path(__file__).resolve().parent


def build_items(root, tasks, langs, limit):
    rows = []
    for task in tasks:
        letters = TASKS[task].letters
        for lang in langs:
            for it in task_items(root, task, lang, limit):
                rows.append({"task": task, "lang": lang, "item_id": it.item_id, "prompt": it.prompt,
                             "choices": list(letters), "gold": letters.index(it.label)})
    return rows


def run_ours(model_path, rows, dtype, batch_size):
    t0 = time.perf_counter()
    lm = load_model(model_path, dtype=dtype)
    load_s = time.perf_counter() - t0
    engine = Engine(lm, batch_size=batch_size)
    preds, margins = [], []
    t0 = time.perf_counter()
    groups = {}
    for i, r in enumerate(rows):
        groups.setdefault((r["task"], r["lang"]), []).append(i)
    out = [None] * len(rows)
    for (task, _), idx in groups.items():
        letters = TASKS[task].letters
        lp = engine.letter_logprobs([rows[i]["prompt"] for i in idx], letter_token_ids(lm.tokenizer, letters))
        for i, scores in zip(idx, lp.tolist()):
            out[i] = scores
    score_s = time.perf_counter() - t0
    for scores in out:
        order = sorted(range(len(scores)), key=lambda k: -scores[k])
        preds.append(order[0])
        margins.append(scores[order[0]] - scores[order[1]])
    return {"load_s": load_s, "score_s": score_s, "pred": preds, "margin": margins}


def run_floor(model_path, rows, batch_size):
    """Seconds of one fp32 body forward over the item-specific suffixes only (see the module doc), and
    the suffix and whole-prompt token counts."""
    from clika_utils.evaluate import _common_prefix

    lm = load_model(model_path, dtype="float32")
    engine = Engine(lm, batch_size=batch_size)
    groups = {}
    for r in rows:
        groups.setdefault((r["task"], r["lang"]), []).append(engine.encode(r["prompt"]))
    batches, n_suffix, n_all = [], 0, 0
    for toks in groups.values():
        n = _common_prefix(toks)
        suffixes = [t[n:] for t in toks]
        n_suffix += sum(len(s) for s in suffixes)
        n_all += sum(len(t) for t in toks)
        batches += padded_batches(suffixes, batch_size, lm.tokenizer.pad_token_id)
    return {"score_s": body_seconds(engine, batches), "suffix_tokens": n_suffix, "prompt_tokens": n_all}


def run_lmeval(model_path, rows, dtype, batch_size, work: Path):
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    work.mkdir(parents=True, exist_ok=True)
    data = work / "items.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (work / "clika_bench.yaml").write_text(
        "task: clika_bench\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "doc_to_text: prompt\n"
        "doc_to_choice: choices\n"
        "doc_to_target: gold\n"
        "target_delimiter: \"\"\n"
        "metric_list:\n  - metric: acc\n", encoding="utf-8")
    t0 = time.perf_counter()
    lm = HFLM(pretrained=model_path, dtype=dtype, batch_size=batch_size, device="cpu")
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = lm_eval.simple_evaluate(model=lm, tasks=["clika_bench"], task_manager=TaskManager(include_path=str(work)),
                                  log_samples=True, batch_size=batch_size, device="cpu")
    score_s = time.perf_counter() - t0
    samples = sorted(res["samples"]["clika_bench"], key=lambda s: s["doc_id"])
    preds, margins = [], []
    for s in samples:
        lls = [r[0] for r in s["filtered_resps"]]
        order = sorted(range(len(lls)), key=lambda k: -lls[k])
        preds.append(order[0])
        margins.append(lls[order[0]] - lls[order[1]])
    return {"load_s": load_s, "score_s": score_s, "pred": preds, "margin": margins,
            "version": lm_eval.__version__ if hasattr(lm_eval, "__version__") else "0.4.13"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="x_geo,x_name")
    ap.add_argument("--limit", type=int, default=20, help="first N items per (task, language)")
    ap.add_argument("--batch-size", type=int, default=16, help="for both systems")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    root = clika_dir()
    tasks = args.tasks.split(",")
    rows = build_items(root, tasks, LANGS, args.limit)
    model_path = str(ensure_registry_model("gemma-3-270m"))
    n = len(rows)
    print(f"{n} items ({', '.join(tasks)} x {len(LANGS)} languages x first {args.limit}); model {model_path}")
    runs = {}
    runs["lm-eval (float32, HF default)"] = run_lmeval(model_path, rows, "float32", args.batch_size, HERE / "work")
    runs["clika letter (float32, default)"] = run_ours(model_path, rows, "float32", args.batch_size)
    runs["clika letter (bf16 autocast)"] = run_ours(model_path, rows, "bf16-autocast", args.batch_size)
    peer = runs["lm-eval (float32, HF default)"]
    floor = run_floor(model_path, rows, args.batch_size)
    print(f"floor: body forward over {floor['suffix_tokens']} item-specific suffix tokens "
          f"(of {floor['prompt_tokens']} prompt tokens): {floor['score_s']:.2f} s")
    table, disagreements = [], []
    for name, r in runs.items():
        agree = sum(a == b for a, b in zip(r["pred"], peer["pred"]))
        table.append({"system": name, "items": n, "load_s": round(r["load_s"], 2), "score_s": round(r["score_s"], 2),
                      "items_per_s": round(n / r["score_s"], 3),
                      "speedup_vs_lm_eval": round(peer["score_s"] / r["score_s"], 2),
                      "ratio_to_floor": round(r["score_s"] / floor["score_s"], 2),
                      "agreement_with_lm_eval": round(agree / n, 4), "accuracy": round(
                          sum(p == row["gold"] for p, row in zip(r["pred"], rows)) / n, 4)})
        if r is not peer:
            for i, (a, b) in enumerate(zip(r["pred"], peer["pred"])):
                if a != b:
                    row = rows[i]
                    disagreements.append({"system": name, "task": row["task"], "lang": row["lang"],
                                          "item_id": row["item_id"], "ours": row["choices"][a],
                                          "lm_eval": row["choices"][b], "our_margin": round(r["margin"][i], 5),
                                          "lm_eval_margin": round(peer["margin"][i], 5)})
    df = pd.DataFrame(table)
    print(df.to_string(index=False))
    if disagreements:
        print(pd.DataFrame(disagreements).to_string(index=False))
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch_threads": torch.get_num_threads()},
            "tasks": tasks, "limit": args.limit, "batch_size": args.batch_size, "model": "gemma-3-270m",
            "floor": {"what": "fp32 body forward over the item-specific suffix tokens only, same batches",
                      "score_s": round(floor["score_s"], 2), "suffix_tokens": floor["suffix_tokens"],
                      "prompt_tokens": floor["prompt_tokens"]},
            "table": table, "disagreements": disagreements}
    json_path = write_json_atomic(args.out / "eval_vs_lmeval.json", meta)
    csv_path = write_csv_atomic(df, args.out / "eval_vs_lmeval.csv")
    inputs = input_hashes([p for t in tasks for p in (root / t).glob(f"{t}_*_model_input.jsonl")], root=root)
    for p in (json_path, csv_path):
        write_sidecar(p, kind="benchmark", parameters=vars(args) | {"out": str(args.out)}, seed=0, inputs=inputs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
