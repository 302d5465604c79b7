"""The physical floor every benchmark here measures in the same run as the systems it compares: one forward
pass of the model body alone (no LM head, no softmax, no cache) over only the tokens a scorer cannot avoid
computing, in the given right-padded batches."""

from __future__ import annotations

import time

import torch


def padded_batches(rows: list[list[int]], batch: int, pad: int) -> list[torch.Tensor]:
    """``rows`` (token lists) as right-padded id tensors of ``batch`` rows each, in order."""
    out = []
    for start in range(0, len(rows), batch):
        part = rows[start: start + batch]
        ids = torch.full((len(part), max(map(len, part))), pad, dtype=torch.long)
        for b, r in enumerate(part):
            ids[b, : len(r)] = torch.tensor(r)
        out.append(ids)
    return out


def body_seconds(engine, batches: list[torch.Tensor]) -> float:
    """Seconds of the body's forward over ``batches`` (the first, once more before timing, as a warm-up)."""
    with torch.inference_mode():
        engine.body(input_ids=batches[0])
        t0 = time.perf_counter()
        for ids in batches:
            engine.body(input_ids=ids)
        return time.perf_counter() - t0
