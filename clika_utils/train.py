"""Causal-LM fine-tuning: instruction pairs (loss on the response only) or raw text (continued
pretraining), LoRA (peft) or full fine-tuning, from one CPU core to several GPUs and nodes.

One loop, driven by :class:`accelerate.Accelerator` (no hand-written distributed code): a single
process, or ``accelerate launch`` with DDP, FSDP or DeepSpeed configs (``configs/accelerate/``).
On CPU machines ``accelerate launch --multi_gpu --num_processes N`` starts N gloo processes
(``--cpu --num_processes N`` starts only one unless MPI is set up).

What the loop guarantees:

* **Supervised-positions-only head** (``head="supervised"``, the default): the body runs on every
  token, the LM head (262k rows for Gemma) only at positions whose next token is supervised. The
  loss equals the standard full-logit loss (``head="full"``: transformers' own ``labels=`` path) to
  float rounding (tested to 1e-5 in fp32).
* **Exact global-batch loss**: the loss of a step is the sum of token losses over the whole global
  batch (all micro-batches, all processes) divided by its number of supervised tokens, so
  gradient accumulation and the number of processes do not change the gradient (tested: 2 processes
  give the same loss curve as 1 with the same global batch).
* **Deterministic data order**: global batch ``s`` holds positions ``s*G .. s*G+G-1`` of a stream of
  seeded per-epoch permutations, so a resumed run sees exactly the batches an uninterrupted one does.
* **Checkpoints and resume**: every ``save_every`` steps the trainable weights, optimizer, scheduler,
  RNG states and step are written atomically (``ckpt/step-NNNNNN``, the last ``keep_checkpoints``
  kept); rerunning the same job resumes from the newest one. A folder holding a job of another
  model, data set or configuration is refused.
* **Divergence**: a non-finite loss or gradient norm stops training before the bad update, keeps the
  last good checkpoint and raises :class:`TrainingDiverged` naming it.
* bf16 autocast with fp32 master weights on CUDA and on CPUs with native bf16 (``precision="auto"``;
  fp32 on AVX2-only CPUs, where emulated bf16 is slower, see :func:`cpu_has_native_bf16`), AdamW, cosine schedule
  with linear warmup, gradient clipping, tqdm progress (loss, tokens/s) and ``metrics.csv``.

Tested here: one process and DDP with gloo CPU processes (loss equality, resume after SIGKILL).
Not exercised yet (no GPU in this project's CI): FSDP and DeepSpeed. Their checkpoints hold sharded
optimizer state that :func:`_save_checkpoint` does not gather, so resume is single-process/DDP only: a
sharded job with checkpoints is refused, not resumed wrongly. A damaged newest checkpoint (a truncated file)
is skipped with a warning for the previous whole one.

Outputs in ``out_dir``: ``model/`` (the LoRA adapter, or the full model and tokenizer),
``train.json`` (status, base-model fingerprint, configuration, data hash, reports), ``metrics.csv``
(step, epoch, loss, lr, grad_norm, tokens, tokens_per_s, seconds). A finished job with the same
inputs is not trained again: notebooks reuse each other's adapters.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import ClikaError, ConfigError, DataError, warn
from .formats import Example, read_examples, write_examples
from .io import write_csv_atomic, write_json_atomic
from .settings import progress_bars

IGNORE = -100
METHODS = ("lora", "full")
HEADS = ("supervised", "full")
PRECISIONS = ("auto", "fp32", "bf16")
class TrainingDiverged(ClikaError):
    """The loss or gradient norm became NaN/inf; training stopped before applying the bad update."""


_INT_FIELDS = ("lora_r", "lora_alpha", "max_steps", "micro_batch", "grad_accum", "max_length", "seed", "save_every",
               "keep_checkpoints")
_FLOAT_FIELDS = ("lora_dropout", "lr", "epochs", "warmup_ratio", "weight_decay", "max_grad_norm")


def _as_int(name: str, value, optional: bool = False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
    return value


def _as_float(name: str, value) -> float:
    """A number; a string that reads as one is accepted (YAML 1.1, PyYAML's dialect, reads ``2e-4``
    without a dot as a string)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return value        # as given (an int stays an int: the job's identity, and so its reuse, is unchanged)


