"""Live evaluation of a causal LM on the CLiKA streams, written in the official results format.

Methods:

* ``generate`` — the official protocol: greedy decoding (``num_beams=2`` mimics the stored runs) of a
  few tokens after the prompt, judged by the official first-character rule.
* ``letter`` — log-probability of each option letter as the next token after the prompt; the
  prediction is the argmax. The LM head is computed at the last prompt position only.
* ``text`` — log-likelihood of each full option continuation ``"B. <option text>"``; reports the raw
  sum (``res``) and the length-normalised choice (``res_norm``, log-likelihood per character, as
  lm-evaluation-harness's acc / acc_norm). The prompt is encoded once and its KV cache reused for all
  options; logits are computed at continuation positions only.

Speed: the prompts of one (task, language) share a long instruction + worked example. Their common
token prefix is run once; its KV cache is copied for every batch, and only the item-specific
suffixes are run (right-padded, so no pad ever precedes a real token).

Data parallel: under ``accelerate launch`` (several GPUs or nodes) each process scores every N-th
pending item into ``<file>.part<rank>``; after a barrier the main process merges the parts in item
order. Output: ``<out>/<task>/<lang>/<system>_res.jsonl`` lines ``{id, input, res, label, method, scores?,
res_norm?}`` — ``clika score`` and notebook 01 read them like the stored runs — plus
``<out>/<system>.eval.json`` (model, fingerprint, method, settings, reports). Rerunning skips the
items already written; an output folder holding another model's or method's results is an error.
"""

from __future__ import annotations

import bisect
import copy
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .data import TASKS, check_tasks, lang_folders
from .errors import ClikaError, ConfigError, DataError
from .io import read_jsonl, write_json_atomic
from .langs import check_langs
from .models import head_logits
from .outdir import claim, locked, safe_name
from .prompts import load_items, official_prompts
from .settings import progress_bars

METHODS = ("generate", "letter", "text")


@dataclass(frozen=True)
class EvalItem:
    item_id: int
    prompt: str
    label: str
    options: tuple[str, ...]


def task_items(root, task: str, lang: str, limit: int | None = None) -> list[EvalItem]:
    """The official prompts of (task, lang) with their option texts; the first ``limit`` items."""
    prompts = official_prompts(root, task, lang)
    items = load_items(root, task, lang)
    if len(prompts) != len(items):
        raise DataError(Path(root) / task, f"{lang}: {len(prompts)} model inputs but {len(items)} source items")
    out = []
    for (prompt, label), item in zip(prompts, items):
        if label != item.label:
            raise DataError(Path(root) / task, f"{lang} item {item.item_id}: model input label {label!r} differs "
                                                f"from source item label {item.label!r}")
        out.append(EvalItem(item.item_id, prompt, label, item.options))
    return out[:limit] if limit else out


# ----------------------------------------------------------------------------------------------
# scoring primitives


def _check_finite(t, what: str) -> None:
    import torch
    if not torch.isfinite(t).all():
        raise ClikaError(f"non-finite (NaN/inf) logits in {what}; the model or dtype is broken for this input "
                         "(try dtype float32)")


def _common_prefix(token_lists) -> int:
    first = token_lists[0]
    n = min(len(t) for t in token_lists) - 1  # every sequence keeps at least one own token
    for t in token_lists[1:]:
        i = 0
        while i < n and t[i] == first[i]:
            i += 1
        n = i
    return max(n, 0)


