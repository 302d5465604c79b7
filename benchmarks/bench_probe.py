"""Benchmark: the CLDR probe of notebooks 04/05 (multiple choice by summed log-likelihood of each option, the
lm-evaluation-harness ``acc`` rule), three ways on the same questions, same model, same machine, one run:

* ``per question`` — the probe before issue 30: one forward pass per question after the shared Alpaca
  header's cached keys/values, then one pass over that question's options;
* ``batched`` — :meth:`clika_utils.evaluate.Engine.continuation_logprobs_batched`: equally long questions together
  after the same cached header, each question once, then every option but its last token as a right-padded row
  on its question's cache (the first batched version, in results before 2026-12-07's second run, put the
  question into every option's row: 49.9 s on 400 questions where per question took 82.6 s);
* ``lm-eval`` — lm-evaluation-harness 0.4.13's ``HFLM.loglikelihood`` on the same (context, continuation)
  pairs (its defaults: float32, its own batching), the peer.

The physical floor, measured in the same run: body forwards (no LM head, no softmax, no cache) over only the
tokens an exact scorer must compute — each question's own tokens once (equally long questions together) and
each option but its last token (right-padded rows of 32); no exact scorer can do less. Reported: seconds, the ratio of each to the floor and to lm-eval, and whether the
predictions agree question for question (they must: same model, same rule). Results:
benchmarks/results/probe.{json,csv} (+ provenance sidecars).

Run: bash benchmarks/run.sh probe [--items N] [--langs en,zh]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from clika_utils.evaluate import Engine  # noqa: E402
from clika_utils.experiments.shared import probe_questions  # noqa: E402
from clika_utils.formats import alpaca_prompt  # noqa: E402
from clika_utils.io import write_csv_atomic, write_json_atomic  # noqa: E402
from clika_utils.langs import LANGS  # noqa: E402
from clika_utils.models import ensure_registry_model, load_model  # noqa: E402
from clika_utils.provenance import write_sidecar  # noqa: E402
from floor import body_seconds, padded_batches  # noqa: E402

HERE = Path(__file__).resolve().parent


def run_ours(engine, prompts, options, batched: bool):
    prefix = engine.shared_prefix(sorted(set(prompts)))
    t0 = time.perf_counter()
    if batched:
        scored = engine.continuation_logprobs_batched(prompts, options, prefix)
    else:
        scored = engine.continuation_logprobs_many(prompts, options, prefix)
    seconds = time.perf_counter() - t0
    return {"score_s": seconds, "pred": [int(np.argmax(s)) for s, _ in scored], "scores": [s for s, _ in scored]}


def run_floor(engine, prompts, options, rows=32, tokens=1024):
    """Seconds of the body alone over each question's own tokens once (equally long ones together, up to
    ``tokens`` a pass) and each option but its last token (``rows`` right-padded rows a pass)."""
    tok = engine.tok
    head = engine.shared_prefix(sorted(set(prompts)))[1]
    by_length, conts = {}, []
    for p, opts in zip(prompts, options):
        own = engine.encode(p)[len(head):]
        by_length.setdefault(len(own), []).append(own)
        n_ctx = len(tok(p, add_special_tokens=True).input_ids)
        conts += [c[:-1] for o in opts for c in [tok(p + o, add_special_tokens=True).input_ids[n_ctx:]] if len(c) > 1]
    batches = [torch.tensor(group[s: s + max(1, tokens // n)])
               for n, group in sorted(by_length.items()) for s in range(0, len(group), max(1, tokens // n))]
    batches += padded_batches(conts, rows, tok.pad_token_id)
    return {"score_s": body_seconds(engine, batches),
            "row_tokens": sum(sum(map(len, g)) for g in by_length.values()) + sum(map(len, conts))}


def run_lmeval(model_path, prompts, options, batch_size):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    lm = HFLM(pretrained=model_path, dtype="float32", batch_size=batch_size, device="cpu")
    reqs, owner = [], []
    for i, (p, opts) in enumerate(zip(prompts, options)):
        for k, o in enumerate(opts):
            reqs.append(Instance(request_type="loglikelihood", doc={}, arguments=(p, o), idx=k))
            owner.append(i)
    t0 = time.perf_counter()
    res = lm.loglikelihood(reqs, disable_tqdm=True)
    seconds = time.perf_counter() - t0
    scores = [[] for _ in prompts]
    for i, (ll, _) in zip(owner, res):
        scores[i].append(ll)
    return {"score_s": seconds, "pred": [int(np.argmax(s)) for s in scores], "scores": scores}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=177, help="probe facts (the cpu profile asks 177)")
    ap.add_argument("--langs", default=",".join(LANGS))
    ap.add_argument("--batch-size", type=int, default=16, help="lm-eval's batch size")
    ap.add_argument("--no-lm-eval", action="store_true", help="skip the peer (the project's own .venv has no lm_eval)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    langs = args.langs.split(",")
    qa = probe_questions(langs, heldout_fraction=0.3, probe_items=args.items, seed=0)
    prompts = [alpaca_prompt(q) for q in qa.question]
    options = [list(o) for o in qa.options]
    model_path = str(ensure_registry_model("gemma-3-270m"))
    engine = Engine(load_model(model_path, dtype="float32"))
    print(f"{len(qa)} probe questions ({len(langs)} languages) x {len(options[0])} options; model {model_path}")
    runs = {"clika per question (before)": run_ours(engine, prompts, options, batched=False),
            "clika batched": run_ours(engine, prompts, options, batched=True)}
    if not args.no_lm_eval:
        runs["lm-eval HFLM.loglikelihood (float32)"] = run_lmeval(model_path, prompts, options, args.batch_size)
    floor = run_floor(engine, prompts, options)
    before = runs["clika per question (before)"]
    peer = runs.get("lm-eval HFLM.loglikelihood (float32)")
    table = []
    for name, r in runs.items():
        table.append({"system": name, "questions": len(qa), "score_s": round(r["score_s"], 2),
                      "speedup_vs_before": round(before["score_s"] / r["score_s"], 2),
                      "speedup_vs_lm_eval": round(peer["score_s"] / r["score_s"], 2) if peer else None,
                      "ratio_to_floor": round(r["score_s"] / floor["score_s"], 2),
                      "same_predictions_as_before": round(np.mean([a == b for a, b in zip(r["pred"], before["pred"])]), 4),
                      "max_abs_score_diff_vs_before": float(np.max(np.abs(np.array(r["scores"]) - np.array(before["scores"])))),
                      "accuracy": round(float(np.mean([p == g for p, g in zip(r["pred"], qa.gold)])), 4)})
    df = pd.DataFrame(table)
    print(f"floor: body forward over {floor['row_tokens']} row tokens: {floor['score_s']:.2f} s")
    print(df.to_string(index=False))
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch_threads": torch.get_num_threads()},
            "items": args.items, "langs": langs, "model": "gemma-3-270m",
            "floor": {"what": "fp32 body forwards over each question's own tokens once and each option but its last token",
                      "score_s": round(floor["score_s"], 2), "row_tokens": floor["row_tokens"]},
            "table": table}
    csv = write_csv_atomic(df, args.out / "probe.csv")
    js = write_json_atomic(args.out / "probe.json", meta)
    for f in (csv, js):
        write_sidecar(f, kind="benchmark", parameters=vars(args) | {"out": str(args.out)}, seed=0, inputs={})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