@dataclass
class TrainConfig:
    """Hyper-parameters of one job. ``micro_batch * grad_accum * processes`` is the global batch."""
    method: str = "lora"              #: lora | full
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list[str] | None = None  #: module names; None: every linear layer of the body
    lr: float = 2e-4
    epochs: float = 3.0
    max_steps: int | None = None      #: overrides epochs when set
    micro_batch: int = 8
    grad_accum: int = 1
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 256
    precision: str = "auto"           #: auto (bf16 autocast on CUDA and bf16-capable CPUs, else fp32) | fp32 | bf16
    head: str = "supervised"          #: supervised (LM head at supervised positions) | full (HF labels=)
    seed: int = 0
    save_every: int = 50              #: steps between checkpoints (and at the end)
    keep_checkpoints: int = 2

    def __post_init__(self):
        for name in _INT_FIELDS:
            setattr(self, name, _as_int(name, getattr(self, name), optional=name == "max_steps"))
        for name in _FLOAT_FIELDS:
            setattr(self, name, _as_float(name, getattr(self, name)))
        for name, allowed in (("method", METHODS), ("head", HEADS), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"unknown {name} {getattr(self, name)!r}; expected one of {allowed}")
        if self.lora_targets is not None and not (isinstance(self.lora_targets, list) and self.lora_targets
                                                  and all(isinstance(t, str) and t for t in self.lora_targets)):
            raise ConfigError(f"lora_targets must be a non-empty list of module names, got {self.lora_targets!r}")
        for name in ("micro_batch", "grad_accum", "max_length", "save_every", "keep_checkpoints", "lora_r"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1 (or unset, to train for `epochs`), got {self.max_steps}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if self.max_steps is None and not self.epochs > 0:
            raise ConfigError(f"epochs must be > 0 (or set max_steps), got {self.epochs}")
        for name, ok, want in (("lr", self.lr > 0, "> 0"), ("lora_alpha", self.lora_alpha > 0, "> 0"),
                               ("lora_dropout", 0 <= self.lora_dropout < 1, "in [0, 1)"),
                               ("warmup_ratio", 0 <= self.warmup_ratio < 1, "in [0, 1)"),
                               ("weight_decay", self.weight_decay >= 0, ">= 0"),
                               ("max_grad_norm", self.max_grad_norm > 0, "> 0")):
            if not ok:
                raise ConfigError(f"{name} must be {want}, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown training setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclass
class TrainResult:
    out_dir: Path
    status: str                      #: complete | reused
    steps: int
    final_loss: float
    metrics: list[dict] = field(default_factory=list)
    reports: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# tokenisation and batching


def tokenize(tok, examples: list[Example], max_length: int) -> tuple[list[tuple[list[int], list[int]]], dict]:
    """(input ids, labels) per example: prompt tokens (with BOS) unsupervised, response tokens + EOS
    supervised. Longer than ``max_length``: the end is cut (counted in the report)."""
    if tok.eos_token_id is None:
        raise ConfigError("tokenizer has no EOS token; training needs one to end responses")
    out, cut = [], 0
    for k, ex in enumerate(examples):
        p = tok(ex.prompt, add_special_tokens=True).input_ids if ex.prompt else (
            [tok.bos_token_id] if tok.bos_token_id is not None else [])
        r = tok(ex.response, add_special_tokens=False).input_ids + [tok.eos_token_id]
        ids, labels = p + r, [IGNORE] * len(p) + r
        if len(ids) > max_length:
            ids, labels = ids[:max_length], labels[:max_length]
            cut += 1
        if sum(t != IGNORE for t in labels[1:]) == 0:
            raise ConfigError(f"{ex.source or f'example {k + 1} (1-based)'}: no supervised token left within "
                              f"max_length={max_length} "
                              f"(prompt of {len(p)} tokens); raise max_length")
        out.append((ids, labels))
    return out, {"examples": len(out), "truncated_examples": cut}


def collate(rows, pad_id: int, device):
    import torch
    n = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), n), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for b, (i, lab) in enumerate(rows):
        ids[b, : len(i)] = torch.tensor(i)
        labels[b, : len(lab)] = torch.tensor(lab)
        mask[b, : len(i)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def global_batch(step: int, size: int, n: int, seed: int) -> list[int]:
    """Example indices of global batch ``step``: positions ``step*size ..`` of the concatenation of
    per-epoch permutations of ``range(n)`` (epoch ``e`` seeded by ``(seed, e)``)."""
    import torch
    out, pos = [], step * size
    while len(out) < size:
        epoch, within = divmod(pos, n)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
        take = min(size - len(out), n - within)
        out += perm[within: within + take]
        pos += take
    return out


def supervised_tokens(rows) -> int:
    return sum(sum(t != IGNORE for t in lab[1:]) for _, lab in rows)


# ----------------------------------------------------------------------------------------------
# model


def _unwrap_peft(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def lora_target_modules(model, wanted: list[str] | None = None) -> list[str]:
    """Leaf names of the linear layers of the transformer body (the LM head excluded): q_proj,
    k_proj, … for Llama/Gemma, c_attn, c_proj, c_fc for GPT-2. ``wanted`` names are checked to
    match at least one module each."""
    import torch.nn as nn
    from transformers.pytorch_utils import Conv1D

    head = model.get_output_embeddings()
    names = sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules()
                    if isinstance(m, (nn.Linear, Conv1D)) and m is not head and name})
    if wanted is None:
        if not names:
            raise ConfigError(f"{type(model).__name__}: no linear layers found for LoRA; use method 'full'")
        return names
    missing = [w for w in wanted if w not in names]
    if missing:
        raise ConfigError(f"LoRA target(s) {missing} match no linear module of {type(model).__name__}; "
                          f"its linear layers are {names}")
    return list(wanted)