class Engine:
    """Batched scoring of prompts with shared-prefix KV reuse."""

    def __init__(self, lm, batch_size: int = 8, max_length: int | None = None):
        self.lm = lm
        self.tok = lm.tokenizer
        self.body = lm.model.base_model
        self.batch_size = batch_size
        cfg = lm.model.config
        self.max_length = max_length or getattr(cfg, "max_position_embeddings", None) or 2048
        self.n_truncated = 0

    def encode(self, text: str) -> list[int]:
        ids = self.tok(text, add_special_tokens=True).input_ids
        if len(ids) > self.max_length - 16:
            keep = self.max_length - 16
            bos = [ids[0]] if self.tok.bos_token_id is not None and ids[0] == self.tok.bos_token_id else []
            ids = bos + ids[len(ids) - keep + len(bos):]
            self.n_truncated += 1
        return ids

    def _run(self, input_ids, cache, start: int):
        """Forward of ``input_ids`` at positions ``start``.. after ``cache``. No attention mask: every
        sequence here is right-padded, and causal attention already keeps real tokens from seeing the
        pads that follow them (identical results, ~10% faster than an explicit mask on CPU)."""
        import torch
        pos = torch.arange(start, start + input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        pos = pos.expand(input_ids.shape[0], -1)
        return self.body(input_ids=input_ids, cache=cache, position_ids=pos, use_cache=True)

    def _prefix_cache(self, prefix: list[int]):
        import torch
        if not prefix:
            return None
        return self._run(torch.tensor([prefix], device=self.lm.device), None, 0).cache

    def _suffix_run(self, cache, n_prefix: int, suffixes: list[list[int]], rows_of: list[int] | None = None):
        """Forward of right-padded suffixes after a copy of ``cache``: every suffix after the whole (one-row) cache,
        or with ``rows_of`` suffix k after row ``rows_of[k]`` of a many-row cache. The output keeps its cache."""
        import torch
        B, S = len(suffixes), max(len(s) for s in suffixes)
        pad = self.tok.pad_token_id
        ids = torch.full((B, S), pad, dtype=torch.long, device=self.lm.device)
        for b, s in enumerate(suffixes):
            ids[b, : len(s)] = torch.tensor(s)
        c = None
        if cache is not None:
            c = copy.deepcopy(cache)
            if rows_of is None:
                c.batch_repeat_interleave(B)
            else:
                c.batch_select_indices(torch.tensor(rows_of, device=self.lm.device))
        return self._run(ids, c, n_prefix)

    def _suffix_hidden(self, cache, n_prefix: int, suffixes: list[list[int]]):
        """Hidden states of right-padded suffixes after a (copied, expanded) prefix cache."""
        return self._suffix_run(cache, n_prefix, suffixes).last_hidden_state

    def last_hidden(self, token_lists: list[list[int]]):
        """Final-layer hidden state at the last token of each sequence (in order)."""
        import torch
        out = [None] * len(token_lists)
        n_prefix = _common_prefix(token_lists)
        with torch.inference_mode(), self.lm.autocast():
            cache = self._prefix_cache(token_lists[0][:n_prefix])
            for start in range(0, len(token_lists), self.batch_size):
                batch = token_lists[start: start + self.batch_size]
                suffixes = [t[n_prefix:] for t in batch]
                h = self._suffix_hidden(cache, n_prefix, suffixes)
                for b, s in enumerate(suffixes):
                    out[start + b] = h[b, len(s) - 1]
        return torch.stack(out)

    def letter_logprobs(self, prompts: list[str], letter_ids: list[int]):
        """n x L log-probabilities of the option letters as the next token."""
        import torch
        hidden = self.last_hidden([self.encode(p) for p in prompts])
        with torch.inference_mode():
            logits = head_logits(self.lm.model, hidden)
        _check_finite(logits, "letter scoring")
        return torch.log_softmax(logits, dim=-1)[:, letter_ids]

    def shared_prefix(self, prompts: list[str]) -> tuple:
        """KV cache of the tokens every one of ``prompts`` starts with (e.g. a prompt template's
        header), for :meth:`continuation_logprobs` to start from instead of recomputing it."""
        import torch
        toks = [self.encode(p) for p in prompts]
        n = _common_prefix(toks)
        with torch.inference_mode(), self.lm.autocast():
            return self._prefix_cache(toks[0][:n]), toks[0][:n]

    def _continuation_hidden(self, prompt: str, continuations: list[str], prefix):
        """Hidden states that predict each continuation token (concatenated over continuations), the
        target token ids, and each continuation's length."""
        import torch
        ctx = self.encode(prompt)
        cache, head = prefix if prefix is not None else (None, [])
        if cache is None or ctx[: len(head)] != head or len(head) >= len(ctx):
            cache, head = None, []
        n_ctx = len(self.tok(prompt, add_special_tokens=True).input_ids)
        conts = []
        for c in continuations:
            cont = self.tok(prompt + c, add_special_tokens=True).input_ids[n_ctx:]
            if not cont:
                raise ClikaError(f"continuation {c!r} encodes to no tokens after the prompt")
            conts.append(cont)
        with torch.inference_mode(), self.lm.autocast():
            out = self._run(torch.tensor([ctx[len(head):]], device=self.lm.device),
                            copy.deepcopy(cache) if cache is not None else None, len(head))
            first = out.last_hidden_state[0, -1]                           # predicts each cont's 1st token
            hidden = self._suffix_hidden(out.cache, len(ctx), [c[:-1] or c[:1] for c in conts])
            hs = torch.cat([torch.cat([first[None], hidden[k, : len(cont) - 1]], dim=0) for k, cont in enumerate(conts)])
        return hs, [t for c in conts for t in c], [len(c) for c in conts]

    def continuation_logprobs_many(self, prompts: list[str], continuations: list[list[str]], prefix: tuple | None = None,
                                   chunk: int = 32):
        """:meth:`continuation_logprobs` for many prompts. The LM head — a memory-bound read of the
        whole 262k-row matrix for Gemma, whatever the number of rows — runs once per ``chunk`` prompts
        over all their continuation positions, not once per prompt."""
        import torch
        out = []
        for start in range(0, len(prompts), chunk):
            parts = [self._continuation_hidden(p, c, prefix)
                     for p, c in zip(prompts[start: start + chunk], continuations[start: start + chunk])]
            with torch.inference_mode():
                logp = torch.log_softmax(head_logits(self.lm.model, torch.cat([h for h, _, _ in parts])), dim=-1)
                _check_finite(logp, "continuation scoring")
                picked = logp[torch.arange(len(logp)), torch.tensor([t for _, ts, _ in parts for t in ts])]
            k = 0
            for _, _, lengths in parts:
                sums = [float(x.sum()) for x in torch.split(picked[k: k + sum(lengths)], lengths)]
                out.append((sums, lengths))
                k += sum(lengths)
        return out

    def continuation_logprobs_batched(self, prompts: list[str], continuations: list[list[str]],
                                      prefix: tuple | None = None, rows: int = 32, head_rows: int = 128,
                                      tokens: int = 1024):
        """:meth:`continuation_logprobs_many` with the prompts batched too, in two stages. Prompts whose own tokens
        (after the shared ``prefix``) are equally long run together, up to ``tokens`` tokens a pass, unpadded, each
        once; then every (prompt, continuation) pair with more than one token is a right-padded row of the
        continuation but its last token on top of its prompt's cache, ``rows`` rows a pass. (The first version put
        the prompt's tokens into each of its options' rows: about 2.9 times the body's work on the CLDR probe.)
        The LM head (a memory-bound read of the whole vocabulary matrix) runs once per ``head_rows`` distinct
        contexts, and only on distinct ones: every option of a question is predicted from the same last prompt
        token, and options that begin alike share their first positions too, so each such state enters the head
        once. Tokenisation and the positions read are those of the per-prompt path, which runs the same two
        stages one prompt at a time (tested: the same predictions)."""
        import torch
        cache, head = prefix if prefix is not None else (None, [])
        owns, conts_of = [], []
        contexts: dict[tuple, int] = {}            # (prompt index, continuation tokens before it) -> id
        targets = []                               # per (prompt, continuation): the context id of each token
        for i, (prompt, conts) in enumerate(zip(prompts, continuations)):
            ctx = self.encode(prompt)
            if cache is None or ctx[: len(head)] != head or len(head) >= len(ctx):
                raise ClikaError("continuation_logprobs_batched needs every prompt to start with the shared prefix")
            n_ctx = len(self.tok(prompt, add_special_tokens=True).input_ids)
            owns.append(ctx[len(head):])
            conts_of.append([])
            for c in conts:
                cont = self.tok(prompt + c, add_special_tokens=True).input_ids[n_ctx:]
                if not cont:
                    raise ClikaError(f"continuation {c!r} encodes to no tokens after the prompt")
                conts_of[i].append(cont)
                targets.append([contexts.setdefault((i, tuple(cont[:j])), len(contexts)) for j in range(len(cont))])
        states = [None] * len(contexts)
        by_length: dict[int, list[int]] = {}
        for i, own in enumerate(owns):
            by_length.setdefault(len(own), []).append(i)
        for n_own, group in sorted(by_length.items()):
            step = max(1, tokens // n_own)
            for start in range(0, len(group), step):
                part = group[start: start + step]
                with torch.inference_mode(), self.lm.autocast():
                    out = self._suffix_run(cache, len(head), [owns[i] for i in part])     # equally long: no pads
                    for q, i in enumerate(part):              # the state every continuation's first token needs
                        states[contexts[i, ()]] = out.last_hidden_state[q, -1].clone()
                    later = [(q, i, cont) for q, i in enumerate(part) for cont in conts_of[i] if len(cont) > 1]
                    for r_start in range(0, len(later), rows):
                        chunk = later[r_start: r_start + rows]
                        hidden = self._suffix_run(out.cache, len(head) + n_own, [cont[:-1] for _, _, cont in chunk],
                                                  rows_of=[q for q, _, _ in chunk]).last_hidden_state
                        for b, (_, i, cont) in enumerate(chunk):
                            for j in range(1, len(cont)):
                                cid = contexts[i, tuple(cont[:j])]
                                if states[cid] is None:
                                    states[cid] = hidden[b, j - 1].clone()   # not a view: the batch can go
        plan = [cont for conts in conts_of for cont in conts]
        wanted = sorted({(cid, t) for ids, cont in zip(targets, plan) for cid, t in zip(ids, cont)})
        slot = {w: k for k, w in enumerate(wanted)}
        values = []                                 # the log-probability of each wanted (context, token), in order
        for h_start in range(0, len(states), head_rows):
            h_end = min(h_start + head_rows, len(states))
            block = wanted[bisect.bisect_left(wanted, (h_start, -1)): bisect.bisect_left(wanted, (h_end, -1))]
            with torch.inference_mode():
                logp = torch.log_softmax(head_logits(self.lm.model, torch.stack(states[h_start:h_end])), dim=-1)
                _check_finite(logp, "continuation scoring")
                # gathered into a small tensor of their own (a view would keep the whole block's logits alive)
                values.append(logp[torch.tensor([c - h_start for c, _ in block], dtype=torch.long),
                                   torch.tensor([t for _, t in block], dtype=torch.long)])
        flat = torch.cat(values)
        sums = [float(flat[torch.tensor([slot[cid, t] for cid, t in zip(ids, cont)])].sum())
                for ids, cont in zip(targets, plan)]
        lengths = [len(cont) for cont in plan]
        out, k = [], 0
        for conts in continuations:
            n = len(conts)
            out.append((sums[k: k + n], lengths[k: k + n]))
            k += n
        return out

    def continuation_logprobs(self, prompt: str, continuations: list[str], prefix: tuple | None = None):
        """Sum of log-probabilities of each continuation given the prompt, and its token count.

        Tokenisation as lm-evaluation-harness: encode prompt+continuation whole and take the tokens
        after the prompt's own encoding. ``prefix``: from :meth:`shared_prefix` (used when the prompt
        starts with its tokens)."""
        return self.continuation_logprobs_many([prompt], [continuations], prefix)[0]

    def generate(self, prompts: list[str], max_new_tokens: int, num_beams: int = 1,
                 adapter_names: list[str] | None = None) -> list[str]:
        """Greedy (or beam) continuations. ``adapter_names``: one LoRA adapter per prompt ("__base__" for
        none) when the model carries several unmerged adapters (:func:`clika_utils.train.load_adapters`)."""
        import torch
        if adapter_names is not None and len(adapter_names) != len(prompts):
            raise ConfigError(f"{len(adapter_names)} adapter names for {len(prompts)} prompts")
        if adapter_names is not None and not hasattr(self.lm.model, "peft_config"):
            if set(adapter_names) - {"__base__"}:
                raise ConfigError(f"adapters {sorted(set(adapter_names) - {'__base__'})} asked of a model without "
                                  f"LoRA adapters")
            adapter_names = None                              # a plain model is its own "__base__"
        out = []
        for start in range(0, len(prompts), self.batch_size):
            batch = [self.encode(p) for p in prompts[start: start + self.batch_size]]
            L = max(len(b) for b in batch)
            pad = self.tok.pad_token_id
            ids = torch.tensor([[pad] * (L - len(b)) + b for b in batch], device=self.lm.device)
            mask = torch.tensor([[0] * (L - len(b)) + [1] * len(b) for b in batch], device=self.lm.device)
            extra = {} if adapter_names is None else {"adapter_names": adapter_names[start: start + self.batch_size]}
            with torch.inference_mode(), self.lm.autocast():
                gen = self.lm.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                             do_sample=False, num_beams=num_beams, pad_token_id=pad,
                                             top_p=None, top_k=None, temperature=None, **extra)
            out += self.tok.batch_decode(gen[:, L:], skip_special_tokens=True)
        return out


def letter_token_ids(tok, letters: str, context_tail: str = "Answer:") -> list[int]:
    """Token id of each letter as it follows ``context_tail`` (the tokens after the context's own)."""
    base = tok(context_tail, add_special_tokens=False).input_ids
    ids = []
    for letter in letters:
        whole = tok(context_tail + letter, add_special_tokens=False).input_ids
        if whole[: len(base)] != base or len(whole) <= len(base):
            raise ConfigError(f"tokenizer merges option letter {letter!r} into {context_tail!r}; letter scoring "
                              "needs the letter to start a new token (use --method text or generate)")
        ids.append(whole[len(base)])
    if len(set(ids)) != len(ids):
        raise ConfigError(f"option letters {letters} share a first token {ids}")
    return ids


# ----------------------------------------------------------------------------------------------
# running an evaluation with resume


def _manifest(lm, method: str, settings: dict) -> dict:
    return {"model": lm.name, "source": lm.source, "fingerprint": lm.fingerprint, "method": method,
            "dtype": lm.dtype, "settings": settings}


def _check_manifest(path: Path, want: dict) -> dict:
    if not path.exists():
        return {}
    try:
        have = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(path, f"damaged manifest ({e.msg}): the results beside it cannot be attributed to a model; "
                              "delete it with its result files, or use another --out", line=e.lineno) from None
    for key in ("fingerprint", "method", "dtype"):
        if have.get(key) != want[key]:
            raise ConfigError(f"{path}: this output folder holds results of {have.get('model')!r} "
                              f"({key}={have.get(key)!r}), not of {want['model']!r} ({key}={want[key]!r}); "
                              "use another --out or another --system name")
    if have.get("settings") != want["settings"]:
        raise ConfigError(f"{path}: existing results used settings {have.get('settings')}, this run "
                          f"{want['settings']}; use another --out or --system")
    return have


def distributed_state():
    """accelerate's PartialState when launched with several processes, else None. GPUs: ``accelerate launch
    --multi_gpu``; CPU processes: ``torchrun`` (accelerate's own CPU multi-process launch needs MPI)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState
    return PartialState(cpu=not torch.cuda.is_available())  # CPU processes (tests, laptops): gloo


def _part_path(path: Path, rank: int) -> Path:
    return path.with_name(f"{path.name}.part{rank}")  # not *.jsonl: never read as a result file


def _merge_parts(path: Path) -> None:
    """Append every process's part file to ``path`` in item order, then delete the parts."""
    parts = sorted(path.parent.glob(f"{path.name}.part*"))
    rows = []
    for part in parts:
        if part.stat().st_size:
            _done_ids(part)  # drop a line cut off by a kill
            rows += [line for line in part.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows.sort(key=lambda line: json.loads(line)["id"])
    if rows:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in rows))
            fh.flush()
            os.fsync(fh.fileno())
    for part in parts:
        part.unlink()


