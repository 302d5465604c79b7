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
  evaluation cache of :mod:`clika_utils.experiments.shared`), so reruns and later notebooks reuse them.

Output: the tidy table :data:`clika_utils.scaling.COLUMNS` (lang, size, seed, metric, value) that
:func:`clika_utils.scaling.fit` reads — the same format a user brings from a GPU cluster — plus the
base model's scores (size 0, kept apart: the laws are fitted for x > 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import claims, instructions, scaling, translation
from ..claims import PaperClaim
from ..config import ExperimentConfig
from ..errors import ConfigError, DataError
from ..models import fingerprint, resolve
from ..provenance import input_hashes, run_config
from ..settings import workdir
from ..train import TrainConfig, job_record
from .shared import evaluate_adapters, load_tables, split, subset, task_records, train_or_reuse, translate, write


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
             accelerate_config: str | None = None, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tidy results of the trained jobs, the base model's scores)."""
    jobs = plan(sizes, seeds, n_small)
    cfg_base = dict(train_config)
    rows, base_rows = [], []
    base_identity = {"model": fingerprint(resolve(model))}
    for lang in langs:
        test, pool = split(data_home, lang, test_pairs)
        if max(sizes) > len(pool):
            raise ConfigError(f"largest size {max(sizes)} exceeds the {len(pool)} en-{lang} training pairs")
        task = task_records(lang, task_facts)
        settings = {"max_new_tokens": max_new_tokens, "template": instructions.TEST_TEMPLATE,
                    "batching": "mixed LoRA adapters"}
        evaluations = [("base", 0, 0, None, base_identity)]
        for size, seed in jobs:
            records = task + instructions.translation(subset(pool, size, seed), "en", lang)
            job = Path(jobs_dir) / lang / f"n{size}-s{seed}"
            cfg = TrainConfig.from_dict({**cfg_base, "seed": seed})
            train_or_reuse(model, instructions.examples(records), job, cfg, num_processes, progress,
                           accelerate_config)
            evaluations.append((f"n{size}-s{seed}", size, seed, job, job_record(job)["job"]))
        # Every job of the language (and the base) translates the test pairs in shared batches: one base
        # model carrying all LoRA adapters unmerged, one generate call, each row through its own adapter.
        caches = {name: {"mt": (Path(live_dir) / lang / f"{name}.mt.csv",
                                {"model": identity, "settings": settings, "test": test})}
                  for name, _, _, _, identity in evaluations}

        def compute(lm, adapter: dict, test=test, lang=lang) -> dict:
            out = translate(lm, test, "en", lang, max_new_tokens=max_new_tokens, batch_size=batch_size,
                            adapters=list(adapter.values()))
            return {name: {"mt": out[a].assign(system=name)} for name, a in adapter.items()}

        done = evaluate_adapters(model, {name: job for name, _, _, job, _ in evaluations}, caches, compute)
        for name, size, seed, _, identity in evaluations:
            seg = done[name]["mt"]
            scores = translation.score(seg.hypothesis.fillna("").tolist(), seg.reference.tolist(), lang,
                                       metrics=metrics, spbleu="off")
            for r in scores.itertuples():
                row = {"lang": lang, "size": size, "seed": seed, "metric": r.metric, "value": float(r.score)}
                (base_rows if name == "base" else rows).append(row)
    return pd.DataFrame(rows), pd.DataFrame(base_rows)


# ----------------------------------------------------------------------------------------------
# analysis: notebook 07


def latin_share(texts) -> float:
    """Share of the letters in ``texts`` that are Latin script (the documented default covariate:
    script overlap with English). Letters are characters whose Unicode category starts with L."""
    import unicodedata
    letters = latin = 0
    for ch in "".join(texts):
        if unicodedata.category(ch).startswith("L"):
            letters += 1
            latin += "LATIN" in unicodedata.name(ch, "")
    if not letters:
        raise ConfigError("no letters in the texts: the script-overlap covariate is undefined")
    return latin / letters