def loss_module(model, head: str):
    """The loss as a torch ``nn.Module`` around ``model``, so DDP/FSDP wrap it and sync gradients."""
    import torch
    import torch.nn.functional as F

    from .models import head_logits

    class CausalLMLoss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, labels, denom):
            """Sum of token losses / ``denom`` (the global supervised-token count, per process)."""
            if head == "full":   # transformers' standard path: logits at every position
                return self.model(input_ids=input_ids, attention_mask=attention_mask, labels=labels,
                                  num_items_in_batch=denom).loss
            base = _unwrap_peft(self.model)
            hidden = base.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            target = labels[:, 1:]
            keep = target.ne(IGNORE)
            logits = head_logits(base, hidden[:, :-1][keep])
            return F.cross_entropy(logits, target[keep], reduction="sum") / denom

    return CausalLMLoss()


def build_model(model_name: str, config: TrainConfig):
    """Load the base model in fp32 (master weights) and wrap it for LoRA when asked. The seed is set
    after loading, so the LoRA initialisation and the dropout masks do not depend on whether loading
    drew random numbers (transformers initialises weights a checkpoint lacks, e.g. a tied head stored
    under the other name — which once shifted every LoRA run of this project)."""
    from accelerate.utils import set_seed

    from .models import load_model

    lm = load_model(model_name, device="cpu", dtype="float32")
    set_seed(config.seed)
    model = lm.model
    model.config.use_cache = False
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model
        targets = lora_target_modules(model, config.lora_targets)
        model = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                                 lora_dropout=config.lora_dropout, target_modules=targets,
                                                 bias="none", task_type="CAUSAL_LM"))
    model.train()
    return lm, model


# ----------------------------------------------------------------------------------------------
# checkpoints


def _data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.prompt, ex.response], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def _job_identity(model_name: str, config: TrainConfig, data_hash: str, world: int) -> dict:
    """What makes a job the same job: the base model's content fingerprint, data, configuration."""
    from .models import fingerprint, resolve
    cfg = asdict(config)
    cfg.pop("save_every")
    cfg.pop("keep_checkpoints")
    return {"model": model_name, "fingerprint": fingerprint(resolve(model_name)), "data": data_hash, "config": cfg,
            "processes": world}


