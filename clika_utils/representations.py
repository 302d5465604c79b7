"""How aligned are two languages' representations, layer by layer?

For parallel sentences (Tatoeba pairs, XQuAD questions) the hidden states of every layer are
**mean-pooled over the sentence's own tokens**: padding is excluded (the x-LLM analysis script divides
by the padded length, which mixes pad states into the mean and depends on the batch — not repeated
here), and so is the BOS token the model needs in front (its state is an attention sink with a huge
norm that would dominate every mean). Layer 0 is the embedding output, layer L the last block's
output after the final norm (transformers' ``hidden_states`` convention).

Per layer, for aligned pairs (x_i, y_i):

* ``cos_matched`` – mean cosine of translation pairs; ``cos_mismatched`` – mean cosine over all
  non-translation pairs (i ≠ j); ``cos_gap`` – their difference (the matched similarity beyond what
  any two sentences share at that layer, which is large in anisotropic layers);
* ``cka`` – linear CKA (Kornblith et al. 2019) between the two n×d matrices (columns centred);
* ``retrieval_xy`` / ``retrieval_yx`` – top-1 parallel-sentence retrieval by cosine, both directions.

95 % CIs: bootstrap over pairs (the same draws for every layer); for retrieval the candidate set stays
whole and the queries are resampled. :func:`peak_layer` gives the layer where a metric peaks and the
bootstrap distribution of that layer, so "the middle layers align best" is a statement with a CI.

Pooled states are cached per (model fingerprint, sentences hash): one ``.npy`` per layer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .metrics import bootstrap_weights, percentile_ci


def _sentences_hash(sentences: list[str]) -> str:
    return hashlib.sha256(json.dumps(sentences, ensure_ascii=False).encode()).hexdigest()[:16]


def pooled_states(lm, sentences: list[str], *, layers=None, batch_size: int = 16, cache_dir=None,
                  source: str = "sentences") -> dict[int, np.ndarray]:
    """{layer: n × d float32 array} of mean-pooled hidden states (see the module docstring)."""
    import torch

    tok = lm.tokenizer
    encoded = []
    for i, s in enumerate(sentences):
        ids = tok(s, add_special_tokens=False).input_ids if isinstance(s, str) else []
        if not ids:
            raise DataError(source, f"sentence {i + 1} ({s!r}) tokenizes to nothing; expected text", line=i + 1)
        encoded.append(ids)
    n_layers = int(getattr(lm.model.config, "num_hidden_layers", 0) or
                   getattr(getattr(lm.model.config, "text_config", None), "num_hidden_layers", 0))
    wanted = list(range(n_layers + 1)) if layers is None else [int(k) for k in layers]
    bad = [k for k in wanted if not 0 <= k <= n_layers]
    if bad:
        raise ConfigError(f"layer index(es) {bad} out of range: this model has layers 0..{n_layers}")
    folder = Path(cache_dir) / lm.fingerprint / _sentences_hash(sentences) if cache_dir else None
    if folder is not None and all((folder / f"layer-{k:03d}.npy").exists() for k in wanted):
        return {k: np.load(folder / f"layer-{k:03d}.npy") for k in wanted}
    bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    sums = {k: [] for k in wanted}
    for start in range(0, len(encoded), batch_size):
        batch = [bos + e for e in encoded[start: start + batch_size]]
        L = max(len(b) for b in batch)
        ids = torch.tensor([b + [pad] * (L - len(b)) for b in batch], device=lm.device)
        mask = torch.tensor([[1] * len(b) + [0] * (L - len(b)) for b in batch], device=lm.device)
        with torch.inference_mode(), lm.autocast():
            out = lm.model.base_model(input_ids=ids, attention_mask=mask, output_hidden_states=True)   # no LM head
        hidden = getattr(out, "hidden_states", None)
        if hidden is None or len(hidden) != n_layers + 1:
            raise ConfigError(f"{lm.name}: the model returns no per-layer hidden states "
                              f"(output_hidden_states); representation analysis needs them")
        keep = mask.clone()
        keep[:, : len(bos)] = 0                                # the BOS is not part of the sentence
        w = keep.unsqueeze(-1).float()
        for k in wanted:
            h = hidden[k].float()
            sums[k].append(((h * w).sum(1) / w.sum(1)).cpu().numpy().astype(np.float32))
    states = {k: np.concatenate(v) for k, v in sums.items()}
    if folder is not None:
        from .io import write_bytes_atomic
        import io
        for k, arr in states.items():
            buf = io.BytesIO()
            np.save(buf, arr)
            write_bytes_atomic(folder / f"layer-{k:03d}.npy", buf.getvalue())
    return states


# ----------------------------------------------------------------------------------------------
# metrics


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm == 0, 1.0, norm)


def cosine_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _unit(x) @ _unit(y).T


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA: ||Yᶜᵀ Xᶜ||²_F / (||Xᶜᵀ Xᶜ||_F · ||Yᶜᵀ Yᶜ||_F), columns centred."""
    x = np.asarray(x, np.float64) - np.mean(x, 0)
    y = np.asarray(y, np.float64) - np.mean(y, 0)
    num = np.linalg.norm(y.T @ x) ** 2
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(num / den) if den > 0 else float("nan")


