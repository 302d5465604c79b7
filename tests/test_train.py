"""The training engine: loss equality of the supervised-positions head, batching, resume after a kill,
2-process equality, divergence, bad input."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from clika_utils.errors import ConfigError, DataError
from clika_utils.models import build_tiny_model
from clika_utils.formats import Example, alpaca_prompt, read_examples, write_examples
from clika_utils.train import (IGNORE, TrainConfig, TrainingDiverged, checkpoints, global_batch, load_trained,
                               lora_target_modules, loss_module, tokenize, train)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m"))


@pytest.fixture(scope="module")
def tiny_gemma(tmp_path_factory, tiny):
    """A tiny Gemma-3 (tied embeddings, the architecture of the cpu profile) with the tiny tokenizer."""
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig
    tok = AutoTokenizer.from_pretrained(tiny)
    torch.manual_seed(0)
    cfg = Gemma3TextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=512,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                           eos_token_id=tok.eos_token_id, sliding_window=8)
    path = tmp_path_factory.mktemp("gemma") / "m"
    Gemma3ForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def examples(n=24):
    return [Example(alpaca_prompt(f"Which continent is place {i} in?"), f"Place {i} is in continent {i % 3}.")
            for i in range(n)]


def fast(**kw):
    base = dict(method="lora", lr=5e-3, max_steps=6, micro_batch=4, grad_accum=1, precision="fp32", save_every=2,
                lora_r=4, lora_alpha=8, lora_dropout=0.1)
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("which", ["tiny", "tiny_gemma"])
@pytest.mark.parametrize("method", ["lora", "full"])
def test_supervised_head_loss_equals_the_standard_full_logit_loss(which, method, request):
    from clika_utils.train import build_model, collate
    lm, model = build_model(request.getfixturevalue(which), fast(method=method))
    data, _ = tokenize(lm.tokenizer, examples(6), 256)
    batch = collate(data, lm.tokenizer.pad_token_id, "cpu")
    n = float((batch["labels"][:, 1:] != IGNORE).sum())
    model.eval()  # no dropout: both paths see the same network
    ours = loss_module(model, "supervised")(**batch, denom=n)
    # the plain transformers computation: logits at every position, mean over supervised tokens
    standard = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     labels=batch["labels"]).loss
    assert float(ours.detach()) == pytest.approx(float(standard.detach()), abs=1e-5)
    ours.backward()
    g1 = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    loss_module(model, "full")(**batch, denom=n).backward()
    for k, p in model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, g1[k], atol=1e-5, rtol=1e-4)


def test_tokenize_masks_the_prompt_and_reports_truncation(tiny):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny)
    (ids, labels), = tokenize(tok, [Example("Question:", " A")], 64)[0]
    p = tok("Question:").input_ids
    assert ids[: len(p)] == p and labels[: len(p)] == [IGNORE] * len(p)
    assert labels[len(p):] == ids[len(p):] and ids[-1] == tok.eos_token_id
    raw, _ = tokenize(tok, [Example("", "plain text")], 64)
    assert raw[0][1][0] == IGNORE and all(t != IGNORE for t in raw[0][1][1:])  # all but BOS supervised
    data, report = tokenize(tok, [Example("Q", " a long answer " * 20)], 16)
    assert len(data[0][0]) == 16 and report["truncated_examples"] == 1
    with pytest.raises(ConfigError, match="no supervised token left"):
        tokenize(tok, [Example("a very long prompt " * 20, "x")], 8)


def test_global_batches_are_seeded_permutations_epoch_after_epoch():
    n, size = 10, 4
    stream = [i for s in range(5) for i in global_batch(s, size, n, seed=3)]
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:20]) == list(range(10))
    assert stream == [i for s in range(5) for i in global_batch(s, size, n, seed=3)]
    assert stream != [i for s in range(5) for i in global_batch(s, size, n, seed=4)]


def test_read_examples_formats_and_bad_lines(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt": "Q:", "response": " A"}\n{"instruction": "Say hi", "input": "", "output": "hi"}\n'
                    '{"text": "raw text"}\n', encoding="utf-8")
    ex = read_examples(good)
    assert ex[0] == Example("Q:", " A") and ex[1] == Example(alpaca_prompt("Say hi"), "hi") and ex[2].prompt == ""
    assert "### Input:\nctx" in alpaca_prompt("Do", "ctx") and "### Input" not in alpaca_prompt("Do", " ")
    cases = {'{"prompt": "Q"\n': r"bad.jsonl:1: corrupt JSON", '{"prompt": "Q"}\n': r":1: field\(s\) \['response'\]",
             '{"foo": 1}\n': r":1: expected \{prompt, response\}", '{"prompt": "Q", "response": "  "}\n': ":1: empty response"}
    for text, msg in cases.items():
        (tmp_path / "bad.jsonl").write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=msg):
            read_examples(tmp_path / "bad.jsonl")


def test_lora_targets_are_found_per_architecture_and_checked(tiny):
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel
    llama = AutoModelForCausalLM.from_pretrained(tiny)
    assert lora_target_modules(llama) == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    assert lora_target_modules(gpt2) == ["c_attn", "c_fc", "c_proj"]
    with pytest.raises(ConfigError, match=r"LoRA target\(s\) \['query_key_value'\] match no linear module"):
        lora_target_modules(llama, ["query_key_value"])


def test_config_is_validated():
    with pytest.raises(ConfigError, match="unknown method"):
        TrainConfig(method="qlora")
    with pytest.raises(ConfigError, match=r"unknown training setting\(s\) \['learning_rate'\]"):
        TrainConfig.from_dict({"learning_rate": 1e-4})
    with pytest.raises(ConfigError, match="micro_batch must be >= 1"):
        TrainConfig(micro_batch=0)


def test_train_writes_model_metrics_and_is_reused(tiny, tmp_path):
    res = train(tiny, examples(), tmp_path / "job", fast(), progress=False)
    assert res.status == "complete" and res.steps == 6 and len(res.metrics) == 6
    assert res.metrics[-1]["loss"] < res.metrics[0]["loss"]
    meta = json.loads((tmp_path / "job" / "train.json").read_text())
    assert meta["status"] == "complete" and meta["reports"]["global_batch"] == 4
    assert [p.name for p in checkpoints(tmp_path / "job")] == ["step-000004", "step-000006"]  # the last 2 kept
    again = train(tiny, examples(), tmp_path / "job", fast(), progress=False)
    assert again.status == "reused" and again.final_loss == res.final_loss
    # the merged model generates and differs from the base
    lm = load_trained(tmp_path / "job")
    from clika_utils.models import load_model
    base = load_model(tiny)
    ids = torch.tensor([lm.tokenizer("Which continent").input_ids])
    with torch.no_grad():
        assert not torch.allclose(lm.model(ids).logits, base.model(ids).logits)
    # a LoRA job keeps the adapter only (the tokenizer is the base model's); a full job is self-contained
    saved = {p.name for p in (tmp_path / "job" / "model").iterdir()}
    assert "adapter_model.safetensors" in saved and not any(n.startswith("tokenizer") for n in saved)
    train(tiny, examples(), tmp_path / "full", fast(method="full", max_steps=1), progress=False)
    full = load_trained(tmp_path / "full")
    assert (tmp_path / "full" / "model" / "tokenizer.json").exists()
    assert full.tokenizer("Which continent").input_ids == lm.tokenizer("Which continent").input_ids


def test_a_write_left_unfinished_by_a_killed_run_does_not_block_the_job(tiny, tmp_path):
    """SIGKILL during an atomic write leaves `.metrics.csv.<random>.tmp`; the job's folder is still the job's
    (resuming must not be refused), the leftover goes, and a stranger's file is still refused."""
    train(tiny, examples(), tmp_path / "job", fast(max_steps=2), progress=False)
    (tmp_path / "job" / ".metrics.csv.ab12cd_9.tmp").write_text("step,lo", encoding="utf-8")
    again = train(tiny, examples(), tmp_path / "job", fast(max_steps=2), progress=False)
    assert again.status == "reused" and not list((tmp_path / "job").glob(".*.tmp"))
    (tmp_path / "job" / ".notes.txt.ab12cd_9.tmp").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no clika command wrote, or that changed since \(\.notes\.txt"):
        train(tiny, examples(), tmp_path / "job", fast(max_steps=2), progress=False)


def test_a_folder_of_another_job_is_refused(tiny, tmp_path):
    train(tiny, examples(), tmp_path / "job", fast(max_steps=2), progress=False)
    with pytest.raises(ConfigError, match="another data"):
        train(tiny, examples(10), tmp_path / "job", fast(max_steps=2), progress=False)
    with pytest.raises(ConfigError, match="another config"):
        train(tiny, examples(), tmp_path / "job", fast(max_steps=2, lr=1e-3), progress=False)
    other = build_tiny_model(tmp_path / "other", seed=1)
    with pytest.raises(ConfigError, match="another fingerprint"):
        train(str(other), examples(), tmp_path / "job", fast(max_steps=2), progress=False)


def test_divergence_stops_before_the_bad_update_and_keeps_the_last_checkpoint(tiny, tmp_path):
    with pytest.raises(TrainingDiverged, match=r"diverged at step \d+.*last good checkpoint is .*step-"):
        train(tiny, examples(), tmp_path / "job", fast(method="full", lr=1e35, max_steps=40, save_every=1,
                                                        max_grad_norm=1e38), progress=False)
    meta = json.loads((tmp_path / "job" / "train.json").read_text())
    assert meta["status"] == "diverged"
    assert checkpoints(tmp_path / "job"), "the last good checkpoint is kept"


def _cli(*args):
    return [sys.executable, "-m", "clika_utils.cli", "train", *map(str, args)]


@pytest.mark.slow
def test_killed_training_resumes_from_the_last_checkpoint_with_the_same_curve(tiny, tmp_path):
    data = write_examples(tmp_path / "data.jsonl", examples(32))
    common = ["--model", tiny, "--data", data, "--max-steps", 40, "--micro-batch", 4, "--lr", 5e-3,
              "--precision", "fp32", "--save-every", 3, "--lora-r", 4, "--lora-alpha", 8, "--lora-dropout", 0.1,
              "--no-progress"]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(_cli(*common, "--out", tmp_path / "killed"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / "killed" / "ckpt" / "step-000006" / "state.json").exists():
        assert proc.poll() is None and time.time() < deadline, "training ended or stalled before the 2nd checkpoint"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((tmp_path / "killed" / "train.json").read_text())["status"] == "running"
    resumed = subprocess.run(_cli(*common, "--out", tmp_path / "killed"), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    meta = json.loads((tmp_path / "killed" / "train.json").read_text())
    assert meta["status"] == "complete" and meta["reports"]["resumed_from_step"] >= 6
    whole = subprocess.run(_cli(*common, "--out", tmp_path / "whole"), env=env, capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr[-2000:]
    import pandas as pd
    a = pd.read_csv(tmp_path / "killed" / "metrics.csv")
    b = pd.read_csv(tmp_path / "whole" / "metrics.csv")
    assert list(a["step"]) == list(range(1, 41))
    assert list(a["loss"]) == list(b["loss"]), "a resumed run must follow the uninterrupted loss curve exactly"


@pytest.mark.slow
def test_two_processes_give_the_loss_curve_of_one_with_the_same_global_batch(tiny, tmp_path):
    """accelerate launch --multi_gpu --num_processes 2 on CPU (gloo): global batch 2 x 4 x 1 vs
    1 x 4 x 2 (grad accumulation). Same examples per step, same summed gradient: losses agree to
    1e-5 relative (float summation order differs). No dropout, so both see the same network."""
    data = write_examples(tmp_path / "data.jsonl", examples(32))
    common = ["--model", tiny, "--data", data, "--max-steps", 6, "--micro-batch", 4, "--lr", 5e-3,
              "--precision", "fp32", "--lora-r", 4, "--lora-alpha", 8, "--lora-dropout", 0.0, "--no-progress"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    two = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                          "--main_process_port", str(port), "-m", "clika_utils.cli", "train", *map(str, common),
                          "--grad-accum", "1", "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run(_cli(*common, "--grad-accum", 2, "--out", tmp_path / "one"), env=env, capture_output=True,
                         text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    import pandas as pd
    a, b = pd.read_csv(tmp_path / "two" / "metrics.csv"), pd.read_csv(tmp_path / "one" / "metrics.csv")
    assert json.loads((tmp_path / "two" / "train.json").read_text())["reports"]["processes"] == 2
    assert list(a["supervised_tokens"]) == list(b["supervised_tokens"])
    assert list(a["loss"]) == pytest.approx(list(b["loss"]), rel=1e-5)
    assert a["loss"].iloc[-1] < a["loss"].iloc[0]


def test_mixed_adapter_generation_equals_each_adapter_alone(tmp_path):
    """load_adapters + Engine.generate(adapter_names=...) gives, row by row, what each job's own model
    (merged, loaded alone) generates — the grid of notebook 07 evaluates every job in shared batches."""
    from clika_utils.evaluate import Engine
    from clika_utils.models import build_tiny_model
    from clika_utils.formats import Example
    from clika_utils.train import TrainConfig, load_adapters, load_trained, train
    base = str(build_tiny_model(tmp_path / "base"))
    jobs = {}
    for k in range(2):
        cfg = TrainConfig(method="lora", lr=0.05, max_steps=3, micro_batch=2, precision="fp32", lora_r=4,
                          lora_alpha=8, seed=k)
        data = [Example(f"Q{k} {i}:", f" answer {k} {i}") for i in range(4)]
        train(base, data, tmp_path / f"j{k}", cfg, progress=False)
        jobs[f"j{k}"] = tmp_path / f"j{k}"
    prompts = ["Q0 1:", "Q1 2: longer prompt here", "hello"]
    alone = {name: Engine(load_trained(job), batch_size=8).generate(prompts, 6) for name, job in jobs.items()}
    from clika_utils.models import load_model
    alone["__base__"] = Engine(load_model(base), batch_size=8).generate(prompts, 6)
    lm = load_adapters(base, jobs)
    names = ["j0", "j1", "__base__"]
    mixed = Engine(lm, batch_size=4).generate(prompts * 3, 6, adapter_names=[n for n in names for _ in prompts])
    for k, n in enumerate(names):
        assert mixed[k * 3:(k + 1) * 3] == alone[n], n
    assert alone["j0"] != alone["__base__"]                   # the adapters changed something
    with pytest.raises(ConfigError, match="adapter names for"):
        Engine(lm).generate(prompts, 2, adapter_names=["j0"])
    plain = load_adapters(base, {})                          # no jobs: the base model itself
    assert Engine(plain, batch_size=8).generate(prompts, 6, adapter_names=["__base__"] * 3) == alone["__base__"]
    with pytest.raises(ConfigError, match="without LoRA adapters"):
        Engine(plain).generate(prompts, 2, adapter_names=["j0", "__base__", "__base__"])


def test_registry_conversion_stores_a_tied_head_under_the_embedding_name(tiny_gemma, tiny, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    from clika_utils.models import _untied_state
    gemma = AutoModelForCausalLM.from_pretrained(tiny_gemma)
    state = _untied_state(gemma)
    assert "model.embed_tokens.weight" in state and "lm_head.weight" not in state
    out = tmp_path / "conv"
    gemma.config.save_pretrained(out)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    back = AutoModelForCausalLM.from_pretrained(out)
    assert back.lm_head.weight.data_ptr() == back.model.embed_tokens.weight.data_ptr()
    assert all(torch.equal(a, b) for a, b in zip(gemma.state_dict().values(), back.state_dict().values()))
    llama = AutoModelForCausalLM.from_pretrained(tiny)          # an untied head keeps both matrices
    assert not llama.config.tie_word_embeddings and set(_untied_state(llama)) == set(llama.state_dict())
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert "lm_head.weight" not in f.keys()