#: What a job folder holds; anything else (or any of these without train.json) was not written by a job.
#: ("train_data.jsonl": notebook 03 kept its training data inside the job folder until it moved beside it.)
JOB_FILES = ("train.json", "metrics.csv", "model", "ckpt", ".model.tmp", "train_data.jsonl")


def _claim_job_folder(out_dir: Path, overwrite: bool):
    """Claim the job folder (:func:`clika_utils.outdir.claim`) and record its files as the job's. They change
    while the job runs (metrics, checkpoints), so they are recorded as trees, without hashes: train.json's job
    identity (base model fingerprint, data, configuration) is what keeps a folder from being reused wrongly."""
    from .outdir import claim
    return claim(out_dir, what="clika train", overwrite=overwrite, adopt=_adopt_job)


def _adopt_job(root: Path) -> dict[str, tuple]:
    """Legacy adoption (a job folder written before ledgers): the job's files, when train.json is a job record."""
    try:
        if "job" not in json.loads((root / "train.json").read_text(encoding="utf-8")):
            return {}
    except (OSError, ValueError, TypeError):
        return {}
    return {name: (None, "") for name in JOB_FILES if (root / name).exists()}


#: Who wrote a job's training data file (``<job>.data.jsonl`` beside the job folder), in that folder's ledger.
DATA_WRITER = "clika training data"


def adopt_jobs(root: Path) -> dict[str, tuple]:
    """Legacy adoption of a folder of training jobs (written before ledgers): every job folder (its train.json a job
    record) and the ``<job>.data.jsonl`` beside it."""
    out = {}
    for job in sorted(p for p in root.iterdir() if p.is_dir()):
        if _adopt_job(job):
            out[job.name] = (None, "")
            if (root / f"{job.name}.data.jsonl").is_file():
                out[f"{job.name}.data.jsonl"] = (DATA_WRITER, "")
    return out


def write_job_data(job: Path, examples: list[Example]) -> Path:
    """``<job>.data.jsonl`` beside the job folder (what :func:`run_job` trains on), written into a folder of jobs
    that may hold the user's files: recorded in its ledger, a file of the user's there refusing the write
    (:func:`clika_utils.outdir.adding`)."""
    from .outdir import adding
    path = job.parent / f"{job.name}.data.jsonl"
    with adding(job.parent, what=DATA_WRITER, adopt=adopt_jobs) as ledger, ledger.writing([path], writer=DATA_WRITER):
        write_examples(path, examples)
    return path


def _check_job(out_dir: Path, identity: dict) -> dict:
    path = out_dir / "train.json"
    if not path.exists():
        return {}
    try:
        have = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(path, f"not valid JSON ({e.msg}): a damaged job record; delete the folder or use "
                              "another one", line=e.lineno) from None
    for key in ("fingerprint", "data", "config"):
        if have.get("job", {}).get(key) != identity[key]:
            raise ConfigError(f"{path}: this folder holds a training job with another {key} "
                              f"({have.get('job', {}).get(key)!r}, this job: {identity[key]!r}); "
                              "use another output folder or delete it")
    return have


def checkpoints(out_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a folder is complete once its state.json exists)."""
    root = Path(out_dir) / "ckpt"
    return sorted(p for p in root.glob("step-*") if (p / "state.json").exists()) if root.exists() else []


def _trainable_state(model, gathered: dict | None = None) -> dict:
    """The trainable parameters on the CPU; under FSDP taken from ``gathered`` (:func:`_gathered_state`)."""
    return {n: (p if gathered is None else gathered[n]).detach().cpu().contiguous()
            for n, p in model.named_parameters() if p.requires_grad}


def _distributed_mode(acc) -> str:
    """accelerate's distributed type by name: NO, MULTI_GPU, MULTI_CPU, FSDP, DEEPSPEED, …"""
    return str(acc.distributed_type).rsplit(".", 1)[-1]


