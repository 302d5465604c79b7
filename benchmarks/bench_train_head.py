"""Benchmark: the training engine's supervised-positions LM head vs transformers' standard loss.

Same LoRA job on Gemma-3-270M (262,144-row vocabulary), same data (the conductivity notebook's `cpu`
training set for one target language), same seed, same machine, one run. The peer is transformers'
own loss path (``model(..., labels=...)``: logits at every position, then cross-entropy over the
supervised ones), selected with ``head="full"`` in the same loop, so the loop, data order and
optimiser are identical and only the loss computation differs.

Reported: tokens/s of each (all input tokens per second, the first step excluded as warm-up), the
ratio, and the per-step loss agreement. Results: benchmarks/results/train_head.{json,csv} with
provenance sidecars.

The physical floor, measured in the same run: the same LoRA job's step with the LM head skipped — the
body forward on the same global batches, a loss that needs no vocabulary projection (the mean square of
the supervised positions' hidden states), backward through the body, the same optimiser step. No exact
loss can take less. ``ratio_to_floor`` = a head's seconds per token / the floor's.

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

from clika_utils import fictional  # noqa: E402
from clika_utils.experiments import conductivity as cd  # noqa: E402
from clika_utils.io import write_csv_atomic, write_json_atomic  # noqa: E402
from clika_utils.provenance import input_hashes, write_sidecar  # noqa: E402
from clika_utils.settings import clika_dir  # noqa: E402
from clika_utils.train import TrainConfig, train  # noqa: E402

HERE = Path(__file__).resolve().parent


def body_only_steps(model_name: str, examples, cfg: TrainConfig) -> list[dict]:
    """The floor (see the module doc): per step, tokens and seconds of body forward + backward + AdamW."""
    import time

    import contextlib

    from clika_utils.train import IGNORE, _unwrap_peft, build_model, collate, global_batch, resolve_precision, tokenize

    lm, model = build_model(model_name, cfg)
    tok = lm.tokenizer
    rows, _ = tokenize(tok, examples, cfg.max_length)
    bf16 = resolve_precision(cfg.precision, cuda=False)     # the loop's autocast, so the floor does the same math
    body = _unwrap_peft(model).base_model
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr)
    model.train()
    out = []
    for step in range(1, cfg.max_steps + 1):
        batch = [rows[i] for i in global_batch(step - 1, cfg.micro_batch, len(rows), cfg.seed)]
        t0 = time.perf_counter()
        b = collate(batch, tok.pad_token_id, "cpu")
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            hidden = body(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
        keep = b["labels"][:, 1:].ne(IGNORE)
        loss = hidden[:, :-1][keep].float().square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        out.append({"step": step, "tokens": int(b["attention_mask"].sum()), "seconds": time.perf_counter() - t0})
    return out


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
    data = fictional.load_train(root, args.lang)
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
    floor = body_only_steps(args.model, examples, TrainConfig(method="lora", lr=1e-3, max_steps=args.steps,
                                                              micro_batch=args.micro_batch, precision=args.precision,
                                                              save_every=10 ** 6, seed=0))
    timed = {h: [m for m in ms if m["step"] > 1] for h, ms in runs.items()}
    tps = {h: sum(m["tokens"] for m in ms) / sum(m["seconds"] for m in ms) for h, ms in timed.items()}
    floor_tps = sum(m["tokens"] for m in floor[1:]) / sum(m["seconds"] for m in floor[1:])
    diffs = [abs(a["loss"] - b["loss"]) for a, b in zip(runs["full"], runs["supervised"])]
    summary = {
        "model": args.model, "lang": args.lang, "examples": len(examples), "steps": args.steps,
        "micro_batch": args.micro_batch, "precision": args.precision,
        "tokens_per_s_standard": round(tps["full"], 1), "tokens_per_s_supervised": round(tps["supervised"], 1),
        "speedup": round(tps["supervised"] / tps["full"], 2),
        "tokens_per_s_floor_body_only": round(floor_tps, 1),
        "ratio_to_floor_supervised": round(floor_tps / tps["supervised"], 2),
        "ratio_to_floor_standard": round(floor_tps / tps["full"], 2),
        "max_abs_loss_diff": max(diffs), "max_rel_loss_diff": max(d / a["loss"] for d, a in zip(diffs, runs["full"])),
        "supervised_fraction_of_positions": round(sum(m["supervised_tokens"] for m in runs["full"]) /
                                                  sum(m["tokens"] for m in runs["full"]), 3),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "torch_threads": torch.get_num_threads()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    inputs = input_hashes([fictional.fictional_dir(root) / "train" / f"{args.lang.upper()}.json"], root=root)
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    for path in (write_json_atomic(args.out / "train_head.json", summary),
                 write_csv_atomic(pd.DataFrame(rows), args.out / "train_head.csv")):
        write_sidecar(path, kind="benchmark", parameters=params, seed=0, inputs=inputs)
    print(pd.Series(summary).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
