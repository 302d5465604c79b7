"""GPU check of the `paper` profile's code paths: CUDA placement, bf16 defaults, LoRA and full
fine-tuning, full fine-tuning under ``accelerate launch`` with ``configs/accelerate/fsdp.yaml`` (one
process), hidden states for notebook 09, and the throughput of a 7B-shaped Llama.

    python scripts/gpu_check.py --out DIR [--work SCRATCH] [--big 7b|1b|none] [--budget SECONDS]

Models are built locally (a tiny random Llama with a locally trained tokenizer; a random Llama of
LLaMA-7B's shape for timing), so nothing is downloaded. Each check prints one line and lands in
``DIR/gpu_check.json`` (ok, seconds, numbers); the exit status is 1 when a check failed. Random weights
make the numbers meaningless as *quality*; the checks are about agreement (CUDA fp32 vs CPU fp32),
finiteness, decreasing loss, the FSDP loss curve against the plain one, and speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = {"7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=32, vocab_size=32000),
          "mini": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=4, vocab_size=1000),   # to test this script
          "1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=16, num_attention_heads=16,
                     num_key_value_heads=16, vocab_size=32000)}


def examples(n: int, words: int = 12):
    from clika_utils.formats import Example, alpaca_prompt
    return [Example(alpaca_prompt(f"Which continent is place {i} in? " + "context " * words),
                    f"Place {i} is in continent {i % 3}.") for i in range(n)]


class Checks:
    def __init__(self, out: Path):
        self.out, self.rows = out, []

    def run(self, name, fn):
        t = time.time()
        try:
            detail = fn() or {}
            ok = bool(detail.pop("ok", True))
        except Exception as exc:  # a failed check is reported and the others still run
            ok, detail = False, {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
        row = {"check": name, "ok": ok, "seconds": round(time.time() - t, 1), **detail}
        self.rows.append(row)
        shown = {k: v for k, v in row.items() if k not in ("check", "trace")}
        print(f"[{'PASS' if ok else 'FAIL'}] {name}: {json.dumps(shown, default=str)[:900]}", flush=True)
        (self.out / "gpu_check.json").write_text(json.dumps(self.rows, indent=1, default=str), encoding="utf-8")
        return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for gpu_check.json")
    ap.add_argument("--work", help="scratch folder for the built models (default: OUT/work)")
    ap.add_argument("--big", default="7b", choices=[*SHAPES, "none"])
    ap.add_argument("--budget", type=float, default=480, help="skip the big-model check past this many seconds")
    ap.add_argument("--dry-run", action="store_true", help="run the checks on the CPU (to test this script)")
    args = ap.parse_args()
    dev = "cpu" if args.dry_run else "cuda"
    start = time.time()
    out = Path(args.out)
    work = Path(args.work) if args.work else out / "work"
    work.mkdir(parents=True, exist_ok=True)

    import numpy as np
    import torch

    from clika_utils.evaluate import Engine
    from clika_utils.models import build_tiny_model, load_model
    from clika_utils.formats import write_examples
    from clika_utils.train import TrainConfig, load_trained, train

    checks = Checks(out)
    env = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
           "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    for pkg in ("transformers", "peft", "accelerate"):
        env[pkg] = __import__(pkg).__version__
    checks.run("environment", lambda: {"ok": env["cuda"] or args.dry_run, **env})
    if not (env["cuda"] or args.dry_run):
        return 1
    tiny = str(build_tiny_model(work / "tiny"))
    prompts = [f"Question {i}: which continent is place {i} in? " * (1 + i % 3) + "Answer:" for i in range(12)]

    def placement_and_agreement():
        cpu = load_model(tiny, device="cpu", dtype="float32")
        g32 = load_model(tiny, device=dev, dtype="float32")
        auto = load_model(tiny)                                    # paper default on CUDA: bf16
        ids = [5, 6, 7, 8]
        a, b, c = (torch.as_tensor(Engine(m).letter_logprobs(prompts, ids)).float().cpu().numpy()
                   for m in (cpu, g32, auto))
        gen_cpu = Engine(cpu).generate(prompts[:6], 8)
        gen_gpu = Engine(g32).generate(prompts[:6], 8)
        diff = float(np.abs(a - b).max())
        return {"ok": (args.dry_run or auto.device.startswith("cuda") and auto.dtype == "bfloat16") and diff < 1e-3
                and bool(np.isfinite(c).all()),
                "auto_device": auto.device, "auto_dtype": auto.dtype, "max_abs_logprob_diff_cuda32_vs_cpu32": diff,
                "argmax_agreement_bf16_vs_cpu32": float((a.argmax(1) == c.argmax(1)).mean()),
                "greedy_equal_cuda32_vs_cpu32": sum(x == y for x, y in zip(gen_cpu, gen_gpu)) / len(gen_cpu)}

    checks.run("evaluate: CUDA placement, bf16 default, CUDA fp32 = CPU fp32", placement_and_agreement)

    def lora_train():
        cfg = TrainConfig(method="lora", lr=5e-3, max_steps=12, micro_batch=4, save_every=4, lora_r=4, lora_alpha=8)
        res = train(tiny, examples(24), work / "lora", cfg, progress=False)
        meta = json.loads((work / "lora" / "train.json").read_text())
        again = train(tiny, examples(24), work / "lora", cfg, progress=False)
        lm = load_trained(work / "lora")
        text = Engine(lm).generate(prompts[:2], 6)
        losses = [m["loss"] for m in res.metrics]
        return {"ok": res.status == "complete" and again.status == "reused" and losses[-1] < losses[0]
                and lm.device.startswith(dev) and all(isinstance(t, str) for t in text),
                "precision": meta["reports"].get("precision"), "loss_first_last": [losses[0], losses[-1]],
                "loaded_on": lm.device}

    checks.run("train: LoRA on CUDA (bf16 autocast), reuse, merged model generates", lora_train)

    def fsdp_full():
        data = write_examples(work / "full.jsonl", examples(24))
        cfg = dict(method="full", lr=1e-3, max_steps=6, micro_batch=4, save_every=3, precision="bf16")
        cfg_file = work / "full.config.json"
        cfg_file.write_text(json.dumps(cfg))
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
        job = ["-m", "clika_utils.cli", "train", "--model", tiny, "--data", str(data), "--config", str(cfg_file),
               "--no-progress", "--out"]
        launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                  str(ROOT / "configs/accelerate/fsdp.yaml"), "--num_processes", "1"]
        for cmd in ([sys.executable, *job, str(work / "full-plain")], [*launch, *job, str(work / "full-fsdp")]):
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)   # fresh processes:
            if proc.returncode != 0:                           # accelerate's state is per process
                return {"ok": False, "cmd": " ".join(cmd[:6]), "exit": proc.returncode, "stderr": proc.stderr[-3000:]}
        import pandas as pd
        fsdp = pd.read_csv(work / "full-fsdp" / "metrics.csv")["loss"].to_numpy()
        base = pd.read_csv(work / "full-plain" / "metrics.csv")["loss"].to_numpy()
        lm = load_trained(work / "full-fsdp")
        text = Engine(lm).generate(prompts[:2], 6)
        gap = float(np.abs(fsdp - base).max())
        modes = [json.loads((work / f / "train.json").read_text())["reports"]["distributed"]
                 for f in ("full-plain", "full-fsdp")]
        return {"ok": len(fsdp) == len(base) and gap < 0.05 and all(isinstance(t, str) for t in text)
                and (args.dry_run or modes[1] == "FSDP"), "distributed": modes,
                "loss_plain": base.round(4).tolist(), "loss_fsdp": fsdp.round(4).tolist(), "max_gap": gap}

    checks.run("train: full fine-tuning under accelerate FSDP (configs/accelerate/fsdp.yaml, 1 process) "
               "= plain loss curve; saved model loads", fsdp_full)

    def hidden_states():
        from clika_utils.experiments.representation_alignment import pooled_states
        sents = [f"The place number {i} lies on a continent." for i in range(10)]
        a = pooled_states(load_model(tiny, device="cpu", dtype="float32"), sents)
        b = pooled_states(load_model(tiny, device=dev, dtype="float32"), sents)
        c = pooled_states(load_model(tiny), sents)
        diff = max(float(np.abs(a[k] - b[k]).max() / (np.abs(a[k]).max() + 1e-9)) for k in a)
        return {"ok": diff < 1e-3 and all(np.isfinite(c[k]).all() for k in c), "layers": len(a),
                "max_rel_diff_cuda32_vs_cpu32": diff}

    checks.run("representations: pooled hidden states on CUDA = CPU (fp32); bf16 finite", hidden_states)

    if args.big != "none" and time.time() - start < args.budget:
        def big_model():
            from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
            tok = AutoTokenizer.from_pretrained(tiny)
            path = work / f"llama-{args.big}"
            cfg = LlamaConfig(**SHAPES[args.big], max_position_embeddings=2048, pad_token_id=tok.pad_token_id,
                              bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
            t = time.time()
            torch.manual_seed(0)
            with torch.device(dev):
                model = LlamaForCausalLM(cfg).to(torch.bfloat16)
            n_params = sum(p.numel() for p in model.parameters())
            model.save_pretrained(path)
            tok.save_pretrained(path)
            del model
            torch.cuda.empty_cache()
            built = time.time() - t
            if dev == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t = time.time()
            cfg_t = TrainConfig(method="lora", lr=1e-4, max_steps=6, micro_batch=8, save_every=6, max_length=512)
            res = train(str(path), examples(48, words=60), work / "big-lora", cfg_t, progress=False)
            train_s = time.time() - t
            steps = res.metrics
            tok_s = [m["tokens_per_s"] for m in steps]
            peak_train = torch.cuda.max_memory_allocated() / 2**30 if dev == "cuda" else float("nan")
            torch.cuda.empty_cache()
            lm = load_model(str(path))
            eng = Engine(lm, batch_size=32)
            long_prompts = [p * 8 for p in prompts] * 6                 # 72 prompts of ~150-450 tokens
            t = time.time()
            eng.letter_logprobs(long_prompts, [5, 6, 7, 8])
            torch.cuda.synchronize() if dev == "cuda" else None
            letter_s = time.time() - t
            t = time.time()
            eng.generate(long_prompts[:32], 64)
            torch.cuda.synchronize() if dev == "cuda" else None
            gen_s = time.time() - t
            return {"ok": res.status == "complete" and bool(np.isfinite([m["loss"] for m in steps]).all()),
                    "shape": args.big, "params_billion": round(n_params / 1e9, 2), "build_save_s": round(built, 1),
                    "lora_6_steps_s_incl_load": round(train_s, 1), "metrics_last": steps[-1], "tok_s": tok_s,
                    "peak_train_gib": round(peak_train, 1), "letter_items_per_s": round(len(long_prompts) / letter_s, 1),
                    "generate_32x64_tokens_s": round(gen_s, 2)}

        checks.run(f"scale: random Llama of {args.big} shape, LoRA steps and evaluation throughput on one GPU",
                   big_model)
    failed = [r["check"] for r in checks.rows if not r["ok"]]
    print(f"{len(checks.rows) - len(failed)}/{len(checks.rows)} checks passed in {time.time() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