def _gathered_state(acc, model) -> dict | None:
    """Under FSDP the parameters are shards (DTensors): every process takes part in gathering them and
    the main process gets the full state dict on the CPU (others get an empty dict). None otherwise."""
    if _distributed_mode(acc) != "FSDP":
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def _save_checkpoint(acc, model, optimizer, scheduler, out_dir: Path, step: int, metrics: list[dict], keep: int):
    import torch
    from safetensors.torch import save_file

    final = out_dir / "ckpt" / f"step-{step:06d}"
    tmp = out_dir / "ckpt" / f".step-{step:06d}.tmp"
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    acc.wait_for_everyone()
    torch.save({"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all()
                if torch.cuda.is_available() else None}, tmp / f"rng-{acc.process_index}.pt")
    inner = acc.unwrap_model(model).model
    gathered = _gathered_state(acc, inner)
    if acc.is_main_process:
        save_file(_trainable_state(inner, gathered), str(tmp / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        write_json_atomic(tmp / "state.json", {"step": step, "metrics": metrics})
    acc.wait_for_everyone()
    if acc.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        tmp.replace(final)
        for old in checkpoints(out_dir)[:-keep]:
            shutil.rmtree(old)
    acc.wait_for_everyone()
    return final


def _load_checkpoint(acc, model, optimizer, scheduler, ckpt: Path) -> tuple[int, list[dict]]:
    import torch
    from safetensors.torch import load_file

    state = load_file(str(ckpt / "trainable.safetensors"))
    inner = acc.unwrap_model(model).model
    params = dict(inner.named_parameters())
    mismatch = sorted(set(state) ^ {n for n, p in params.items() if p.requires_grad})
    if mismatch:
        raise ConfigError(f"{ckpt}: checkpoint does not fit this model (parameters {mismatch[:3]}…)")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=False))
    rng_file = ckpt / f"rng-{acc.process_index}.pt"
    if rng_file.exists():
        rng = torch.load(rng_file, weights_only=False)
        torch.set_rng_state(rng["torch"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
    meta = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
    return meta["step"], meta["metrics"]


# ----------------------------------------------------------------------------------------------
# the loop


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX). Without it (AVX2 machines such
    as the 2-core reference machine) PyTorch emulates bf16 and autocast is far slower than fp32:
    measured there, a Gemma-3-270M LoRA step's backward pass took ~10x longer under bf16 autocast."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, cuda: bool) -> bool:
    """Whether to train under bf16 autocast: ``auto`` means yes on CUDA and on CPUs with native bf16."""
    if precision == "auto":
        return cuda or cpu_has_native_bf16()
    return precision == "bf16"


def _accelerator(config: TrainConfig):
    import torch
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    bf16 = resolve_precision(config.precision, cuda)
    return Accelerator(cpu=not cuda, mixed_precision="bf16" if bf16 else "no"), bf16


def train(model_name: str, examples: list[Example], out_dir: str | Path, config: TrainConfig | None = None, *,
          progress: bool = True, overwrite: bool = False) -> TrainResult:
    """Fine-tune ``model_name`` (registry name, folder or hub id) on ``examples`` into ``out_dir``.
    Resumes from the newest checkpoint; returns at once when the same job already finished. The folder
    is owned: files no job wrote (a user's ``model/``, …) refuse it unless ``overwrite``; a second
    concurrent job on it is refused."""

    config = config or TrainConfig()
    if not examples:
        raise ConfigError("no training examples")
    out_dir = Path(out_dir)
    acc, bf16 = _accelerator(config)
    with contextlib.ExitStack() as stack:
        if acc.is_main_process:                  # one writer per job folder; files of others refuse it
            from .outdir import locked
            ledger = _claim_job_folder(out_dir, overwrite)
            stack.enter_context(locked(out_dir, "clika train"))
            ledger.trees([out_dir / name for name in JOB_FILES], writer="clika train")
        return _train(model_name, examples, out_dir, config, acc, bf16, progress)


def _train(model_name, examples, out_dir: Path, config: TrainConfig, acc, bf16: bool, progress: bool) -> TrainResult:
    import torch
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    world, rank = acc.num_processes, acc.process_index
    identity = _job_identity(model_name, config, _data_hash(examples), world)
    previous = _check_job(out_dir, identity)
    if previous.get("status") == "complete" and (out_dir / "model").exists():   # reused without loading the model
        return TrainResult(out_dir, "reused", previous["steps"], previous["final_loss"],
                           _read_metrics(out_dir), previous.get("reports", {}))
    lm, model = build_model(model_name, config)      # seeds after loading
    data, reports = tokenize(lm.tokenizer, examples, config.max_length)
    per_process = config.micro_batch * config.grad_accum
    size = per_process * world
    total = config.max_steps or max(1, math.ceil(config.epochs * len(data) / size))
    reports.update({"global_batch": size, "processes": world, "steps": total,
                    "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
                    "precision": "bf16 autocast" if bf16 else "fp32", "head": config.head,
                    "distributed": _distributed_mode(acc)})
    acc.wait_for_everyone()
    if acc.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out_dir / "train.json", {"status": "running", "job": identity, "reports": reports})

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, math.ceil(config.warmup_ratio * total), total)
    wrapped, optimizer = acc.prepare(loss_module(model, config.head), optimizer)  # scheduler: stepped by hand
    trainable = [p for p in wrapped.parameters() if p.requires_grad]   # after prepare: FSDP's sharded ones
    step, metrics = 0, []
    done = checkpoints(out_dir)
    if done and reports["distributed"] in ("FSDP", "DEEPSPEED"):
        raise ConfigError(f"{out_dir}: resuming a {reports['distributed']} job is not supported (its checkpoints hold "
                          "only the main process's optimizer state); delete the folder's ckpt/ to start over, or "
                          "train with plain data parallelism")
    for ckpt in reversed(done):              # the newest whole checkpoint; one a kill or a full disk damaged is skipped
        try:
            step, metrics = _load_checkpoint(acc, wrapped, optimizer, scheduler, ckpt)
        except ConfigError:
            raise
        except Exception as exc:             # safetensors/torch.load/json on a truncated file
            if ckpt == done[0]:              # the model may hold part of a damaged state: no silent restart
                raise ConfigError(f"{ckpt}: damaged checkpoint ({type(exc).__name__}) and no earlier whole one; "
                                  f"delete {ckpt.parent} to train from the start, or pass --overwrite") from None
            warn(f"{ckpt}: damaged checkpoint ({type(exc).__name__}: {str(exc)[:120]}); resuming from "
                 f"{done[done.index(ckpt) - 1].name} instead")
            continue
        reports["resumed_from_step"] = step
        break
    pad = lm.tokenizer.pad_token_id
    bar = tqdm(total=total, initial=step, desc="train", unit="step", disable=not (progress_bars(progress) and acc.is_main_process))
    while step < total:
        start = time.perf_counter()
        mine = global_batch(step, size, len(data), config.seed)[rank * per_process: (rank + 1) * per_process]
        rows = sorted((data[i] for i in mine), key=lambda r: len(r[0]))   # less padding, same sum
        micros = [rows[k: k + config.micro_batch] for k in range(0, len(rows), config.micro_batch)]
        n_global = float(acc.reduce(torch.tensor(float(supervised_tokens(rows)), device=acc.device), "sum"))
        denom = n_global / world          # DDP averages gradients over processes
        loss_sum = torch.zeros((), device=acc.device)
        n_tokens = sum(len(ids) for ids, _ in rows)
        for k, micro in enumerate(micros):
            sync = contextlib.nullcontext() if k == len(micros) - 1 else acc.no_sync(wrapped)
            with sync:
                loss = wrapped(**collate(micro, pad, acc.device), denom=denom)
                acc.backward(loss)
            loss_sum += loss.detach().float() * denom
        step_loss = float(acc.reduce(loss_sum, "sum")) / n_global
        norm = acc.clip_grad_norm_(trainable, config.max_grad_norm)   # None under DeepSpeed (it clips itself)
        grad_norm = float("nan") if norm is None else float(norm)
        if not math.isfinite(step_loss) or (norm is not None and not math.isfinite(grad_norm)):
            good = checkpoints(out_dir)
            where = f"the last good checkpoint is {good[-1]} (step {good[-1].name[5:].lstrip('0') or 0})" if good \
                else "no checkpoint was written yet"
            if acc.is_main_process:
                write_json_atomic(out_dir / "train.json", {"status": "diverged", "job": identity, "reports": reports,
                                                           "diverged_at_step": step + 1, "metrics_tail": metrics[-5:]})
            raise TrainingDiverged(f"training diverged at step {step + 1}: loss {step_loss}, grad norm {grad_norm}; "
                                   f"the update was not applied; {where}. Lower the learning rate or use fp32.")
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        seconds = time.perf_counter() - start
        n_all = float(acc.reduce(torch.tensor(float(n_tokens), device=acc.device), "sum"))
        metrics.append({"step": step, "epoch": round(step * size / len(data), 6), "loss": step_loss, "lr": lr,
                        "grad_norm": grad_norm, "tokens": int(n_all), "supervised_tokens": int(n_global),
                        "tokens_per_s": round(n_all / seconds, 1), "seconds": round(seconds, 4)})
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.4f}", tok_s=f"{n_all / seconds:.0f}")
        if step % config.save_every == 0 or step == total:
            _save_checkpoint(acc, wrapped, optimizer, scheduler, out_dir, step, metrics, config.keep_checkpoints)
            if acc.is_main_process:
                _write_metrics(out_dir, metrics)
    bar.close()
    acc.wait_for_everyone()
    final = acc.unwrap_model(wrapped).model
    gathered = _gathered_state(acc, final)
    if acc.is_main_process:
        _write_metrics(out_dir, metrics)
        tmp = out_dir / ".model.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        final.save_pretrained(tmp, **({} if gathered is None else {"state_dict": gathered}))
        if config.method == "full":  # a LoRA adapter is loaded onto the base model, with the base's tokenizer
            lm.tokenizer.save_pretrained(tmp)
        shutil.rmtree(out_dir / "model", ignore_errors=True)
        tmp.replace(out_dir / "model")
        write_json_atomic(out_dir / "train.json", {"status": "complete", "job": identity, "reports": reports,
                                                   "steps": step, "final_loss": metrics[-1]["loss"]})
    acc.wait_for_everyone()
    return TrainResult(out_dir, "complete", step, metrics[-1]["loss"], metrics, reports)


