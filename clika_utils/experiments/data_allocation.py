"""Notebook 08: allocate a translation-data budget with the fitted laws of notebook 07, then check the
promise by experiment.

1. **Laws** — the law notebook 07 preferred (lowest BIC; or a named one) is refitted to its table
   for the chosen metric, with a residual bootstrap; ``P_l(x)`` per language.
2. **Plans** — :func:`clika_utils.allocation.compare`: the optimal integer allocation of the budget
   (exact: water-filling for concave laws, dynamic programming otherwise), uniform shares, and
   shares proportional to the pairs available; each with its predicted objective Σ w_l·P_l(x_l).
   The *predicted gain* optimal − uniform carries a CI from the bootstrap replicates of the fit.
3. **Validation** — for the optimal and the uniform plan, an m-LLaMA-style mixture (every language's
   pairs in one training set, the same fixed task data, the same training configuration; one job
   per plan and seed) is trained and every language is translated on held-out pairs. The *measured
   gain* is the difference of the weighted sum of corpus scores, with a 95 % paired bootstrap CI
   over test sentences (per language, the same resampled sentences for both plans; corpus scores
   recomputed from sacrebleu's sufficient statistics in every replicate). With several seeds the
   scores are averaged over seeds first; the CI then covers test sampling, not training seeds.
   Identical plans share one trained model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import allocation, claims, decide, instructions, scaling, translation
from ..claims import PaperClaim
from ..config import ExperimentConfig
from ..decide import summarize
from ..errors import ConfigError
from ..metrics import percentile_ci, resample_units
from ..models import fingerprint, resolve
from ..provenance import input_hashes, run_config
from ..settings import workdir
from ..train import TrainConfig, job_record
from .shared import (check_seeds, evaluate_adapters, load_tables, run_first, split, subset, task_records,
                     train_or_reuse, translate, write)

FILES = ("fit", "plans", "predicted_gain", "measured", "validation", "budgets", "segments")
#: the per-sentence inputs of the measured gain (published, so its CI can be recomputed from the results alone)
SEGMENT_COLUMNS = ["plan", "seed", "lang", "item_id", "hypothesis", "reference"]


def laws_of(f: scaling.Fit) -> dict:
    """{lang: P_l} callables of a converged fit."""
    if not f.converged:
        raise ConfigError(f"the {f.law} fit did not converge ({f.message}): nothing to allocate with")
    return {lang: (lambda x, lang=lang: f.predict(lang, x)) for lang in f.langs}


def predicted_gain(f: scaling.Fit, plans: dict[str, dict], *, weights=None, level: float = 0.95) -> dict:
    """Predicted objective difference optimal − uniform and its percentile CI over the fit's
    bootstrap replicates (the plans held fixed)."""
    est = allocation.objective(laws_of(f), plans["optimal"], weights) - \
        allocation.objective(laws_of(f), plans["uniform"], weights)
    lo = hi = np.nan
    if f.boot is not None and f.boot.converged.any():
        reps = []
        for rec in f.boot[f.boot.converged].drop(columns=["replicate", "converged"]).to_dict("records"):
            g = scaling.Fit(f.law, f.langs, rec, True, "", f.n, f.k, np.nan, f.covariate)
            reps.append(allocation.objective(laws_of(g), plans["optimal"], weights)
                        - allocation.objective(laws_of(g), plans["uniform"], weights))
        lo, hi = percentile_ci(np.array(reps), level)
    return {"predicted": float(est), "lo": float(lo), "hi": float(hi)}


def measured_gain(segments: pd.DataFrame, *, metric: str, weights=None, n_boot: int = 1000, seed: int = 0,
                  level: float = 0.95) -> dict:
    """Weighted sum over languages of the corpus ``metric`` for the plans ``optimal`` and ``uniform``
    (mean over training seeds), their difference and its CI from a hierarchical bootstrap: the training seeds
    are the outer level (drawn with replacement; with one seed there is nothing to draw), the test sentences
    the inner one (the same sentences for both plans and every seed: paired). ``seeds``: how many there were."""
    rng = np.random.default_rng(seed)
    langs = sorted(segments.lang.unique())
    seeds = sorted(segments.seed.unique())
    totals = {"optimal": 0.0, "uniform": 0.0}
    per_seed = np.zeros((len(seeds), n_boot))                 # optimal − uniform, per seed and replicate
    for lang in langs:
        w = float((weights or {}).get(lang, 1.0))
        seg = segments[segments.lang == lang]
        n = seg[(seg.plan == "optimal") & (seg.seed == seeds[0])].shape[0]
        idx = rng.integers(0, n, size=(n_boot, n))          # the same sentences for both plans and seeds
        for plan, sign in (("optimal", 1.0), ("uniform", -1.0)):
            for k, s in enumerate(seeds):
                part = seg[(seg.plan == plan) & (seg.seed == s)].sort_values("item_id", key=lambda c: c.astype(int))
                if len(part) != n:
                    raise ConfigError(f"{plan} seed {s} has {len(part)} {lang} segments, expected {n}")
                stats, score_of = translation.corpus_stats(part.hypothesis.fillna("").tolist(),
                                                           part.reference.tolist(), lang, metric)
                totals[plan] += w * score_of(stats.sum(0)) / len(seeds)
                per_seed[k] += sign * w * np.array([score_of(stats[i].sum(0)) for i in idx])
    sm = summarize(resample_units(per_seed, rng), level)
    return {"optimal": totals["optimal"], "uniform": totals["uniform"],
            "measured": totals["optimal"] - totals["uniform"], "lo": sm["lo"], "hi": sm["hi"],
            "tost_lo": sm["tost_lo"], "tost_hi": sm["tost_hi"], "se": sm["se"], "n": n, "seeds": len(seeds)}


def gain_margin(n_langs: int) -> float:
    """δ of the measured gain, a sum over ``n_langs`` languages: one point per language."""
    return decide.margin("sum_points") * n_langs


def _plan_name(alloc: dict, seed: int) -> str:
    return "-".join(f"{lang}{x}" for lang, x in sorted(alloc.items())) + f"-s{seed}"


def execute(model: str, data_home, results_dir, jobs_dir, live_dir, *, scaling_dir=None, table_csv=None,
            metric: str, law: str, budget: int, minimums: dict, weights: dict, unit: int, resources: dict,
            budgets: list, test_pairs: int, task_facts: int, train_config: dict, seeds: int,
            max_new_tokens: int, batch_size: int, n_boot: int, seed: int, validate: bool = True,
            num_processes: int = 1, accelerate_config: str | None = None, parameters: dict | None = None,
            progress: bool = True) -> dict:
    config = run_config(locals())
    check_seeds(seeds)
    if table_csv:
        table = scaling.read_table(table_csv)
        inputs = input_hashes([table_csv], root=workdir())
        law = law or "power"
    else:
        if scaling_dir is None or not (Path(scaling_dir) / "table.csv").exists():
            raise ConfigError(f"no scaling results in {scaling_dir}: run notebook 07 first, or set table_csv")
        found = load_tables(scaling_dir, ("table", "laws"))
        table = found["table"]
        inputs = input_hashes([Path(scaling_dir) / "table.csv", Path(scaling_dir) / "laws.csv"], root=workdir())
        law = law or scaling.preferred(found["laws"], metric)
    rows = scaling.check_table(table[table.metric == metric].reset_index(drop=True), f"{metric} rows")
    f = scaling.fit(rows, law, n_boot=n_boot, seed=seed)
    laws = laws_of(f)
    langs = list(f.langs)
    pools = {lang: split(data_home, lang, test_pairs) for lang in langs}
    if not resources:
        resources = {lang: len(pools[lang][1]) for lang in langs}
    cmp = allocation.compare(laws, budget, resources=resources, minimums=minimums, weights=weights, unit=unit)
    plans = {p: dict(zip(g.lang, g["size"].astype(int))) for p, g in cmp.groupby("plan")}
    gain = predicted_gain(f, plans, weights=weights)
    sweep = []
    for b in budgets:
        for r in allocation.compare(laws, int(b), resources=resources, minimums=minimums, weights=weights,
                                    unit=unit).itertuples():
            sweep.append({"budget": int(b), "plan": r.plan, "lang": r.lang, "size": int(r.size),
                          "predicted": r.predicted, "objective": r.objective})
    tables = {"fit": scaling.param_table(f).assign(metric=metric), "plans": cmp.assign(metric=metric),
              "predicted_gain": pd.DataFrame([{"metric": metric, "law": law, "budget": budget, **gain}]),
              "budgets": pd.DataFrame(sweep)}
    segments = []
    if validate:
        base_id = {"model": fingerprint(resolve(model))}
        settings = {"max_new_tokens": max_new_tokens, "template": instructions.TEST_TEMPLATE,
                    "batching": "mixed LoRA adapters"}
        trained = {}
        for s in range(seeds):
            for plan in ("optimal", "uniform"):
                alloc = plans[plan]
                name = _plan_name(alloc, s)
                records = []
                for lang in langs:
                    records += task_records(lang, task_facts)
                    records += instructions.translation(subset(pools[lang][1], alloc[lang], s), "en", lang)
                job = Path(jobs_dir) / name
                train_or_reuse(model, instructions.examples(records), job,
                               TrainConfig.from_dict({**train_config, "seed": s}), num_processes, progress,
                               accelerate_config)
                trained[(plan, s)] = (name, job, job_record(job)["job"])
        # both plans (every seed) translate each language's test pairs in shared batches: one base model
        # carrying the mixtures' LoRA adapters unmerged (an identical plan is one adapter, evaluated once)
        jobs = {name: job for name, job, _ in sorted(trained.values(), key=lambda t: t[0])}
        caches = {name: {lang: (Path(live_dir) / f"{name}.{lang}.mt.csv", {"model": identity, "base": base_id,
                                                                         "settings": settings, "test": pools[lang][0]})
                         for lang in langs} for name, _, identity in trained.values()}

        def compute(lm, adapter: dict) -> dict:
            fresh = {name: {} for name in adapter}
            for lang in langs:
                out = translate(lm, pools[lang][0], "en", lang, max_new_tokens=max_new_tokens,
                                batch_size=batch_size, adapters=list(adapter.values()))
                for name, a in adapter.items():
                    fresh[name][lang] = out[a]
            return fresh

        done = evaluate_adapters(model, jobs, caches, compute)
        for (plan, s), (name, _, _) in trained.items():
            for lang in langs:
                segments.append(done[name][lang].assign(plan=plan, seed=s, lang=lang))
        seg = pd.concat(segments, ignore_index=True)
        measured = []
        for (plan, s, lang), g in seg.groupby(["plan", "seed", "lang"]):
            stats, score_of = translation.corpus_stats(g.hypothesis.fillna("").tolist(), g.reference.tolist(),
                                                       lang, metric)
            measured.append({"plan": plan, "seed": s, "lang": lang, "metric": metric, "size": plans[plan][lang],
                             "score": score_of(stats.sum(0))})
        tables["measured"] = pd.DataFrame(measured)
        tables["segments"] = seg[SEGMENT_COLUMNS].sort_values(["plan", "seed", "lang"], kind="mergesort")
        got = measured_gain(seg, metric=metric, weights=weights, n_boot=n_boot, seed=seed)
        verdict = decide.verdict_of(got["measured"], got, +1, gain_margin(len(langs)))["verdict"]
        tables["validation"] = pd.DataFrame([{"metric": metric, "law": law, "budget": budget, "n_langs": len(langs),
                                              "predicted": gain["predicted"], "predicted_lo": gain["lo"],
                                              "predicted_hi": gain["hi"], **got, "verdict": verdict,
                                              "identical_plans": plans["optimal"] == plans["uniform"]}])
    else:
        tables["measured"] = pd.DataFrame(columns=["plan", "seed", "lang", "metric", "size", "score"])
        tables["validation"] = pd.DataFrame(columns=["metric", "law", "budget", "predicted", "verdict"])
        tables["segments"] = pd.DataFrame(columns=SEGMENT_COLUMNS)
    for lang in langs:
        inputs.update(input_hashes(translation.tatoeba_files(data_home, lang), root=data_home))
    return write(tables, results_dir, parameters={**config, **(parameters or {}),
                                                  "model_fingerprint": fingerprint(resolve(model)) if validate else None},
                 seed=seed, inputs=inputs)


def load(results_dir) -> dict[str, pd.DataFrame]:
    return load_tables(results_dir, FILES)


def findings(res: dict[str, pd.DataFrame]) -> list[str]:
    """Plain sentences: the plans, the predicted gain, and (when validated) the measured gain."""
    out = []
    g = res["predicted_gain"].iloc[0]
    plans = res["plans"]
    for name, sub in plans.groupby("plan", sort=False):
        alloc = ", ".join(f"{r.lang} {int(r.size)}" for r in sub.itertuples())
        out.append(f"{name}: {alloc} (predicted Σ {g.metric} {sub.objective.iloc[0]:.2f})")
    out.append(f"predicted gain of optimal over uniform ({g.law} law): {g.predicted:+.2f} "
               f"[{g.lo:+.2f}, {g.hi:+.2f}] Σ {g.metric} points")
    if len(res["validation"]):
        v = res["validation"].iloc[0]
        same = " (the two plans are identical: one model)" if bool(v.identical_plans) else ""
        out.append(f"measured gain: {v.measured:+.2f} [{v.lo:+.2f}, {v.hi:+.2f}] Σ {v.metric} points "
                   f"(optimal {v.optimal:.2f} vs uniform {v.uniform:.2f}): **{v.verdict}**{same}")
    return out


# ----------------------------------------------------------------------------------------------
# the papers' claims this notebook measures


CLAIMS = [PaperClaim(key="allocation", paper="x-LLaMA", statement="Allocating the translation budget by the scaling "
                     "laws beats equal shares", metric="Σ score optimal − uniform on held-out sentences",
                     expected="increase", source="validation.csv",
                     headline="Allocating the translation budget by the laws beats equal shares")]


def claim_rows(results_dir) -> list[dict]:
    v, nb, (al,) = claims.read(results_dir, "validation"), Config.NOTEBOOK, CLAIMS
    if v is None or v.empty or "measured" not in v:
        return claims.not_run(CLAIMS, nb)
    r = v.iloc[0]
    decision = decide.verdict_of(r.measured, r.to_dict(), al.direction,
                                 gain_margin(int(r.n_langs) if "n_langs" in v else 1))
    seeds = int(r.seeds) if "seeds" in v and np.isfinite(r.seeds) else 1
    how = ("hierarchical bootstrap: training seeds, then test sentences (paired)" if seeds > 1 else
           "paired bootstrap over test sentences; one training run per plan")
    return [claims.row(al, nb, f"Σ {r.metric} optimal − uniform {r.measured:+.2f} (predicted {r.predicted:+.2f}), "
                       f"budget {int(r.budget)}", decision, source="live", metric=f"Σ {r.metric} over languages",
                       n=int(r.n) if "n" in v else None, seeds=seeds,
                       note=f"{how} (n = sentences per language); δ = 1 point per language")]


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 08's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "08_data_allocation"

    profile: str
    data_home: str
    model: str
    scaling_dir: str
    table_csv: str
    metric: str
    law: str
    budget: int
    minimums: dict
    weights: dict
    unit: int
    resources: dict
    budgets: list
    validate: bool
    test_pairs: int
    task_facts: int
    train_config: dict
    seeds: int
    max_new_tokens: int
    batch_size: int
    n_boot: int
    num_processes: int
    accelerate_config: str
    seed: int
    jobs_dir: str
    live_dir: str
    render_only: bool
    results_dir: str
    figures_dir: str


def run(config: Config, *, progress: bool = True) -> dict[str, Path]:
    """Notebook 08: fit, allocate, sweep budgets and (``validate``) train and measure both plans."""
    c = config
    if not c.table_csv and not (c.path("scaling_dir") / "table.csv").exists():
        raise ConfigError(run_first("07_scaling_laws", c.profile, f"no scaling results in {c.scaling_dir or 'scaling_dir'}")
                          + ", or set table_csv")
    return execute(c.model, c.home(),
                   c.path("results_dir"), c.path("jobs_dir"), c.path("live_dir"),
                   scaling_dir=c.path("scaling_dir"),
                   table_csv=c.optional("table_csv"), metric=c.metric, law=c.law,
                   budget=c.budget, minimums=c.minimums, weights=c.weights, unit=c.unit, resources=c.resources,
                   budgets=c.budgets, test_pairs=c.test_pairs, task_facts=c.task_facts, train_config=c.train_config,
                   seeds=c.seeds, max_new_tokens=c.max_new_tokens, batch_size=c.batch_size, n_boot=c.n_boot,
                   seed=c.seed, validate=c.validate, num_processes=c.num_processes,
                   accelerate_config=c.optional("accelerate_config"),
                   parameters=c.record(), progress=progress)
