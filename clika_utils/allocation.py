"""Allocating a translation-data budget across languages with fitted scaling laws.

Problem: maximise Σ_l w_l·P_l(x_l) subject to Σ_l x_l ≤ B, x_l ≥ m_l, x_l integer multiples of
``unit`` (pairs are allocated in blocks of ``unit``; 1 allows any integer).

* **Concave laws** (every fitted law here: log-linear with a ≥ 0, the saturating power law): greedy
  marginal-gain water-filling — repeatedly give the next block to the language whose weighted score
  rises most — is exact for separable concave objectives with one budget constraint (the discrete
  KKT condition: at the optimum no block can move to a language with a larger marginal gain).
  Blocks with a negative marginal gain are never given: the budget need not be spent.
* **Any other law**: exact dynamic programming over the blocks (O(L·U²) for U = B/unit blocks),
  which replaces a continuous solver: on an integer grid it is exact, not approximate.

Concavity is checked numerically on the grid (second differences ≤ 1e-12·scale); a law that fails it
is solved by the dynamic program. Baselines: ``uniform`` (equal shares after the minimums) and
``proportional`` (shares proportional to a resource measure, e.g. the pairs available per language).
"""

from __future__ import annotations

import heapq
from typing import Callable

import numpy as np
import pandas as pd

from .errors import ConfigError

Law = Callable[[np.ndarray], np.ndarray]


def _check(laws: dict[str, Law], budget: int, minimums: dict | None, weights: dict | None, unit: int):
    if not laws:
        raise ConfigError("no languages to allocate to")
    if unit < 1 or int(unit) != unit:
        raise ConfigError(f"unit must be a positive integer, got {unit}")
    langs = sorted(laws)
    minimums = {lang: int((minimums or {}).get(lang, 0)) for lang in langs}
    weights = {lang: float((weights or {}).get(lang, 1.0)) for lang in langs}
    bad = [lang for lang in langs if minimums[lang] < 0 or minimums[lang] % unit]
    if bad:
        raise ConfigError(f"minimums must be non-negative multiples of unit={unit}: {bad}")
    if any(w < 0 or not np.isfinite(w) for w in weights.values()):
        raise ConfigError(f"weights must be finite and >= 0, got {weights}")
    floor = sum(minimums.values())
    if budget < floor:
        raise ConfigError(f"budget {budget} is below the sum of the minimums {floor}")
    return langs, minimums, weights


def _values(law: Law, xs: np.ndarray) -> np.ndarray:
    v = np.asarray(law(xs.astype(float)), float)
    if v.shape != xs.shape or not np.all(np.isfinite(v)):
        raise ConfigError("a scaling law returned non-finite values on the allocation grid")
    return v


def is_concave(law: Law, lo: int, hi: int, unit: int) -> bool:
    xs = np.arange(lo, hi + 1, unit)
    if len(xs) < 3:
        return True
    v = _values(law, xs)
    return bool(np.all(np.diff(v, 2) <= 1e-12 * (1.0 + np.max(np.abs(v)))))


def optimal(laws: dict[str, Law], budget: int, *, minimums: dict | None = None, weights: dict | None = None,
            unit: int = 1, method: str = "auto") -> dict[str, int]:
    """The optimal integer allocation {lang: x_l}. ``method``: auto | greedy | dp."""
    langs, minimums, weights = _check(laws, budget, minimums, weights, unit)
    blocks = (budget - sum(minimums.values())) // unit
    if method == "auto":
        method = "greedy" if all(is_concave(laws[lang], minimums[lang], minimums[lang] + blocks * unit, unit)
                                 for lang in langs) else "dp"
    if method == "greedy":
        return _greedy(laws, langs, minimums, weights, blocks, unit)
    if method == "dp":
        return _dp(laws, langs, minimums, weights, blocks, unit)
    raise ConfigError(f"unknown allocation method {method!r}; expected auto, greedy or dp")