def run_job(model_name: str, data_file: str | Path, out_dir: str | Path, config: TrainConfig, *,
            num_processes: int = 1, accelerate_config: str | Path | None = None, progress: bool = True) -> None:
    """Train ``model_name`` on the examples in ``data_file`` into ``out_dir``: in this process, or under
    ``accelerate launch`` — with ``accelerate_config`` (a file such as ``configs/accelerate/fsdp.yaml``,
    which sets the processes) or with ``num_processes > 1`` (DDP: several GPUs, or gloo processes on CPU)."""
    import subprocess
    import sys

    out_dir = Path(out_dir)
    if num_processes <= 1 and not accelerate_config:
        train(model_name, read_examples(data_file), out_dir, config, progress=progress)
        return
    if accelerate_config and not Path(accelerate_config).is_file():
        raise ConfigError(f"accelerate config file not found: {accelerate_config}")
    config_file = write_json_atomic(out_dir.parent / f"{out_dir.name}.train_config.json", asdict(config))
    launch = ["--config_file", str(accelerate_config)] if accelerate_config else \
        ["--multi_gpu", "--num_processes", str(num_processes)]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *launch,
           "-m", "clika_utils.cli", "train", "--model", model_name, "--data", str(data_file), "--out", str(out_dir),
           "--config", str(config_file)]
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise ConfigError(f"training under accelerate launch failed (exit {proc.returncode}): {' '.join(cmd)}")


