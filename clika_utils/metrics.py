"""The CLiKA metrics, on correctness vectors aligned by item id.

The paper does not print its formulas; these are the project's documented defaults, with the
alternatives selectable by argument:

* accuracy_l = correct items / items (official judge).
* RA_l (Relative Accuracy), default ``ratio``: accuracy_l / accuracy_en, same system and task.
  Alternative ``chance_corrected``: (accuracy_l - c) / (accuracy_en - c), c = 1 / #options.
* en-CO_l (English-anchored Consistency), default ``jaccard``: |C_en ∩ C_l| / |C_en ∪ C_l|, C the
  set of correctly answered item ids. Alternative ``en_recall``: |C_en ∩ C_l| / |C_en|.
  Both are 1.0 for English (when English has a correct item). Alternative ``transfer``: the
  authors' group's cross-lingual transfer ratio (Hu, Liu, Gao et al., NAACL 2025, §2.3, "following
  Gao et al. 2024"), :func:`transfer` with s = en, t = l and A_r = the task's chance —
  ``en_recall`` corrected for chance; it is also the default XRR of notebook 03.
* en-CO beyond chance, ``co_kappa`` (the consistency test's measure, docs/metrics.md): Cohen's κ between
  correctness in English and in l divided by the largest κ the two accuracies allow (Cohen 1960, κ_max),
  which for 0/1 correctness is (p11 − a_en·a_l) / (min(a_en, a_l) − a_en·a_l) with p11 the share of items
  right in both: 0 when correctness in l is independent of correctness in English given both accuracies,
  1 when the smaller correct set lies inside the larger one (as consistent as the accuracies allow),
  negative when they avoid each other. Unlike en-CO it has a data-dependent null: a model answering at
  random gets ≈ 0 whatever its accuracy, so "less consistent than the accuracies allow" can be tested and
  can fail. Undefined (NaN) when an accuracy is 0 or 1.
* RankC_l (Qi et al., EMNLP 2023; official code Betswish/Cross-Lingual-Consistency ``RankC.py``):
  consistency of the model's *ranking* of the options in English and in l, whatever their accuracy —
  per item Σ_j w_j · |top_j(en) ∩ top_j(l)| / j with softmax weights over the ranks, averaged over
  items (:func:`rankc_items`). Needs stored option scores (the live ``letter`` and ``text`` methods).
* The official normalised score (``normalize_res.py``): max(0, (acc - c) / (ref - c)), ref =
  ChatGPT's English accuracy (x_csqa .746, x_copa .964, x_geo .970, x_name .922).

An undefined value (a zero denominator) is NaN, never a made-up number.

Confidence intervals: percentile bootstrap over items. Each task draws one B x n matrix of
multinomial resampling counts (seeded by ``seed`` and the task name); every system and language
of that task is resampled with the same draws, so en and l stay paired and systems stay comparable.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np

from .errors import ConfigError

RA_VARIANTS = ("ratio", "chance_corrected")
CO_VARIANTS = ("jaccard", "en_recall", "transfer")


def _check(variant: str, allowed: tuple[str, ...], what: str) -> None:
    if variant not in allowed:
        raise ConfigError(f"unknown {what} variant {variant!r}; expected one of {allowed}")


def accuracy(correct) -> float:
    c = np.asarray(correct, dtype=float)
    if c.size == 0:
        raise ValueError("accuracy of zero items is undefined")
    return float(c.mean())


def _div(num, den):
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0, np.nan, out)


def relative_accuracy(acc_l, acc_en, variant: str = "ratio", chance: float | None = None):
    """RA from accuracies (scalars or arrays). ``chance`` is needed for ``chance_corrected``."""
    _check(variant, RA_VARIANTS, "RA")
    if variant == "ratio":
        return _div(acc_l, acc_en)
    if chance is None:
        raise ConfigError("chance-corrected RA needs the chance accuracy of the task")
    num, den = np.asarray(acc_l, float) - chance, np.asarray(acc_en, float) - chance
    return _div(num, np.where(den <= 0, 0.0, den))  # at or below chance in English: undefined


def chance_correct(value, chance: float):
    """(value - A_r) / (1 - A_r): 0 at chance, 1 at perfect, negative below chance (kept, not clipped)."""
    if not 0 <= chance < 1:
        raise ConfigError(f"chance accuracy must lie in [0, 1); got {chance!r}")
    return (np.asarray(value, float) - chance) / (1.0 - chance)


def transfer(correct_s, correct_t, chance: float):
    """Cross-lingual transfer ratio XLTR(s, t) = (|C_s ∩ C_t| / |C_s| - A_r) / (1 - A_r).

    Published by the CLiKA authors' group (Hu, Liu, Gao, ..., Huang, *LLMs Are Cross-Lingual
    Knowledge-Free Reasoners*, NAACL 2025, §2.3) "following Gao et al. (2024)": C_x is the set of
    items answered correctly in language x (boolean vectors aligned by item, last axis), A_r the
    accuracy of random choice. Item-conditioned — only what is right in s counts — and chance-
    corrected: 1 = everything right in s is right in t, 0 = t is right on those items as often as
    chance, below 0 = worse than chance. |C_s| = 0 leaves it undefined: NaN (see :func:`transfer_note`).
    """
    s, t = np.asarray(correct_s, bool), np.asarray(correct_t, bool)
    return chance_correct(_div((s & t).sum(-1), s.sum(-1)), chance)


def transfer_note(n_correct_source: int) -> str:
    """Why a transfer value is undefined ('' when it is defined)."""
    return "" if n_correct_source else "undefined: no item answered correctly in the source language (|C_s| = 0)"


def en_co(correct_en, correct_l, variant: str = "jaccard", chance: float | None = None):
    """en-CO from two boolean correctness vectors aligned by item (last axis). ``transfer`` needs
    ``chance`` (the task's A_r)."""
    _check(variant, CO_VARIANTS, "en-CO")
    if variant == "transfer":
        if chance is None:
            raise ConfigError("the transfer en-CO variant needs the chance accuracy of the task")
        return transfer(correct_en, correct_l, chance)
    e, l_ = np.asarray(correct_en, bool), np.asarray(correct_l, bool)
    inter = (e & l_).sum(-1)
    den = (e | l_).sum(-1) if variant == "jaccard" else e.sum(-1)
    return _div(inter, den)


def co_kappa(correct_en, correct_l):
    """en-CO beyond chance (κ/κ_max, see the module docstring) from two boolean correctness vectors aligned by
    item (last axis); NaN where an accuracy is 0 or 1."""
    e, l_ = np.asarray(correct_en, float), np.asarray(correct_l, float)
    n = e.shape[-1]
    return _kappa_ratio((e * l_).sum(-1) / n, e.sum(-1) / n, l_.sum(-1) / n)


def _kappa_ratio(p11, a, b):
    p11, a, b = (np.asarray(x, float) for x in (p11, a, b))
    expected = a * b
    return _div(p11 - expected, np.minimum(a, b) - expected)


def rankc_weights(n_options: int) -> np.ndarray:
    """RankC's rank weights: softmax over (N, N-1, ..., 1) — the official code's ``softmax`` of ``order``."""
    order = np.arange(n_options, 0, -1, dtype=float)
    e = np.exp(order)
    return e / e.sum()


def option_ranking(scores) -> np.ndarray:
    """Option indices best first (higher score = better) along the last axis; ties keep the options'
    order, as the official code's stable ``sorted`` over the candidates does."""
    return np.argsort(-np.asarray(scores, dtype=float), axis=-1, kind="stable")


def rankc_items(scores_s, scores_t) -> np.ndarray:
    """Per-item RankC between languages s and t from option scores (items x options, aligned by item
    and option): Σ_{j=1..N} w_j · |top_j(s) ∩ top_j(t)| / j, w = :func:`rankc_weights`. Identical
    rankings give 1; the official RankC of a system is the mean over items (×1, not ×100)."""
    s, t = np.asarray(scores_s, dtype=float), np.asarray(scores_t, dtype=float)
    if s.shape != t.shape or s.ndim != 2 or s.shape[1] < 1:
        raise ConfigError(f"RankC needs two items x options score arrays of one shape; got {s.shape} and {t.shape}")
    n, k = s.shape
    rs, rt = option_ranking(s), option_ranking(t)
    w = rankc_weights(k)
    rows = np.arange(n)[:, None]
    out = np.zeros(n)
    for j in range(1, k + 1):
        top_s, top_t = np.zeros((n, k), bool), np.zeros((n, k), bool)
        top_s[rows, rs[:, :j]] = True
        top_t[rows, rt[:, :j]] = True
        out += w[j - 1] * (top_s & top_t).sum(1) / j
    return out


def rankc_chance(n_options: int) -> float:
    """Expected per-item RankC of two independent, uniformly random rankings: top-j sets of N options
    share j²/N options on average, so Σ_j w_j · j / N."""
    return float(rankc_weights(n_options) @ (np.arange(1, n_options + 1) / n_options))


def rankc_metrics(scores: list, en_row: int | None, weights: np.ndarray, level: float = 0.95) -> dict:
    """RankC(en → l) per language with percentile-bootstrap CIs over items (the same resampled items as
    the other metrics). ``scores``: per language an items x options array, or None where the result
    file stores no option scores (RankC is then NaN, as it is for every language without English)."""
    n_lang = len(scores)
    out = {k: np.full(n_lang, np.nan) for k in ("rankc", "rankc_lo", "rankc_hi")}
    if en_row is None or scores[en_row] is None:
        return out
    for i, sc in enumerate(scores):
        if sc is None:
            continue
        r = rankc_items(scores[en_row], sc)
        lo, hi = percentile_ci((weights @ r)[None, :] / len(r), level)
        out["rankc"][i], out["rankc_lo"][i], out["rankc_hi"][i] = r.mean(), lo[0], hi[0]
    return out


def normalised_score(acc, task_chance: float, ref: float):
    """The official script's normalisation: max(0, (acc - c) / (ref - c)) (fractions, not percent)."""
    return np.maximum(0.0, (np.asarray(acc, float) - task_chance) / (ref - task_chance))


def bootstrap_weights(n: int, n_boot: int, seed: int, stream: str) -> np.ndarray:
    """B x n matrix of resampling counts (each row sums to n), deterministic in (seed, stream)."""
    if n <= 0 or n_boot <= 0:
        raise ValueError("bootstrap needs n > 0 items and n_boot > 0 replicates")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(stream.encode())]))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