def analyse(table: pd.DataFrame, *, metric: str, laws=None, covariate: dict | None = None, n_boot: int = 200,
            seed: int = 0, points: int = 60) -> dict[str, pd.DataFrame]:
    """Fit every law to one metric of the tidy table: model comparison (AIC, BIC, leave-largest-out
    error; the shared law also with ``covariate`` when given, as ``shared+cov``), parameters with
    bootstrap CIs, and curves with bootstrap bands on a geometric grid spanning the sizes."""
    laws = tuple(laws or scaling.LAWS)
    df = scaling.check_table(table[table.metric == metric].reset_index(drop=True), f"{metric} rows")
    if df.empty:
        raise ConfigError(f"no rows for metric {metric!r}; the table holds {sorted(table.metric.unique())}")
    variants = [(law, law, None) for law in laws]
    if covariate is not None and "shared" in laws:
        variants.append(("shared+cov", "shared", covariate))
    grid = np.geomspace(df["size"].min(), df["size"].max(), points)
    comparison, params, bands, lolo = [], [], [], []
    for name, law, cov in variants:
        try:
            f = scaling.fit(df, law, covariate=cov, n_boot=n_boot, seed=seed)
        except DataError as e:
            comparison.append({"law": name, "converged": False, "k": np.nan, "rss": np.nan, "aic": np.nan,
                               "bic": np.nan, "lolo_mae": np.nan, "boot_converged": np.nan, "note": str(e)})
            continue
        out = scaling.leave_largest_out(df, law, cov).assign(law=name)
        lolo.append(out)
        comparison.append({"law": name, "converged": f.converged, "k": f.k, "rss": f.rss,
                           "aic": f.aic if f.converged else np.nan, "bic": f.bic if f.converged else np.nan,
                           "lolo_mae": float(out.abs_error.mean()),
                           "boot_converged": float(f.boot.converged.mean()) if f.boot is not None else np.nan,
                           "note": "" if f.converged else f.message})
        params.append(scaling.param_table(f).assign(law=name))
        if f.converged:
            bands += [scaling.prediction_band(f, lang, grid).assign(law=name) for lang in f.langs]
    comparison = pd.DataFrame(comparison)
    ok = comparison[comparison.converged.astype(bool) & comparison.bic.notna()]
    comparison["preferred"] = comparison.law == (ok.loc[ok.bic.idxmin(), "law"] if len(ok) else None)
    tag = {"metric": metric}
    return {"laws": comparison.assign(**tag),
            "params": pd.concat(params, ignore_index=True).assign(**tag) if params else pd.DataFrame(),
            "bands": pd.concat(bands, ignore_index=True).assign(**tag) if bands else pd.DataFrame(),
            "lolo": pd.concat(lolo, ignore_index=True).assign(**tag) if lolo else pd.DataFrame()}


SCALING_FILES = ("table", "base", "covariate", "laws", "params", "bands", "lolo")