def _write_metrics(out_dir: Path, metrics: list[dict]) -> None:
    import pandas as pd
    write_csv_atomic(pd.DataFrame(metrics), out_dir / "metrics.csv")


def _read_metrics(out_dir: Path) -> list[dict]:
    import pandas as pd
    path = Path(out_dir) / "metrics.csv"
    return pd.read_csv(path).to_dict("records") if path.exists() else []


def job_record(out_dir: str | Path, *, complete: bool = True) -> dict:
    """The ``train.json`` of a finished job (status, ``job``: model, fingerprint, data hash, config;
    ``steps``, ``final_loss``, ``reports``); a folder without a finished job is an error, unless
    ``complete=False`` (then whatever the folder holds, ``{}`` for none)."""
    path = Path(out_dir) / "train.json"
    meta = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if complete and meta.get("status") != "complete":
        raise ConfigError(f"{out_dir}: no finished training job here (status {meta.get('status')!r})")
    return meta


def load_trained(out_dir: str | Path, *, device: str = "auto", dtype: str = "auto"):
    """The fine-tuned model of a finished job as a :class:`~clika_utils.models.LoadedModel`
    (LoRA weights merged into the base), ready for :mod:`clika_utils.evaluate`."""
    from .models import load_model

    out_dir = Path(out_dir)
    job = job_record(out_dir)["job"]
    if job["config"]["method"] == "full":
        return load_model(str(out_dir / "model"), device=device, dtype=dtype)
    from peft import PeftModel
    lm = load_model(job["model"], device="cpu", dtype="float32")
    if lm.fingerprint != job["fingerprint"]:
        raise ConfigError(f"{out_dir}: adapter was trained on {job['model']} with fingerprint {job['fingerprint']}, "
                          f"but that name now loads fingerprint {lm.fingerprint}")
    merged = PeftModel.from_pretrained(lm.model, str(out_dir / "model")).merge_and_unload()
    lm.model = merged.eval()
    adapter = hashlib.sha256((lm.fingerprint + json.dumps(job, sort_keys=True)).encode()).hexdigest()[:16]
    lm.name, lm.fingerprint = f"{job['model']}+lora:{out_dir.name}", adapter
    if device == "auto":
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    if dtype == "bfloat16":
        import torch
        lm.model.to(torch.bfloat16)
    lm.model.to(device)
    lm.device, lm.dtype = device, dtype
    lm.tokenizer.padding_side = "left"
    return lm