def resample_units(per_unit, rng: np.random.Generator) -> np.ndarray:
    """The outer level of a hierarchical bootstrap. ``per_unit``: U × B, row u the B inner replicates of unit u
    (a model pair, a training seed). Replicate b draws U units with replacement and averages their b-th inner
    replicates (NaN ignored; all NaN stays NaN). With one unit it returns that unit's replicates."""
    per_unit = np.asarray(per_unit, float)
    u, b = per_unit.shape
    draw = rng.integers(0, u, size=(b, u))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # "Mean of empty slice": the replicate stays NaN
        return np.nanmean(per_unit[draw, np.arange(b)[:, None]], axis=1)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along the last axis, ignoring NaN replicates (all NaN -> NaN)."""
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": the result is NaN, as documented
        lo = np.nanquantile(samples, alpha, axis=-1)
        hi = np.nanquantile(samples, 1.0 - alpha, axis=-1)
    return lo, hi


def lang_metric_samples(correct: np.ndarray, en_row: int | None, weights: np.ndarray, *, chance: float,
                        ra_variant: str = "ratio", co_variant: str = "jaccard") -> dict:
    """Point estimates and bootstrap replicates of accuracy, RA and en-CO for one system and task.

    ``correct``: L x n 0/1 matrix (languages x items, aligned). ``en_row``: the English row, or None
    (RA and en-CO are then NaN). ``weights``: B x n from :func:`bootstrap_weights`. Returns
    ``{metric: (point[L], replicates[L, B])}`` for metric in accuracy, ra, en_co, co_kappa.
    """
    _check(ra_variant, RA_VARIANTS, "RA")
    _check(co_variant, CO_VARIANTS, "en-CO")
    c = np.asarray(correct, dtype=float)
    n = c.shape[1]
    acc = c.mean(axis=1)
    acc_b = (c @ weights.T) / n                       # L x B, exact integer sums / n
    out = {"accuracy": (acc, acc_b)}
    if en_row is None:
        nan, nan_b = np.full(len(acc), np.nan), np.full(acc_b.shape, np.nan)
        out["ra"] = out["en_co"] = out["co_kappa"] = (nan, nan_b)
        return out
    out["ra"] = (relative_accuracy(acc, acc[en_row], ra_variant, chance),
                 relative_accuracy(acc_b, acc_b[en_row][None, :], ra_variant, chance))
    e = c[en_row][None, :]
    inter = c * e
    den = np.maximum(c, e) if co_variant == "jaccard" else np.broadcast_to(e, c.shape)
    co = (_div(inter.sum(1), den.sum(1)), _div(inter @ weights.T, den @ weights.T))
    out["en_co"] = tuple(chance_correct(v, chance) for v in co) if co_variant == "transfer" else co
    both = (inter.sum(1) / n, (inter @ weights.T) / n)
    out["co_kappa"] = (_kappa_ratio(both[0], acc[en_row], acc), _kappa_ratio(both[1], acc_b[en_row][None, :], acc_b))
    return out


def lang_metrics(correct: np.ndarray, en_row: int | None, weights: np.ndarray, *, chance: float,
                 ra_variant: str = "ratio", co_variant: str = "jaccard", level: float = 0.95) -> dict:
    """Point estimates and percentile-bootstrap CIs for one system and task (arrays of length L:
    ``accuracy``, ``accuracy_lo``, ``accuracy_hi``, ``ra``…, ``en_co``…); see :func:`lang_metric_samples`."""
    out = {}
    for name, (point, reps) in lang_metric_samples(correct, en_row, weights, chance=chance, ra_variant=ra_variant,
                                                   co_variant=co_variant).items():
        out[name] = point
        out[f"{name}_lo"], out[f"{name}_hi"] = percentile_ci(reps, level)
    return out


def wilson_ci(k, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``k / n`` (arrays allowed; NaN where ``n`` is 0). Used where
    only counts are stored: unlike the normal approximation it stays inside [0, 1] and is not degenerate at
    0 or n successes (Wilson 1927; Brown, Cai & DasGupta 2001 recommend it for small n)."""
    from statistics import NormalDist

    k, n = np.asarray(k, float), np.asarray(n, float)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half
