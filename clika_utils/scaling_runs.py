"""The training grid behind the scaling laws: for each language, train on a geometric grid of en→X
translation-data sizes with everything else fixed, and measure translation quality on held-out pairs.

Design (one job per language × size × seed):

* the training pool and the test pairs of a language are split once (seed 0): the test set is the same
  for every job; the training pairs of size ``n`` and seed ``r`` are the first ``n`` pairs of the pool
  in a permutation seeded by ``r`` — for one seed the sets are nested, as in a data-scaling study;
* optional fixed task data (CLDR fact QA in English and X, as x-LLaMA's task side) is identical in
  every job of a language, so only the amount of translation data varies;
* ``seeds`` replicates at the ``n_small`` smallest sizes (where variance is largest), one elsewhere;
* the training configuration is the same for every job (``epochs``: larger sets get more steps, as
  in the paper; or ``max_steps`` for equal compute);
* trained adapters and generations are cached per job (``clika_utils.train`` jobs, and the
  evaluation cache of :mod:`clika_utils.xllama`), so reruns and later notebooks reuse them.

Output: the tidy table :data:`clika_utils.scaling.COLUMNS` (lang, size, seed, metric, value) that
:func:`clika_utils.scaling.fit` reads — the same format a user brings from a GPU cluster — plus the
base model's scores (size 0, kept apart: the laws are fitted for x > 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import instructions, translation
from .errors import ConfigError
from .train import TrainConfig


def plan(sizes, seeds: int, n_small: int) -> list[tuple[int, int]]:
    """(size, seed) jobs: ``seeds`` seeds at the ``n_small`` smallest sizes, seed 0 elsewhere."""
    sizes = sorted(int(s) for s in sizes)
    if not sizes or sizes[0] < 1 or len(set(sizes)) != len(sizes):
        raise ConfigError(f"sizes must be distinct positive integers, got {sizes}")
    if seeds < 1 or n_small < 0:
        raise ConfigError("seeds must be >= 1 and n_small >= 0")
    return [(s, r) for i, s in enumerate(sizes) for r in range(seeds if i < n_small else 1)]


def run_grid(model: str, data_home, jobs_dir, live_dir, *, langs, sizes, seeds: int = 2, n_small: int = 2,
             test_pairs: int = 16, task_facts: int = 0, train_config: dict, metrics=("chrf++", "bleu"),
             max_new_tokens: int = 32, batch_size: int = 16, num_processes: int = 1,
             progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tidy results of the trained jobs, the base model's scores)."""
    from .models import fingerprint, resolve
    from .variants import _loader, _train_variant
    from .xllama import _cached, translate

    jobs = plan(sizes, seeds, n_small)
    cfg_base = dict(train_config)
    rows, base_rows = [], []
    base_identity = {"model": fingerprint(resolve(model))}
    for lang in langs:
        instructions.language_name(lang)
        pairs, _ = translation.read_tatoeba(data_home, lang)
        order = np.random.default_rng(0).permutation(len(pairs))
        test = [pairs[i] for i in order[:test_pairs]]
        pool = [pairs[i] for i in order[test_pairs:]]
        if max(sizes) > len(pool):
            raise ConfigError(f"largest size {max(sizes)} exceeds the {len(pool)} en-{lang} training pairs")
        task = []
        if task_facts:
            from . import cldr
            facts = cldr.facts()
            pick = sorted(np.random.default_rng(0).choice(len(facts), min(task_facts, len(facts)), replace=False))
            chosen = [facts[i] for i in pick]
            task = instructions.cldr_task(chosen, "en") + instructions.cldr_task(chosen, lang)
        settings = {"max_new_tokens": max_new_tokens, "template": instructions.TEST_TEMPLATE}
        evaluations = [("base", 0, 0, _loader(model, None), base_identity)]
        for size, seed in jobs:
            perm = np.random.default_rng(seed).permutation(len(pool))
            records = task + instructions.translation([pool[i] for i in perm[:size]], "en", lang)
            job = Path(jobs_dir) / lang / f"n{size}-s{seed}"
            cfg = TrainConfig.from_dict({**cfg_base, "seed": seed})
            _train_variant(model, instructions.examples(records), job, cfg, num_processes, progress)
            identity = json.loads((job / "train.json").read_text(encoding="utf-8"))["job"]
            evaluations.append((f"n{size}-s{seed}", size, seed, _loader(model, job), identity))
        for name, size, seed, load, identity in evaluations:
            key = {"model": identity, "settings": settings, "test": test}
            seg = _cached(Path(live_dir) / lang / f"{name}.mt.csv", key,
                          lambda: translate(load(), test, "en", lang, name, max_new_tokens=max_new_tokens,
                                            batch_size=batch_size))
            scores = translation.score(seg.hypothesis.fillna("").tolist(), seg.reference.tolist(), lang,
                                       metrics=metrics, spbleu="off")
            for r in scores.itertuples():
                row = {"lang": lang, "size": size, "seed": seed, "metric": r.metric, "value": float(r.score)}
                (base_rows if name == "base" else rows).append(row)
    return pd.DataFrame(rows), pd.DataFrame(base_rows)