def execute(model: str, data_home, results_dir, jobs_dir, live_dir, *, table_csv=None, langs, sizes, seeds: int,
            n_small: int, test_pairs: int, task_facts: int, train_config: dict, metrics, fit_metrics, laws,
            covariate: str | dict = "script", n_boot: int, seed: int, max_new_tokens: int, batch_size: int,
            num_processes: int = 1, accelerate_config: str | None = None, parameters: dict | None = None,
            progress: bool = True) -> dict:
    """Notebook 07: the grid (or a user's CSV table), the covariate, the fits; writes the tables."""
    config = run_config(locals())
    inputs = {}
    if table_csv:
        table = scaling.read_table(table_csv)
        base = pd.DataFrame(columns=list(table.columns))
        inputs.update(input_hashes([table_csv], root=workdir()))
    else:
        table, base = run_grid(model, data_home, jobs_dir, live_dir, langs=langs, sizes=sizes, seeds=seeds,
                               n_small=n_small, test_pairs=test_pairs, task_facts=task_facts,
                               train_config=train_config, metrics=metrics, max_new_tokens=max_new_tokens,
                               batch_size=batch_size, num_processes=num_processes,
                               accelerate_config=accelerate_config, progress=progress)
        inputs.update(input_hashes([p for lang in langs for p in translation.tatoeba_files(data_home, lang)],
                                   root=data_home))
    found = sorted(table.lang.unique())
    if isinstance(covariate, dict):
        cov = {lang: float(covariate[lang]) for lang in found if lang in covariate}
        missing = sorted(set(found) - set(cov))
        if missing:
            raise ConfigError(f"covariate has no value for {missing}")
        how = "given"
    elif covariate == "script":
        cov = {lang: latin_share(t for _, t in translation.read_tatoeba(data_home, lang)[0]) for lang in found}
        how = "Latin-script share of the target side of en-X Tatoeba"
    elif covariate in ("", None):
        cov, how = None, ""
    else:
        raise ConfigError(f"covariate must be 'script', '' or {{lang: value}}, got {covariate!r}")
    tables = {"table": table, "base": base,
              "covariate": pd.DataFrame([{"lang": k, "value": v, "how": how} for k, v in (cov or {}).items()],
                                        columns=["lang", "value", "how"])}
    parts = [analyse(table, metric=m, laws=laws, covariate=cov, n_boot=n_boot, seed=seed) for m in fit_metrics]
    for name in ("laws", "params", "bands", "lolo"):
        tables[name] = pd.concat([p[name] for p in parts], ignore_index=True)
    return write(tables, results_dir, parameters={**config, **(parameters or {}),
                                                  "model_fingerprint": None if table_csv else fingerprint(resolve(model))},
                 seed=seed, inputs=inputs)


def load(results_dir) -> dict[str, pd.DataFrame]:
    return load_tables(results_dir, SCALING_FILES)


def findings(res: dict[str, pd.DataFrame], fit_metrics) -> list[str]:
    """Plain sentences: the preferred law per metric with its BIC margin and extrapolation error,
    and the observed change from the smallest to the largest size per language."""
    out = []
    for m in fit_metrics:
        laws = res["laws"][res["laws"].metric == m]
        ok = laws[laws.converged.astype(bool) & laws.bic.notna()].sort_values("bic")
        failed = sorted(laws[~laws.converged.astype(bool)].law)
        if ok.empty:
            out.append(f"{m}: no law converged ({', '.join(failed)}): no fit to report.")
            continue
        best = ok.iloc[0]
        margin = f", {ok.iloc[1].bic - best.bic:.1f} BIC below {ok.iloc[1].law}" if len(ok) > 1 else ""
        out.append(f"{m}: the data prefer **{best.law}** (BIC {best.bic:.1f}{margin}); leave-largest-out "
                   f"mean absolute error {best.lolo_mae:.2f} points"
                   + (f"; did not converge: {', '.join(failed)}" if failed else "") + ".")
        t = res["table"][res["table"].metric == m]
        for lang, g in t.groupby("lang", sort=True):
            by = g.groupby("size").value.mean()
            out.append(f"{m} {lang}: {by.iloc[0]:.1f} at {int(by.index[0])} pairs → {by.iloc[-1]:.1f} at "
                       f"{int(by.index[-1])} pairs ({by.iloc[-1] - by.iloc[0]:+.1f}).")
    return out


# ----------------------------------------------------------------------------------------------
# the papers' claims this notebook measures


CLAIMS = [PaperClaim(key="scaling", paper="x-LLaMA", statement="Translation quality grows with the amount of "
                     "translation data, following a scaling law", metric="log-linear slope per language; BIC-preferred "
                     "law", expected="increase", source="laws.csv, params.csv",
                     headline="Translation quality follows a scaling law in the amount of translation data")]