def _greedy(laws, langs, minimums, weights, blocks, unit) -> dict[str, int]:
    x = dict(minimums)
    grids = {lang: weights[lang] * _values(laws[lang], minimums[lang] + unit * np.arange(blocks + 1))
             for lang in langs}
    given = {lang: 0 for lang in langs}
    heap = [(-(grids[lang][1] - grids[lang][0]), i, lang) for i, lang in enumerate(langs) if blocks > 0]
    heapq.heapify(heap)
    for _ in range(blocks):
        gain, i, lang = heapq.heappop(heap)
        if -gain <= 0:
            break                                 # concave: no later block gains either
        given[lang] += 1
        x[lang] += unit
        if given[lang] < blocks:
            g = grids[lang]
            heapq.heappush(heap, (-(g[given[lang] + 1] - g[given[lang]]), i, lang))
    return x


def _dp(laws, langs, minimums, weights, blocks, unit) -> dict[str, int]:
    grids = [weights[lang] * _values(laws[lang], minimums[lang] + unit * np.arange(blocks + 1)) for lang in langs]
    # best[j][b]: best value of the first j languages using at most b blocks
    best = np.zeros(blocks + 1)
    choice = []
    for g in grids:
        new = np.full(blocks + 1, -np.inf)
        arg = np.zeros(blocks + 1, dtype=int)
        for b in range(blocks + 1):
            cand = best[b - np.arange(b + 1)] + g[: b + 1]      # give k = 0..b blocks to this language
            k = int(np.argmax(cand))
            new[b], arg[b] = cand[k], k
        best, choice = new, choice + [arg]
    x, b = {}, blocks
    for lang, arg in zip(reversed(langs), reversed(choice)):
        k = int(arg[b])
        x[lang] = minimums[lang] + k * unit
        b -= k
    return dict(sorted(x.items()))


def uniform(langs, budget: int, *, minimums: dict | None = None, unit: int = 1) -> dict[str, int]:
    """Equal blocks after the minimums (the remainder to the first languages in sorted order)."""
    laws = {lang: (lambda x: x) for lang in langs}
    langs, minimums, _ = _check(laws, budget, minimums, None, unit)
    blocks = (budget - sum(minimums.values())) // unit
    q, r = divmod(blocks, len(langs))
    return {lang: minimums[lang] + unit * (q + (i < r)) for i, lang in enumerate(langs)}


def proportional(resources: dict[str, float], budget: int, *, minimums: dict | None = None,
                 unit: int = 1) -> dict[str, int]:
    """Blocks after the minimums in proportion to ``resources`` (largest remainders; ties by name)."""
    if any(not v >= 0 for v in resources.values()) or not sum(resources.values()) > 0:
        raise ConfigError(f"resources must be >= 0 with a positive sum, got {resources}")
    laws = {lang: (lambda x: x) for lang in resources}
    langs, minimums, _ = _check(laws, budget, minimums, None, unit)
    blocks = (budget - sum(minimums.values())) // unit
    total = sum(resources.values())
    exact = {lang: blocks * resources[lang] / total for lang in langs}
    base = {lang: int(np.floor(exact[lang])) for lang in langs}
    left = blocks - sum(base.values())
    for lang in sorted(langs, key=lambda lang: (-(exact[lang] - base[lang]), lang))[:left]:
        base[lang] += 1
    return {lang: minimums[lang] + unit * base[lang] for lang in langs}


def objective(laws: dict[str, Law], alloc: dict[str, int], weights: dict | None = None) -> float:
    return float(sum((weights or {}).get(lang, 1.0) * _values(laws[lang], np.array([alloc[lang]]))[0]
                     for lang in alloc))


def compare(laws: dict[str, Law], budget: int, *, resources: dict | None = None, minimums: dict | None = None,
            weights: dict | None = None, unit: int = 1) -> pd.DataFrame:
    """Optimal vs uniform (vs proportional when ``resources`` are given): allocation and predicted objective."""
    plans = {"optimal": optimal(laws, budget, minimums=minimums, weights=weights, unit=unit),
             "uniform": uniform(list(laws), budget, minimums=minimums, unit=unit)}
    if resources:
        plans["proportional"] = proportional(resources, budget, minimums=minimums, unit=unit)
    rows = []
    for name, alloc in plans.items():
        total = objective(laws, alloc, weights)
        for lang, x in alloc.items():
            rows.append({"plan": name, "lang": lang, "size": x,
                         "predicted": float(_values(laws[lang], np.array([x]))[0]), "objective": total})
    return pd.DataFrame(rows)