def _done_ids(path: Path) -> tuple[set[int], int]:
    """Ids already written; a trailing line cut off by a kill is removed (and counted)."""
    if not path.exists() or path.stat().st_size == 0:
        return set(), 0
    data = path.read_bytes()
    cut = 0
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(keep)
        cut = 1
    if path.stat().st_size == 0:
        return set(), cut
    return {r["id"] for r in read_jsonl(path, required=("id", "res", "label"))}, cut


def evaluate(lm, root, out_dir, *, tasks, langs, method: str, system: str, limit: int | None = None,
             batch_size: int = 8, max_new_tokens: int = 5, num_beams: int = 1, progress: bool = True,
             overwrite: bool = False) -> dict:
    """Evaluate ``lm`` on ``tasks`` x ``langs``; append to the official-format files; return the manifest.

    The output folder is owned (:mod:`clika_utils.outdir`): files it did not write refuse it unless
    ``overwrite``; a second concurrent run on it is refused; the system's manifest (model fingerprint,
    method, settings) is written *before* the first result line and checked on every resume."""

    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; expected one of {METHODS}")
    check_settings(limit=limit, batch_size=batch_size, max_new_tokens=max_new_tokens, num_beams=num_beams)
    safe_name(system, "system name")
    tasks, langs = check_tasks(tasks), check_langs(langs)
    out_dir = Path(out_dir)
    settings = {"limit": limit, "max_new_tokens": max_new_tokens if method == "generate" else None,
                "num_beams": num_beams if method == "generate" else None, "prompts": "official model inputs"}
    manifest_path = out_dir / f"{system}.eval.json"
    manifest = _manifest(lm, method, settings)
    state = distributed_state()
    rank, world = (state.process_index, state.num_processes) if state else (0, 1)
    if rank != 0:
        state.wait_for_everyone()             # the main process claims the folder and writes the manifest first
        return _evaluate(lm, root, out_dir, tasks, langs, method, system, limit, batch_size, max_new_tokens,
                         num_beams, progress, manifest, _check_manifest(manifest_path, manifest), state)
    ledger = claim(out_dir, what=WRITER, owner=system, overwrite=overwrite, adopt=adopt_eval_folder)
    with locked(out_dir, "clika evaluate"):
        previous = _check_manifest(manifest_path, manifest)
        if not previous:
            orphans = sorted(str(p.relative_to(out_dir)) for p in out_dir.glob(f"*/*/{system}_res.jsonl*"))
            if orphans:
                raise ConfigError(f"{out_dir}: holds results of system {system!r} ({orphans[0]}…) without their "
                                  f"manifest {manifest_path.name}: their model is unknown; use another --out or "
                                  "--system, or --overwrite to start this system clean")
            ledger.pending([manifest_path], writer=WRITER, owner=system)
            write_json_atomic(manifest_path, {**manifest, "status": "running"})   # first: a resume checks it
        if state:
            state.wait_for_everyone()
        return _evaluate(lm, root, out_dir, tasks, langs, method, system, limit, batch_size, max_new_tokens,
                         num_beams, progress, manifest, previous, state, ledger)


