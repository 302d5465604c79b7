"""Paired comparisons between systems: what a training stage changed, with uncertainty.

Input is an items table as ``clika score`` writes it (``system, task, lang, item_id, correct``), for
stored and live systems alike. For a (derived, base) pair and each task and language:

* Δaccuracy, ΔRA and Δen-CO = metric(derived) − metric(base), metrics as in :mod:`clika_utils.metrics`
  (defaults RA = acc_l / acc_en, en-CO = Jaccard of correct sets).
* CIs: paired percentile bootstrap over items. Both systems are resampled with the *same* draws (the
  task's :func:`~clika_utils.metrics.bootstrap_weights` matrix, the one ``clika score`` uses), so the
  interval is for the difference on the same items, not two independent intervals.
* Group summaries: the mean Δ over a set of (pair, task, language) cells — e.g. the target language(s)
  of a continued-pretraining stage vs the other non-English languages — with equal weight per cell;
  its CI is the percentile interval of the same mean taken over each bootstrap replicate (tasks are
  resampled independently of each other, pairs of one task share draws).

The chance gate (:func:`clika_utils.decide.above_chance`, docs/analysis-plan.md): every metric — accuracy, RA,
en-CO, en-CO beyond chance — is *not measurable* for a (pair, task) when either system is not above chance in
English there (the lower end of its 95 % CI less than :data:`~clika_utils.decide.CHANCE_MARGIN` above the
task's chance level): at chance a model's "correct" answers are the letter it prefers, and differences of
accuracy or overlap measure that preference, not knowledge. Those cells are left out (NaN in the table) and
the claim row says which (pair, task) groups were.

Resampling units (``unit``): ``items`` — the pairs are fixed designs (the live runs: variants of one base),
only the items are sampled; ``pairs`` — the pairs are a sample of the systems one could have compared (the
stored outputs): a hierarchical bootstrap draws the pairs with replacement and, inside each, the items (the
paired item replicates), and the estimate is the mean over pairs of each pair's mean Δ; a row over fewer
than :data:`~clika_utils.decide.MIN_UNITS` pairs is inconclusive.

A :class:`Claim` states a paper claim as an expected sign of such a group mean; :func:`check_claims`
gives the verdict of :mod:`clika_utils.decide` (supported / contradicted / no effect larger than δ /
inconclusive / not measurable) with the minimum detectable effect at the run's sample size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import decide
from .data import TASKS
from .errors import ConfigError, DataError
from .langs import LANGS
from .metrics import bootstrap_weights, lang_metric_samples, percentile_ci, resample_units

METRICS = ("accuracy", "ra", "en_co", "co_kappa")
UNITS = ("items", "pairs")
DELTA_COLUMNS = ["derived", "base", "task", "lang", "metric", "derived_value", "base_value", "delta",
                 "delta_lo", "delta_hi", "n"]
VERDICTS = decide.VERDICTS


def _chance(task: str, extra: dict | None = None) -> float:
    if extra and task in extra:
        return float(extra[task])
    return TASKS[task].chance if task in TASKS else float("nan")


def _system_matrix(sub: pd.DataFrame, system: str, task: str, source: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(languages, item ids, L x n 0/1 matrix) of one system and task; items must align across languages."""
    if sub is None or sub.empty:
        raise DataError(source, f"no items of system {system!r} for task {task!r}")
    order = {lang: i for i, lang in enumerate(LANGS)}
    langs = sorted(sub.lang.unique(), key=lambda x: order.get(x, len(order)))
    ids = None
    rows = []
    by_lang = dict(tuple(sub.groupby("lang", sort=False)))
    for lang in langs:
        part = by_lang[lang].sort_values("item_id")
        if ids is None:
            ids = part.item_id.to_numpy()
        elif not np.array_equal(part.item_id.to_numpy(), ids):
            raise DataError(source, f"{system} / {task}: items of {lang!r} do not align with {langs[0]!r} "
                                    f"({len(part)} vs {len(ids)} items, or different ids)")
        bad = set(part.correct.unique()) - {0, 1, True, False}
        if bad:
            raise DataError(source, f"{system} / {task} / {lang}: 'correct' must be 0/1, found {sorted(bad)[:3]}")
        rows.append(part.correct.to_numpy(dtype=float))
    return langs, ids, np.vstack(rows)