def claim_rows(results_dir) -> list[dict]:
    """Per fitted metric: the mean over languages of the log-linear slope per doubling of the data
    (:data:`clika_utils.scaling.MEAN_SLOPE`, bootstrap over the grid's jobs) judged by the one verdict rule, with
    each language's slope, the BIC-preferred law and its extrapolation error stated."""
    laws, params, nb, (sl,) = claims.read(results_dir, "laws"), claims.read(results_dir, "params"), Config.NOTEBOOK, CLAIMS
    if laws is None or params is None:
        return claims.not_run(CLAIMS, nb)
    rows, jobs = [], claims.read(results_dir, "table")
    for metric, lw in laws.groupby("metric", sort=False):
        best = lw[lw.preferred.astype(bool)]
        loglin = params[(params.metric == metric) & (params.law == "loglinear")]
        slope = loglin[loglin.param.str.startswith("a[", na=False)]
        mean = loglin[loglin.param == scaling.MEAN_SLOPE]
        pref = best.law.iloc[0] if len(best) else "none converged"
        mae = f", leave-largest-out error {best.lolo_mae.iloc[0]:.2f}" if len(best) else ""
        per_lang = ", ".join(f"{p[2:-1]} {e * np.log(2):+.2f}" for p, e in zip(slope.param, slope.estimate))
        if mean.empty:
            rows.append(claims.row(sl, nb, f"{metric}: the log-linear fit did not converge",
                                   claims.judge(sl, np.nan, {}, "slope_per_doubling", undefined="no log-linear fit"),
                                   source="live", metric=f"{metric} per doubling"))
            continue
        m = mean.iloc[0]
        decision = claims.judge(sl, m.estimate, m.to_dict(), "slope_per_doubling")
        law_err = float(lw[lw.law == "loglinear"].lolo_mae.iloc[0]) if (lw.law == "loglinear").any() else np.nan
        base_err = (float(scaling.no_growth_baseline(jobs[jobs.metric == metric]).abs_error.mean())
                    if jobs is not None else np.nan)
        held = f"; held-out largest budget: log-linear error {law_err:.2f} vs no-growth {base_err:.2f}"
        if decision["verdict"] == "supported" and not law_err < base_err:
            decision = {**decision, "verdict": "inconclusive",
                        "reason": "the slope is above 0 but the law does not predict the held-out largest budgets "
                                  "better than no growth (analysis plan: both are required)"}
        rows.append(claims.row(sl, nb, f"{metric}: {m.estimate:+.2f} points per doubling of the data, mean over "
                               f"{len(slope)} languages ({per_lang}); BIC prefers {pref}{mae}{held}",
                               decision, source="live", metric=f"{metric} per doubling",
                               n=None if jobs is None else int((jobs.metric == metric).sum()),
                               note="bootstrap over the grid's jobs; n = scored jobs; the claim needs a slope above 0 "
                                    "and a law that predicts the held-out largest budget better than no growth; "
                                    "one training run per grid point"))
    return rows


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 07's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "07_scaling_laws"

    profile: str
    data_home: str
    model: str
    table_csv: str
    langs: list
    sizes: list
    seeds: int
    n_small: int
    test_pairs: int
    task_facts: int
    train_config: dict
    metrics: list
    fit_metrics: list
    laws: list
    covariate: str
    n_boot: int
    max_new_tokens: int
    batch_size: int
    num_processes: int
    accelerate_config: str
    seed: int
    jobs_dir: str
    live_dir: str
    render_only: bool
    results_dir: str
    figures_dir: str


def run(config: Config, *, progress: bool = True) -> dict[str, Path]:
    """Notebook 07: the grid (or the user's table), the covariate, the fits; writes :data:`SCALING_FILES`."""
    c = config
    return execute(c.model, c.home(),
                   c.path("results_dir"), c.path("jobs_dir"), c.path("live_dir"),
                   table_csv=c.optional("table_csv"), langs=c.langs,
                   sizes=c.sizes, seeds=c.seeds, n_small=c.n_small, test_pairs=c.test_pairs, task_facts=c.task_facts,
                   train_config=c.train_config, metrics=tuple(c.metrics), fit_metrics=c.fit_metrics, laws=c.laws,
                   covariate=c.covariate, n_boot=c.n_boot, seed=c.seed, max_new_tokens=c.max_new_tokens,
                   batch_size=c.batch_size, num_processes=c.num_processes,
                   accelerate_config=c.optional("accelerate_config"),
                   parameters=c.record(), progress=progress)