def load_adapters(model_name: str, jobs: dict, *, device: str = "auto"):
    """The base model carrying the LoRA adapters of several finished jobs, **unmerged**, named by the keys
    of ``jobs`` — for mixed-batch generation (each prompt through its own adapter, "__base__" through
    none; :meth:`clika_utils.evaluate.Engine.generate`). One model load instead of one per job; the
    outputs are those of each adapter alone (tested). LoRA jobs on this base only. No jobs: the base model as
    :func:`~clika_utils.models.load_model` loads it, which generates for rows named "__base__"."""
    from peft import PeftModel

    from .models import load_model

    if not jobs:
        return load_model(model_name, device=device)
    if device == "auto":
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
    lm = load_model(model_name, device="cpu", dtype="float32")
    model = None
    for name, job in jobs.items():
        spec = job_record(job)["job"]
        if spec["config"]["method"] != "lora":
            raise ConfigError(f"{job}: a {spec['config']['method']} fine-tune has its own weights; only LoRA "
                              f"adapters can share one base model")
        if spec["fingerprint"] != lm.fingerprint:
            raise ConfigError(f"{job}: adapter was trained on fingerprint {spec['fingerprint']}, not on "
                              f"{model_name} ({lm.fingerprint})")
        if model is None:
            model = PeftModel.from_pretrained(lm.model, str(Path(job) / "model"), adapter_name=name)
        else:
            model.load_adapter(str(Path(job) / "model"), adapter_name=name)
    lm.model = model.eval().to(device)
    lm.device = device
    lm.tokenizer.padding_side = "left"
    return lm