WRITER = "clika evaluate"


def adopt_eval_folder(root: Path) -> dict[str, tuple]:
    """Legacy adoption (a results folder written before ledgers): each system whose manifest
    ``<system>.eval.json`` is a clika manifest owns it and its ``<task>/<lang>/<system>_res.jsonl`` files, written
    by ``clika evaluate`` or, where the manifest says so, ``clika lm-eval import``. Result files without their
    manifest are adopted by nobody."""
    out = {}
    for m in root.glob("*.eval.json"):
        system = m.name[: -len(".eval.json")]
        try:
            data = json.loads(m.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or "method" not in data or "status" not in data:
                continue
        except (OSError, ValueError):
            continue
        writer = "clika lm-eval import" if data.get("source") == "lm-evaluation-harness" else WRITER
        for f in [m, *(p for task in TASKS for p in root.glob(f"{task}/*/{system}_res.jsonl*"))]:
            out[f.relative_to(root).as_posix()] = (writer, system)
    return out


def check_settings(*, limit=None, batch_size=1, max_new_tokens=1, num_beams=1) -> None:
    """Range checks of the evaluation settings (before any work)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a whole number >= 1 (or unset for every item), got {limit!r}")
    for name, value in (("batch_size", batch_size), ("max_new_tokens", max_new_tokens), ("num_beams", num_beams)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")


def _evaluate(lm, root, out_dir, tasks, langs, method, system, limit, batch_size, max_new_tokens, num_beams,
              progress, manifest, previous, state, ledger=None) -> dict:
    from tqdm.auto import tqdm

    manifest_path = out_dir / f"{system}.eval.json"
    rank, world = (state.process_index, state.num_processes) if state else (0, 1)
    engine = Engine(lm, batch_size=batch_size)
    work, mine = [], []
    for task in tasks:
        for lang in langs:
            items = task_items(root, task, lang, limit)
            folder = lang_folders(Path(root) / task, (lang,))[lang].name
            path = out_dir / task / folder / f"{system}_res.jsonl"
            done, cut = _done_ids(path)
            for part in sorted(path.parent.glob(f"{path.name}.part*")) if path.parent.exists() else []:
                part_done, part_cut = _done_ids(part)   # a killed data-parallel run left these
                done |= part_done
                cut += part_cut
            todo = [it for it in items if it.item_id not in done][rank::world]
            work.append((task, lang, path if world == 1 else _part_path(path, rank), todo, cut))
            if todo or done:
                mine += [path] if world == 1 else [path] + [_part_path(path, r) for r in range(world)]
    if ledger is not None:         # the main process: what this run appends to is this system's from now on
        ledger.pending(mine, writer=WRITER, owner=system)
    if state:
        state.wait_for_everyone()  # every process plans from the same files before any process writes
    total = sum(len(w[3]) for w in work)
    reports = dict(previous.get("reports", {}))
    reports.setdefault("truncated_prompts", 0)
    reports["cut_lines_removed_on_resume"] = reports.get("cut_lines_removed_on_resume", 0) + sum(w[4] for w in work)
    reports["notes"] = lm.notes
    bar = tqdm(total=total, desc=f"{system} [{method}]", unit="item", disable=not progress_bars(progress), mininterval=10)
    for task, lang, path, todo, _ in work:
        if not todo:
            continue
        letters = TASKS[task].letters
        path.parent.mkdir(parents=True, exist_ok=True)
        letter_ids = letter_token_ids(lm.tokenizer, letters) if method == "letter" else None
        chunk = max(batch_size * 4, 32)
        for start in range(0, len(todo), chunk):
            part = todo[start: start + chunk]
            rows = _score_part(engine, method, part, letters, letter_ids, max_new_tokens, num_beams)
            with open(path, "a", encoding="utf-8") as fh:   # whole lines, flushed per chunk: resumable
                fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
                fh.flush()
                os.fsync(fh.fileno())
            bar.update(len(part))
    bar.close()
    reports["truncated_prompts"] += engine.n_truncated
    if state:
        state.wait_for_everyone()
        if state.is_main_process:
            for _, _, part, _, _ in work:
                _merge_parts(part.with_name(part.name.rsplit(".part", 1)[0]))
        state.wait_for_everyone()
        reports["processes"] = world
    manifest = {**manifest, "reports": reports, "status": "complete"}
    if rank == 0:
        write_json_atomic(manifest_path, manifest)
        if ledger is not None:
            for rel in [r for r, e in ledger.files.items() if e["owner"] == system and not (out_dir / r).exists()]:
                del ledger.files[rel]                 # merged part files
            ledger.record([out_dir / r for r, e in ledger.files.items() if e["owner"] == system], writer=WRITER,
                          owner=system)
    return manifest


def _score_part(engine, method, part, letters, letter_ids, max_new_tokens, num_beams) -> list[dict]:
    rows = []
    if method == "generate":
        texts = engine.generate([it.prompt for it in part], max_new_tokens, num_beams)
        for it, text in zip(part, texts):
            rows.append({"id": it.item_id, "input": it.prompt, "res": text, "label": it.label, "method": method})
    elif method == "letter":
        lp = engine.letter_logprobs([it.prompt for it in part], letter_ids)
        for it, scores in zip(part, lp.tolist()):
            best = max(range(len(letters)), key=lambda k: scores[k])
            rows.append({"id": it.item_id, "input": it.prompt, "res": letters[best], "label": it.label,
                         "method": method, "scores": [round(s, 6) for s in scores]})
    else:
        for it in part:
            conts = [f"{letter}. {text}" for letter, text in zip(letters, it.options)]
            ll, _ = engine.continuation_logprobs(it.prompt, conts)
            norm = [s / max(len(c), 1) for s, c in zip(ll, conts)]
            raw_best = max(range(len(ll)), key=lambda k: ll[k])
            norm_best = max(range(len(norm)), key=lambda k: norm[k])
            if any(math.isnan(s) for s in ll):
                raise ClikaError(f"NaN log-likelihood for item {it.item_id}")
            rows.append({"id": it.item_id, "input": it.prompt, "res": letters[raw_best], "label": it.label,
                         "res_norm": letters[norm_best], "method": method, "scores": [round(s, 6) for s in ll]})
    return rows
