"""Benchmark: the training engine's supervised-positions LM head vs transformers' standard loss.

Same LoRA job on Gemma-3-270M (262,144-row vocabulary), same data (the conductivity notebook's `cpu`
training set for one target language), same seed, same machine, one run. The peer is transformers'
own loss path (``model(..., labels=...)``: logits at every position, then cross-entropy over the
supervised ones), selected with ``head="full"`` in the same loop, so the loop, data order and
optimiser are identical and only the loss computation differs.

Reported: tokens/s of each (all input tokens per second, the first step excluded as warm-up), the
ratio, and the per-step loss agreement. Results: benchmarks/results/train_head.{json,csv} with
provenance sidecars.

Run: .venv/bin/python benchmarks/bench_train_head.py   (or bash benchmarks/run.sh train)
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from clika_utils import conductivity as cd  # noqa: E402
from clika_utils.io import write_csv_atomic, write_json_atomic  # noqa: E402
from clika_utils.provenance import input_hashes, write_sidecar  # noqa: E402
from clika_utils.settings import clika_dir  # noqa: E402
from clika_utils.train import TrainConfig, train  # noqa: E402

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--lang", default="de")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    root = clika_dir(None)
    data = cd.load_train(root, args.lang)
    chosen = cd.select_places(data.places, 4, 3, exclude=data.ambiguous)
    examples = cd.training_examples(data, chosen, 3)
    rows, runs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for head in ("full", "supervised"):
            cfg = TrainConfig(method="lora", lr=1e-3, max_steps=args.steps, micro_batch=args.micro_batch,
                              precision=args.precision, head=head, save_every=10 ** 6, seed=0)
            res = train(args.model, examples, Path(tmp) / head, cfg, progress=False)
            runs[head] = res.metrics
            for m in res.metrics:
                rows.append({"head": head, **m})
    timed = {h: [m for m in ms if m["step"] > 1] for h, ms in runs.items()}
    tps = {h: sum(m["tokens"] for m in ms) / sum(m["seconds"] for m in ms) for h, ms in timed.items()}
    diffs = [abs(a["loss"] - b["loss"]) for a, b in zip(runs["full"], runs["supervised"])]
    summary = {
        "model": args.model, "lang": args.lang, "examples": len(examples), "steps": args.steps,
        "micro_batch": args.micro_batch, "precision": args.precision,
        "tokens_per_s_standard": round(tps["full"], 1), "tokens_per_s_supervised": round(tps["supervised"], 1),
        "speedup": round(tps["supervised"] / tps["full"], 2),
        "max_abs_loss_diff": max(diffs), "max_rel_loss_diff": max(d / a["loss"] for d, a in zip(diffs, runs["full"])),
        "supervised_fraction_of_positions": round(sum(m["supervised_tokens"] for m in runs["full"]) /
                                                  sum(m["tokens"] for m in runs["full"]), 3),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "torch_threads": torch.get_num_threads()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    inputs = input_hashes([cd.fictional_dir(root) / "train" / f"{args.lang.upper()}.json"], root=root)
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    for path in (write_json_atomic(args.out / "train_head.json", summary),
                 write_csv_atomic(pd.DataFrame(rows), args.out / "train_head.csv")):
        write_sidecar(path, kind="benchmark", parameters=params, seed=0, inputs=inputs)
    print(pd.Series(summary).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