def retrieval(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 per query: x_i retrieves y_i (row argmax), y_i retrieves x_i (column argmax)."""
    idx = np.arange(sim.shape[0])
    return (np.argmax(sim, 1) == idx).astype(float), (np.argmax(sim, 0) == idx).astype(float)


def alignment(x_states: dict[int, np.ndarray], y_states: dict[int, np.ndarray], *, n_boot: int = 1000,
              seed: int = 0, level: float = 0.95, stream: str = "pairs") -> pd.DataFrame:
    """Per layer: matched/mismatched cosine, gap, CKA, retrieval both ways, with bootstrap CIs."""
    layers = sorted(x_states)
    if sorted(y_states) != layers:
        raise ConfigError("the two languages' states cover different layers")
    n = len(x_states[layers[0]])
    if n < 2 or any(len(x_states[k]) != n or len(y_states[k]) != n for k in layers):
        raise DataError(stream, f"need at least 2 aligned pairs with the same count in both languages, "
                                f"got {n} and {len(y_states[layers[0]])}")
    w = bootstrap_weights(n, n_boot, seed, stream) if n_boot else None
    rows = []
    for k in layers:
        sim = cosine_matrix(x_states[k], y_states[k])
        matched = np.diag(sim)
        off = (sim.sum(1) - matched) / (n - 1)          # per query: mean similarity to the other sentences
        rxy, ryx = retrieval(sim)
        row = {"layer": k, "cos_matched": matched.mean(), "cos_mismatched": off.mean(),
               "cos_gap": (matched - off).mean(), "cka": linear_cka(x_states[k], y_states[k]),
               "retrieval_xy": rxy.mean(), "retrieval_yx": ryx.mean()}
        if w is not None:
            for name, per in (("cos_gap", matched - off), ("retrieval_xy", rxy), ("retrieval_yx", ryx)):
                lo, hi = percentile_ci(w @ per / n, level)
                row[f"{name}_lo"], row[f"{name}_hi"] = float(lo), float(hi)
        rows.append(row)
    return pd.DataFrame(rows)


def peak_layer(x_states, y_states, metric: str = "cos_gap", *, n_boot: int = 1000, seed: int = 0) -> dict:
    """The layer where ``metric`` (cos_gap or retrieval) peaks, and the bootstrap share of each layer as
    the peak (the same pair draws for every layer)."""
    layers = sorted(x_states)
    n = len(x_states[layers[0]])
    per_layer = []
    for k in layers:
        sim = cosine_matrix(x_states[k], y_states[k])
        matched = np.diag(sim)
        if metric == "cos_gap":
            per_layer.append(matched - (sim.sum(1) - matched) / (n - 1))
        elif metric == "retrieval":
            rxy, ryx = retrieval(sim)
            per_layer.append((rxy + ryx) / 2)
        else:
            raise ConfigError(f"peak_layer metric must be cos_gap or retrieval, got {metric!r}")
    per_layer = np.array(per_layer)                                  # layers × pairs
    point = layers[int(np.argmax(per_layer.mean(1)))]
    w = bootstrap_weights(n, n_boot, seed, f"peak-{metric}")
    reps = (w @ per_layer.T) / n                                      # boot × layers
    winners = np.array(layers)[np.argmax(reps, 1)]
    share = {k: float(np.mean(winners == k)) for k in layers}
    lo, hi = np.quantile(winners, [0.025, 0.975])
    return {"metric": metric, "peak": point, "peak_lo": int(lo), "peak_hi": int(hi), "n_layers": max(layers),
            "share": share}