class Comparison:
    """Paired bootstrap replicates of every (pair, task, lang, metric) Δ; see the module docstring."""

    def __init__(self, items: pd.DataFrame, pairs, *, n_boot: int = 1000, seed: int = 0, ra_variant: str = "ratio",
                 co_variant: str = "jaccard", tasks=None, source: str = "items table", chance_gate: bool = True,
                 chance: dict | None = None):
        """``chance``: the chance accuracy of tasks outside the CLiKA streams (e.g. ``{"cldr": 0.25}``);
        ``chance_gate=False`` keeps at-chance cells (for figures that show them, never for claims)."""
        if not pairs:
            raise ConfigError("no (derived, base) pairs to compare")
        known = set(items.system.unique())
        absent = sorted({s for p in pairs for s in p[:2]} - known)
        if absent:
            raise ConfigError(f"{source}: no items for system(s) {absent}")
        self.n_boot, self.seed = n_boot, seed
        self.cells: dict[tuple, tuple[float, float, np.ndarray, int]] = {}
        self.excluded: dict[tuple, str] = {}    # (derived, base, task) -> why nothing is measurable there
        wanted = {s for p in pairs for s in p[:2]}
        groups = {k: g for k, g in items[items.system.isin(wanted)].groupby(["system", "task"], sort=False)}
        for task in tasks or items.task.unique():
            weights = None
            for derived, base, *_ in pairs:
                if (derived, task) not in groups or (base, task) not in groups:
                    continue
                ld, ids_d, cd = _system_matrix(groups[(derived, task)], derived, task, source)
                lb, ids_b, cb = _system_matrix(groups[(base, task)], base, task, source)
                if not np.array_equal(ids_d, ids_b):
                    raise DataError(source, f"{task}: items of {derived!r} and {base!r} do not align "
                                            f"({len(ids_d)} vs {len(ids_b)} items, or different ids); "
                                            "score both on the same items (same --limit)")
                if weights is None or weights.shape[1] != len(ids_d):
                    weights = bootstrap_weights(len(ids_d), n_boot, seed, task)
                common = [x for x in ld if x in lb]
                c = _chance(task, chance)
                md = lang_metric_samples(cd[[ld.index(x) for x in common]], common.index("en") if "en" in common
                                         else None, weights, chance=c, ra_variant=ra_variant, co_variant=co_variant)
                mb = lang_metric_samples(cb[[lb.index(x) for x in common]], common.index("en") if "en" in common
                                         else None, weights, chance=c, ra_variant=ra_variant, co_variant=co_variant)
                note = self._gate(md, mb, common, task, c, derived, base) if chance_gate else ""
                if note:
                    self.excluded[(derived, base, task)] = note
                    nan_b = np.full((len(common), weights.shape[0]), np.nan)
                    for metric in METRICS:
                        md[metric] = mb[metric] = (np.full(len(common), np.nan), nan_b)
                for metric in METRICS:
                    (pd_, rd), (pb, rb) = md[metric], mb[metric]
                    for i, lang in enumerate(common):
                        self.cells[(derived, base, task, lang, metric)] = (float(pd_[i]), float(pb[i]),
                                                                            rd[i] - rb[i], len(ids_d))
        if not self.cells:
            raise ConfigError(f"{source}: none of the pairs has both systems on a common task")

    @staticmethod
    def _gate(md: dict, mb: dict, common: list, task: str, chance: float, derived: str, base: str) -> str:
        """Why nothing is measurable for this pair and task ("" when it is): a system not above chance in
        English (:func:`clika_utils.decide.above_chance`); no English or an unknown chance level: unmeasurable."""
        if "en" not in common:
            return f"{task}: no English results to gate on"
        if not np.isfinite(chance):
            return f"{task}: chance accuracy unknown"
        i = common.index("en")
        at_chance = [s for s, m in ((derived, md), (base, mb))
                     if not decide.above_chance(float(percentile_ci(m["accuracy"][1][i])[0]), chance)]
        return (f"{task}: English accuracy of {' and '.join(at_chance)} not above chance ({chance:.2f} + "
                f"{decide.CHANCE_MARGIN:g})" if at_chance else "")

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per (pair, task, lang, metric): values, Δ and its paired CI."""
        rows = []
        for (d, b, task, lang, metric), (vd, vb, reps, n) in self.cells.items():
            lo, hi = percentile_ci(reps, level)
            rows.append({"derived": d, "base": b, "task": task, "lang": lang, "metric": metric,
                         "derived_value": vd, "base_value": vb, "delta": vd - vb,
                         "delta_lo": float(lo), "delta_hi": float(hi), "n": n})
        df = pd.DataFrame(rows, columns=DELTA_COLUMNS)
        order = {lang: i for i, lang in enumerate(LANGS)}
        return (df.assign(_l=df.lang.map(lambda x: order.get(x, 99)))
                .sort_values(["derived", "base", "task", "_l", "metric"], kind="mergesort")
                .drop(columns="_l").reset_index(drop=True))

    def group(self, pairs, metric: str, langs_of, level: float = 0.95, unit: str = "items") -> dict:
        """Mean Δ of ``metric`` over the cells of ``pairs`` whose language is in ``langs_of(pair)``
        (a function of the (derived, base, …) tuple returning a set of languages): ``delta``, the
        :func:`~clika_utils.decide.summarize` of its replicates (``summary``), ``cells``, ``units`` (pairs with a
        cell), ``n`` (items per language, summed over the tasks) and ``excluded`` (why cells were left out).
        ``unit``: the resampling unit (module docstring)."""
        if metric not in METRICS:
            raise ConfigError(f"unknown metric {metric!r}; expected one of {METRICS}")
        if unit not in UNITS:
            raise ConfigError(f"unknown resampling unit {unit!r}; expected one of {UNITS}")
        points, reps, items, excluded, owner = [], [], {}, [], []
        for k, pair in enumerate(pairs):
            wanted = set(langs_of(pair))
            excluded += [why for (d, b, _), why in self.excluded.items() if (d, b) == tuple(pair[:2])]
            for (d, b, task, lang, m), (vd, vb, r, n) in self.cells.items():
                if (d, b) == tuple(pair[:2]) and m == metric and lang in wanted and not np.isnan(vd - vb):
                    points.append(vd - vb)
                    reps.append(r)
                    items[task] = n
                    owner.append(k)
        if not points:
            return {"delta": float("nan"), "summary": decide.summarize([np.nan]), "cells": 0, "units": 0, "n": 0,
                    "excluded": excluded}
        points, reps, owner = np.asarray(points), np.vstack(reps), np.asarray(owner)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a replicate with every cell NaN stays NaN
            if unit == "items":
                estimate, mean_reps = float(points.mean()), np.nanmean(reps, axis=0)
            else:
                ks = np.unique(owner)
                estimate = float(np.mean([points[owner == k].mean() for k in ks]))
                per_pair = np.vstack([np.nanmean(reps[owner == k], axis=0) for k in ks])     # P x B
                mean_reps = resample_units(per_pair, np.random.default_rng([self.seed, 7]))
        return {"delta": estimate, "summary": decide.summarize(mean_reps, level), "cells": len(points),
                "units": len(np.unique(owner)), "n": int(sum(items.values())), "excluded": excluded}


def deltas(items: pd.DataFrame, pairs, **kw) -> pd.DataFrame:
    """Table of paired Δs (see :class:`Comparison`)."""
    return Comparison(items, pairs, **kw).table()


@dataclass
class Claim:
    """A paper claim as the expected sign of a group-mean Δ.

    ``pairs``: (derived, base, targets) with ``targets`` the stage's target languages ("zh", "zh+en");
    ``group``: ``target`` (the pair's target languages, English excluded), ``others`` (non-English
    languages outside the targets) or ``non_en`` (all non-English languages)."""
    claim: str
    statement: str
    pairs: list
    metric: str
    group: str
    direction: int
    tasks: list | None = field(default=None)

    def langs_of(self, pair) -> set[str]:
        targets = set(pair[2].split("+")) if len(pair) > 2 and pair[2] else set()
        non_en = set(LANGS) - {"en"}
        if self.group == "target":
            return targets - {"en"}
        if self.group == "others":
            return non_en - targets
        if self.group == "non_en":
            return non_en
        raise ConfigError(f"unknown claim group {self.group!r}; expected target, others or non_en")


CLAIM_COLUMNS = ["claim", "statement", "metric", "group", "expected", "pairs", "cells", "unit", "units", "n",
                 "delta", "delta_lo", "delta_hi", "tost_lo", "tost_hi", "mde", "margin", "verdict", "reason"]


def claim_record(claim: str, statement: str, metric: str, group: str, direction: int, pairs: str, g: dict,
                 margin_metric: str | None = None, unit: str = "items") -> dict:
    """One row of a claims table from a group mean ``g`` (``delta``, ``summary``, ``cells``, ``n``,
    optional ``units`` and ``excluded``), judged by :func:`clika_utils.decide.verdict_of`; with ``unit="pairs"``
    fewer than :data:`~clika_utils.decide.MIN_UNITS` pairs cannot decide it."""
    excluded = sorted(set(g.get("excluded") or []))
    undefined = ""
    if not g["cells"]:
        undefined = ("not measurable: " + "; ".join(excluded)) if excluded else "no pair available"
    d = decide.verdict_of(g["delta"], g["summary"], direction, decide.margin(margin_metric or metric),
                          undefined=undefined, units=g.get("units") if unit == "pairs" else None, unit="model pairs")
    reason = d["reason"]
    if excluded and g["cells"]:
        reason = (reason + "; " if reason else "") + f"{len(excluded)} (pair, task) groups left out by the chance " \
            "gate: " + "; ".join(excluded)
    return {"claim": claim, "statement": statement, "metric": metric, "group": group,
            "expected": "increase" if direction > 0 else "decrease", "pairs": pairs, "cells": g["cells"],
            "unit": unit, "units": g.get("units", 0), "n": g["n"], "delta": g["delta"], "delta_lo": d["lo"],
            "delta_hi": d["hi"], "tost_lo": d["tost_lo"], "tost_hi": d["tost_hi"], "mde": d["mde"],
            "margin": d["margin"], "verdict": d["verdict"], "reason": reason}


def check_claims(comparison: Comparison, claims: list[Claim], level: float = 0.95, unit: str = "items") -> pd.DataFrame:
    """One row per claim: the group-mean Δ, its CI, the TOST interval, the MDE and the verdict, resampling
    ``unit`` (module docstring)."""
    rows = []
    for c in claims:
        present = [p for p in c.pairs if any(k[:2] == tuple(p[:2]) for k in comparison.cells)]
        g = comparison.group(present, c.metric, c.langs_of, level, unit=unit)
        rows.append(claim_record(c.claim, c.statement, c.metric, c.group, c.direction,
                                 "; ".join(f"{p[0]} vs {p[1]}" for p in present), g, unit=unit))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def read_items(path) -> pd.DataFrame:
    """An items table as ``clika score`` writes it (``items.csv``), checked for the needed columns."""
    from .io import read_csv_checked
    return read_csv_checked(path, ["system", "task", "lang", "item_id", "correct"])
