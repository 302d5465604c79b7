"""Notebook 06's experiment: cross-lingual (x-LLaMA, CoIT) and multilingual (m-LLaMA, MuIT)
instruction tuning against English-only task tuning (Alpaca) and the base model.

Systems (one base, LoRA or full fine-tuning with the same :class:`~clika_utils.train.TrainConfig`):

* ``alpaca``        – English task data only;
* ``x-llama-<X>``   – English task + X task + en→X translation instructions, one model per X;
* ``m-llama``       – task data of every language + en→X translation for every X (per-language quotas).

With ``train_config.max_steps`` set (the ``cpu`` profile) every job runs the same number of optimiser
steps: the comparison is at equal compute. Without it each job trains ``epochs`` passes over its own
set, as x-LLM does (3 epochs; the ``paper`` profile): larger mixtures then get more steps.

Evaluation: zero-shot extractive QA (XQuAD for every language that has a file; MLQA where the user
has it) with :mod:`clika_utils.qa`, and en→X translation (held-out Tatoeba pairs, or Flores devtest
when ``flores_dir`` is given) with :mod:`clika_utils.translation`. ``x-llama-<X>`` is evaluated on
English and X; the others on every language. Per-system results are cached under ``live_dir`` and
reused when the model and the evaluation settings are unchanged.

**Relative gain** ("x-LLaMA surpasses Alpaca by N % on non-English QA"): the paper does not say how the
average is taken. :func:`gain` implements both readings; the default ``mean_of_ratios`` is the mean over
the non-English languages of (score − reference) / reference, each x-LLaMA scored on its own
language; ``ratio_of_means`` divides the mean difference by the mean reference score. A reference
score of 0 makes the gain undefined (NaN, with a note). QA gains get a 95 % paired-bootstrap interval
over questions; translation scores are corpus-level, so their gains are point estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import claims, instructions, qa, translation
from ..claims import PaperClaim
from ..config import ExperimentConfig
from ..decide import summarize
from ..errors import ConfigError
from ..metrics import bootstrap_weights, percentile_ci
from ..outdir import system_name
from ..provenance import input_hashes
from ..train import TrainConfig, job_record
from .shared import evaluate_adapters, load_tables, train_or_reuse, translate, write

FILES = ("training", "composition", "qa_items", "qa_summary", "mt_segments", "mt_scores", "gains")
GAIN_HOW = ("mean_of_ratios", "ratio_of_means")
BENCH_NAMES = {"xquad": "XQuAD", "mlqa": "MLQA", "translation": "translation"}


# ----------------------------------------------------------------------------------------------
# relative gain


def gain(s: np.ndarray, r: np.ndarray, how: str = "mean_of_ratios") -> np.ndarray:
    """Relative gain (×100, in %) of scores ``s`` over reference ``r``, languages along axis 0
    (trailing axes: bootstrap replicates). NaN where a reference score is 0."""
    if how not in GAIN_HOW:
        raise ConfigError(f"unknown relative-gain variant {how!r}; expected one of {GAIN_HOW}")
    s, r = np.asarray(s, float), np.asarray(r, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if how == "mean_of_ratios":
            ratio = np.where(r == 0, np.nan, (s - r) / np.where(r == 0, 1.0, r))
            return 100.0 * ratio.mean(axis=0)
        rm = r.mean(axis=0)
        return np.where(rm == 0, np.nan, 100.0 * (s.mean(axis=0) - rm) / np.where(rm == 0, 1.0, rm))


def _scored_as(system: str, lang: str, label: str) -> str:
    """The system that stands for a family in language ``lang`` (x-LLaMA: the model tuned for it)."""
    return system_name(label, f"x-llama-{lang}") if system == "x-llama" else system_name(label, system)


def qa_gains(items: pd.DataFrame, *, label: str, langs, pairs, n_boot: int, seed: int) -> pd.DataFrame:
    """Relative gains on QA per benchmark and metric, both variants, with paired-bootstrap CIs."""
    rows = []
    for bench, sub in items.groupby("benchmark", sort=True):
        present = [lang for lang in langs if lang in set(sub.lang)]
        for metric in ("f1", "em", "xllm_match", "token_contains"):
            for fam, ref in pairs:
                s_pt, r_pt, s_rep, r_rep, used = [], [], [], [], []
                for lang in present:
                    a = sub[(sub.system == _scored_as(fam, lang, label)) & (sub.lang == lang)].set_index("item_id")
                    b = sub[(sub.system == _scored_as(ref, lang, label)) & (sub.lang == lang)].set_index("item_id")
                    ids = sorted(set(a.index) & set(b.index))
                    if not ids:
                        continue
                    sa, sb = a.loc[ids, metric].to_numpy(float), b.loc[ids, metric].to_numpy(float)
                    w = bootstrap_weights(len(ids), n_boot, seed, f"{bench}-{lang}")
                    s_pt.append(sa.mean())
                    r_pt.append(sb.mean())
                    s_rep.append(w @ sa / len(ids))
                    r_rep.append(w @ sb / len(ids))
                    used.append(lang)
                rows += [{**r, "n": len(ids)} for r in
                         _gain_rows(bench, metric, fam, ref, used, s_pt, r_pt, scale=100.0, reps=(s_rep, r_rep))]
    return pd.DataFrame(rows)


def _gain_rows(bench: str, metric: str, fam: str, ref: str, used: list, s: list, r: list, *, scale: float,
               reps: tuple | None = None) -> list[dict]:
    """One row per relative-gain variant; ``reps`` (per-language bootstrap replicates) give the CI."""
    if not used:
        return []
    rows = []
    diff = scale * (float(np.mean(s)) - float(np.mean(r)))
    dm = summarize(scale * (np.mean(reps[0], axis=0) - np.mean(reps[1], axis=0)) if reps else [np.nan])
    for how in GAIN_HOW:
        point = float(gain(s, r, how))
        g_reps = gain(np.array(reps[0]), np.array(reps[1]), how) if reps else np.array([np.nan])
        sm = summarize(g_reps)
        rows.append({"benchmark": bench, "metric": metric, "system": fam, "reference": ref, "how": how,
                     "langs": "+".join(used), "score": scale * float(np.mean(s)),
                     "reference_score": scale * float(np.mean(r)), "gain_pct": point, "gain_lo": sm["lo"],
                     "gain_hi": sm["hi"], "gain_tost_lo": sm["tost_lo"], "gain_tost_hi": sm["tost_hi"],
                     "gain_se": sm["se"], "gain_defined": float(np.isfinite(g_reps).mean()),
                     "diff": diff, "diff_lo": dm["lo"], "diff_hi": dm["hi"], "diff_tost_lo": dm["tost_lo"],
                     "diff_tost_hi": dm["tost_hi"], "diff_se": dm["se"],
                     "note": "" if np.isfinite(point) else "undefined: the reference scores 0 in some language"})
    return rows


def mt_gains(scores: pd.DataFrame, *, label: str, langs, pairs) -> pd.DataFrame:
    rows = []
    for metric, sub in scores.groupby("metric", sort=True):
        for fam, ref in pairs:
            s, r, used = [], [], []
            for lang in langs:
                a = sub[(sub.system == _scored_as(fam, lang, label)) & (sub.lang == lang)].score
                b = sub[(sub.system == _scored_as(ref, lang, label)) & (sub.lang == lang)].score
                if len(a) and len(b) and np.isfinite(a.iloc[0]) and np.isfinite(b.iloc[0]):
                    s.append(float(a.iloc[0]))
                    r.append(float(b.iloc[0]))
                    used.append(lang)
            rows += _gain_rows("translation", metric, fam, ref, used, s, r, scale=1.0)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# data


def _split_pairs(pairs, n_test: int, n_train: int, seed: int, what: str):
    if n_test + n_train > len(pairs):
        raise ConfigError(f"{what}: {n_test} test + {n_train} training pairs requested, {len(pairs)} available")
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [pairs[i] for i in order[:n_test]], [pairs[i] for i in order[n_test: n_test + n_train]]


def build_data(data_home, *, langs, task_data: dict | None, task_facts: int, translation_train: dict | None,
               train_pairs: int, test_pairs: int, flores_dir: str | None, quotas: dict | None,
               seed: int) -> tuple[dict, dict, list, dict]:
    """(training sets {name: records}, translation test pairs {lang: pairs}, input files,
    {lang: parallel pairs dropped for an empty side})."""
    inputs = []
    all_langs = ["en"] + list(langs)
    if task_data:
        missing = [lang for lang in all_langs if lang not in task_data]
        if missing:
            raise ConfigError(f"task_data has no file for language(s) {missing}")
        tasks = {lang: instructions.read_alpaca(task_data[lang], lang) for lang in all_langs}
        inputs += [Path(task_data[lang]) for lang in all_langs]
    else:
        from .. import cldr
        pool = cldr.facts()
        rng = np.random.default_rng(seed)
        chosen = [pool[i] for i in sorted(rng.choice(len(pool), min(task_facts, len(pool)), replace=False))]
        tasks = {lang: instructions.cldr_task(chosen, lang) for lang in all_langs}
    train_tr, test, dropped = {}, {}, {}
    root = Path(data_home)
    for lang in langs:
        instructions.language_name(lang)
        if flores_dir:
            test[lang], _ = translation.read_flores(flores_dir, "en", lang)
            if test_pairs:
                test[lang] = test[lang][:test_pairs]
        if translation_train and lang in translation_train:
            if len(translation_train[lang]) != 2:
                raise ConfigError(f"translation_train[{lang!r}] must be [english file, {lang} file], "
                                  f"got {translation_train[lang]}")
            src, tgt = translation_train[lang]
            pairs, dropped[lang] = translation.read_parallel(src, tgt)
            inputs += [Path(src), Path(tgt)]
            train_tr[lang] = pairs[:train_pairs] if train_pairs else pairs
        else:
            pairs, dropped[lang] = translation.read_tatoeba(root, lang)
            inputs += list(translation.tatoeba_files(root, lang))
            n_test = 0 if flores_dir else test_pairs
            if not flores_dir and n_test <= 0:
                raise ConfigError("test_pairs must be > 0 when the translation test comes from Tatoeba "
                                  "(0 means 'all' only for Flores)")
            held, train_tr[lang] = _split_pairs(pairs, n_test, train_pairs or len(pairs) - n_test, seed,
                                                f"Tatoeba en-{lang}")
            if not flores_dir:
                test[lang] = held
    records = {lang: instructions.translation(train_tr[lang], "en", lang) for lang in langs}
    sets = {"alpaca": list(tasks["en"])}
    for lang in langs:
        sets[f"x-llama-{lang}"] = instructions.xllama(tasks["en"], tasks[lang], records[lang])
    sets["m-llama"] = instructions.mllama(tasks, records, quotas, seed)
    return sets, test, inputs, dropped


def qa_questions(data_home, langs, n: int, seed: int, mlqa_home=None) -> tuple[dict, list]:
    """{(benchmark, lang): sampled questions} for XQuAD (files present under the data home) and MLQA
    (under ``mlqa_home``, when given)."""
    out, inputs = {}, []
    for lang in langs:
        p = qa.xquad_path(data_home, lang)
        if p.exists():
            out[("xquad", lang)] = qa.sample(qa.read_squad(p, lang), n, seed)
            inputs.append(p)
        if mlqa_home and lang in qa.MLQA_LANGS:
            p = qa.mlqa_path(mlqa_home, lang)
            if p.exists():
                out[("mlqa", lang)] = qa.sample(qa.read_squad(p, lang), n, seed)
                inputs.append(p)
    if not out:
        raise ConfigError(f"no XQuAD/MLQA file for any of {list(langs)} under {data_home}")
    return out, inputs


def execute(model: str, data_home, results_dir, models_dir, live_dir, *, label: str, langs, train_config: dict,
            task_data: dict | None = None, task_facts: int = 64, translation_train: dict | None = None,
            train_pairs: int = 64, test_pairs: int = 16, flores_dir: str | None = None, mlqa_home: str | None = None,
            qa_items: int = 16, quotas: dict | None = None, qa_max_new_tokens: int = 24, mt_max_new_tokens: int = 48,
            mt_metrics=translation.METRICS, batch_size: int = 8, n_boot: int = 1000, seed: int = 0,
            num_processes: int = 1, accelerate_config: str | None = None, parameters: dict | None = None, progress: bool = True) -> dict:
    """Build the data, train (or reuse) every system, evaluate, write :data:`FILES` with provenance."""
    from ..models import fingerprint, resolve

    langs = list(langs)
    if not langs or "en" in langs:
        raise ConfigError(f"langs are the non-English target languages (at least one), got {langs}")
    for lang in langs:
        instructions.language_name(lang)
        qa.check_lang(lang)
    cfg = TrainConfig.from_dict({**train_config, "seed": seed})
    home = Path(data_home)
    task_data = {k: str(home / v) for k, v in task_data.items()} if task_data else None
    translation_train = {k: [str(home / f) for f in v] for k, v in translation_train.items()} \
        if translation_train else None
    flores_dir = str(home / flores_dir) if flores_dir else None
    mlqa_home = str(home / mlqa_home) if mlqa_home else None
    sets, mt_test, inputs, dropped = build_data(data_home, langs=langs, task_data=task_data, task_facts=task_facts,
                                       translation_train=translation_train, train_pairs=train_pairs,
                                       test_pairs=test_pairs, flores_dir=flores_dir, quotas=quotas, seed=seed)
    questions, qa_files = qa_questions(data_home, ["en"] + langs, qa_items, seed, mlqa_home)
    inputs += qa_files

    systems = {system_name(label, "base"): (None, {"model": fingerprint(resolve(model))})}
    training, comp = [], []
    for name, records in sets.items():
        job = Path(models_dir) / name
        info = train_or_reuse(model, instructions.examples(records), job, cfg, num_processes, progress,
                              accelerate_config)
        training.append({"system": system_name(label, name), **info})
        comp.append(instructions.composition(records, system_name(label, name)))
        systems[system_name(label, name)] = (job, job_record(job)["job"])

    settings = {"qa_max_new_tokens": qa_max_new_tokens, "mt_max_new_tokens": mt_max_new_tokens,
                "qa_prompts": qa.QA_INSTRUCTIONS, "mt_template": instructions.TEST_TEMPLATE,
                "batching": "mixed LoRA adapters", "qa_scores": list(qa.SCORES)}
    plan, caches = {}, {}
    for system, (job, identity) in systems.items():
        own = system.rsplit("x-llama-", 1)[1] if "_x-llama-" in system else None
        qa_keys = [k for k in questions if own is None or k[1] in ("en", own)]
        mt_langs = [lang for lang in langs if own is None or lang == own]
        key = {"model": identity, "settings": settings,
               "qa": {f"{b}/{lang}": [q.id for q in questions[(b, lang)]] for b, lang in qa_keys},
               "mt": {lang: mt_test[lang] for lang in mt_langs}}
        folder = Path(live_dir) / system
        plan[system] = (qa_keys, mt_langs)
        caches[system] = {"qa": (folder / "qa.csv", key), "mt": (folder / "mt.csv", key)}

    def compute(lm, adapter: dict) -> dict:
        fresh = {s: {"qa": [], "mt": []} for s in adapter}
        for k in questions:
            who = [s for s in adapter if k in plan[s][0]]
            if who:
                out = qa.answer(lm, questions[k], "", max_new_tokens=qa_max_new_tokens, batch_size=batch_size,
                                adapters=[adapter[s] for s in who])
                for s in who:
                    fresh[s]["qa"].append(out[adapter[s]].assign(system=s, benchmark=k[0]))
        for lang in langs:
            who = [s for s in adapter if lang in plan[s][1]]
            if who:
                out = translate(lm, mt_test[lang], "en", lang, max_new_tokens=mt_max_new_tokens,
                                batch_size=batch_size, adapters=[adapter[s] for s in who])
                for s in who:
                    fresh[s]["mt"].append(out[adapter[s]].assign(system=s))
        return {s: {kind: pd.concat(parts, ignore_index=True) for kind, parts in f.items()} for s, f in fresh.items()}

    results = evaluate_adapters(model, {s: job for s, (job, _) in systems.items()}, caches, compute)
    qa_rows = [r["qa"] for r in results.values()]
    mt_rows = [r["mt"] for r in results.values()]
    qa_items_df = pd.concat(qa_rows, ignore_index=True)
    mt_seg = pd.concat(mt_rows, ignore_index=True)
    mt_scores = []
    for (system, lang), sub in mt_seg.groupby(["system", "lang"], sort=False):
        sc = translation.score(sub.hypothesis.fillna("").tolist(), sub.reference.tolist(), lang, metrics=mt_metrics)
        mt_scores.append(sc.assign(system=system, lang=lang, n=len(sub)))
    mt_scores_df = pd.concat(mt_scores, ignore_index=True)[["system", "lang", "metric", "score", "n", "signature",
                                                             "note"]]
    pairs = [("x-llama", "alpaca"), ("m-llama", "alpaca"), ("alpaca", "base"), ("x-llama", "base"),
             ("m-llama", "base")]
    gains = pd.concat([qa_gains(qa_items_df, label=label, langs=langs, pairs=pairs, n_boot=n_boot, seed=seed),
                       mt_gains(mt_scores_df, label=label, langs=langs, pairs=pairs)], ignore_index=True)
    composition = pd.concat(comp, ignore_index=True)
    composition["dropped_empty_pairs"] = [dropped.get(lang, 0) if kind == "translation" else 0
                                          for lang, kind in zip(composition.lang, composition.kind)]
    tables = {"training": pd.DataFrame(training), "composition": composition,
              "qa_items": qa_items_df, "qa_summary": qa_summary(qa_items_df), "mt_segments": mt_seg,
              "mt_scores": mt_scores_df, "gains": gains}
    params = {"model": model, "label": label, "langs": langs, "train_config": train_config,
              "task_data": task_data, "task_facts": task_facts, "translation_train": translation_train,
              "train_pairs": train_pairs, "test_pairs": test_pairs, "flores_dir": flores_dir, "mlqa_home": mlqa_home,
              "qa_items": qa_items, "quotas": quotas, "qa_max_new_tokens": qa_max_new_tokens,
              "mt_max_new_tokens": mt_max_new_tokens, "n_boot": n_boot, **(parameters or {})}
    return write({name: tables[name] for name in FILES}, results_dir, parameters=params, seed=seed,
                 inputs=input_hashes(inputs, root=data_home))


def qa_summary(items: pd.DataFrame) -> pd.DataFrame:
    """EM, F1, x-LLM's match and the token-boundary containment (×100, the script's scale) per
    benchmark, system and language."""
    g = items.groupby(["benchmark", "system", "lang"], sort=False)
    out = g[["em", "f1", "xllm_match", "token_contains"]].mean().mul(100).join(g.size().rename("n")).reset_index()
    return out


def load(results_dir) -> dict[str, pd.DataFrame]:
    return load_tables(results_dir, FILES)


def table(summary: pd.DataFrame, value: str, systems_order=None) -> pd.DataFrame:
    """System × language table of one score (for the heatmaps), systems in training order."""
    t = summary.pivot_table(index="system", columns="lang", values=value, aggfunc="mean", sort=False)
    return t.reindex(systems_order) if systems_order is not None else t


def score_by_lang(qa_items: pd.DataFrame, benchmark: str, *, metric: str = "f1", n_boot: int, seed: int) -> pd.DataFrame:
    """Per system and language of ``benchmark``: the mean ``metric`` over questions (``value``, 0–100 as in
    ``qa_summary``; the items hold 0–1) with its 95 % bootstrap CI over questions (``lo``/``hi``) and ``n``."""
    rows = []
    for (system, lang), part in qa_items[qa_items.benchmark == benchmark].groupby(["system", "lang"], sort=False):
        v = 100.0 * part[metric].to_numpy(float)
        reps = bootstrap_weights(len(v), n_boot, seed, f"{benchmark}/{system}/{lang}") @ v / len(v)
        lo, hi = percentile_ci(reps)
        rows.append({"system": system, "lang": lang, "n": len(v), "value": float(v.mean()), "lo": float(lo), "hi": float(hi)})
    return pd.DataFrame(rows, columns=["system", "lang", "n", "value", "lo", "hi"])


def mt_intervals(mt_segments: pd.DataFrame, mt_scores: pd.DataFrame, *, n_boot: int, seed: int) -> pd.DataFrame:
    """``mt_scores`` with the 95 % bootstrap CI of each corpus score over its test sentences (``lo``/``hi``),
    resampled through sacrebleu's sufficient statistics (:func:`clika_utils.translation.corpus_stats`)."""
    out = mt_scores.copy()
    out["lo"], out["hi"] = np.nan, np.nan
    for (system, lang), sub in mt_segments.groupby(["system", "lang"], sort=False):
        for metric in ("bleu", "chrf++"):
            at = (out.system == system) & (out.lang == lang) & (out.metric == metric)
            if not at.any():
                continue
            stats, score_of = translation.corpus_stats(sub.hypothesis.fillna("").tolist(), sub.reference.tolist(),
                                                       lang, metric)
            w = bootstrap_weights(len(stats), n_boot, seed, f"mt/{system}/{lang}/{metric}")
            reps = np.array([score_of(row @ stats) for row in w])
            out.loc[at, ["lo", "hi"]] = percentile_ci(reps)
    return out


def headline_gain(gains: pd.DataFrame, benchmark: str, *, system: str = "x-llama", reference: str = "alpaca",
                  metric: str = "f1") -> str:
    """The paper's headline (x-LLaMA over Alpaca, relative QA gain, the default mean of per-language ratios)
    as measured here, with its 95 % CI, in one line for a figure."""
    row = gains[(gains.benchmark == benchmark) & (gains.metric == metric) & (gains.system == system)
                & (gains.reference == reference) & (gains.how == "mean_of_ratios")]
    if row.empty or not np.isfinite(row.gain_pct.iloc[0]):
        return f"{system} vs {reference}: relative gain undefined"
    r = row.iloc[0]
    ci = f" [95 % CI {r.gain_lo:+.1f}, {r.gain_hi:+.1f}]" if np.isfinite(r.gain_lo) else ""
    names = {"x-llama": "x-LLaMA", "m-llama": "m-LLaMA", "alpaca": "Alpaca"}
    return (f"{names.get(system, system)} vs {names.get(reference, reference)} over {r.langs}: relative {metric.upper()} "
            f"gain {_pct(r.gain_pct)}{ci} (paper: {CLAIMS[0].stated_effect:+.2f} %)")


def _pct(v: float) -> str:
    return "undefined (a reference score is 0)" if not np.isfinite(v) else f"{v:+.1f} %"


def findings(t: dict[str, pd.DataFrame], label: str) -> list[str]:
    """Plain sentences from the gains table: scores, absolute difference, and the relative gain in both
    variants (the default first, with its interval for QA)."""
    g = t["gains"]
    out = []
    wanted = {"xquad": ("f1",), "mlqa": ("f1",), "translation": ("bleu", "chrf++")}
    for (bench, metric, system, ref), sub in g.groupby(["benchmark", "metric", "system", "reference"], sort=False):
        if metric not in wanted.get(bench, ()) or (system, ref) not in (("x-llama", "alpaca"), ("m-llama", "alpaca"),
                                                                         ("alpaca", "base")):
            continue
        by = sub.set_index("how")
        d, o = by.loc["mean_of_ratios"], by.loc["ratio_of_means"]
        ci = f" [95% CI {d.gain_lo:+.1f}, {d.gain_hi:+.1f}]" if np.isfinite(d.gain_lo) else ""
        out.append(f"{bench} {metric}, {system} vs {ref} over {d.langs}: {d.score:.1f} vs {d.reference_score:.1f} "
                   f"(Δ {d.score - d.reference_score:+.1f} points); relative gain {_pct(d.gain_pct)}{ci} as the "
                   f"mean of per-language ratios, {_pct(o.gain_pct)} as the ratio of means")
    return out


# ----------------------------------------------------------------------------------------------
# the papers' claims this notebook measures


#: The QA scores the x-LLaMA claims are read in: the MLQA script's F1, and x-LLM's own match rule
#: (``eval/xquad.match.py``), the scale the paper's own evaluation code scores generations on.
QA_CLAIM_METRICS = {"f1": "F1", "xllm_match": "x-LLM match"}
CLAIMS = [
    PaperClaim(key="coit", paper="x-LLaMA", statement="x-LLaMA (CoIT) beats Alpaca on non-English QA (paper: +27.83 % "
               "on average)", metric="QA difference and relative gain over Alpaca (F1, x-LLM match)",
               expected="increase", source="gains.csv", stated_effect=27.83,
               headline="x-LLaMA (cross-lingual instruction tuning) beats Alpaca on non-English QA"),
    PaperClaim(key="muit", paper="x-LLaMA", statement="m-LLaMA (one multilingual model, MuIT) also beats Alpaca on "
               "non-English QA", metric="QA difference and relative gain over Alpaca (F1, x-LLM match)",
               expected="increase", source="gains.csv",
               headline="m-LLaMA (one multilingual model) beats Alpaca on non-English QA"),
]


#: Questions in the whole of XQuAD per language: what a relative-gain row's required sample is held against.
XQUAD_QUESTIONS = 1190


def claim_rows(results_dir) -> list[dict]:
    """Per claim, per QA benchmark and claim metric: the primary row, the absolute difference in points (mean over
    the languages of the per-language differences; paired bootstrap over questions), then the relative gain as a
    secondary row (mean of per-language ratios) with the share of bootstrap replicates where it is defined."""
    g, nb, rows = claims.read(results_dir, "gains"), Config.NOTEBOOK, []
    for system, claim in zip(("x-llama", "m-llama"), CLAIMS):
        sel = None if g is None else g[g.metric.isin(QA_CLAIM_METRICS) & (g.system == system)
                                       & (g.reference == "alpaca") & (g["how"] == "mean_of_ratios")
                                       & (g.benchmark != "translation")]
        if sel is None or sel.empty:
            rows.append(claims.row(claim, nb))
            continue
        for r in sel.itertuples():
            name = QA_CLAIM_METRICS[r.metric]
            n = int(r.n) if np.isfinite(getattr(r, "n", np.nan)) else None
            summary = {"lo": r.diff_lo, "hi": r.diff_hi, "tost_lo": r.diff_tost_lo, "tost_hi": r.diff_tost_hi,
                       "se": r.diff_se}
            rows.append(claims.row(claim, nb, f"{r.benchmark} {name} {r.score:.1f} vs {r.reference_score:.1f} "
                                              f"(Δ {r.diff:+.1f} points, {r.langs})",
                                   claims.judge(claim, r.diff, summary, "qa_points"), source="live",
                                   metric=f"{name} difference (points)", n=n, unit=" points", stated_effect=float("nan"),
                                   note="primary: absolute difference, mean over languages; paired bootstrap over "
                                        "questions (n = questions per language); one training run per system"))
            summary = {"lo": r.gain_lo, "hi": r.gain_hi, "tost_lo": getattr(r, "gain_tost_lo", np.nan),
                       "tost_hi": getattr(r, "gain_tost_hi", np.nan), "se": getattr(r, "gain_se", np.nan)}
            undefined = "" if np.isfinite(r.gain_pct) else "the relative gain is undefined: a reference score is 0"
            measured = (f"{r.benchmark} {name} gain {r.gain_pct:+.1f} % ({r.langs})" if not undefined else
                        f"{r.benchmark} {name} gain undefined ({r.langs})")
            row = claims.row(claim, nb, measured, claims.judge(claim, r.gain_pct, summary, "relative_gain_pct",
                                                               undefined=undefined),
                             source="live", metric=f"relative {name} gain (%)", n=n, unit=" %")
            note = (f"secondary (a ratio to a weak reference is fragile): relative gain, mean over languages; "
                    f"defined in {r.gain_defined:.0%} of the bootstrap replicates; one training run per system")
            if row["n_needed"] and row["n_needed"] > XQUAD_QUESTIONS:
                note += (f"; detecting the paper's effect would need {row['n_needed']} questions per language, more "
                         f"than XQuAD's {XQUAD_QUESTIONS}: this row cannot decide at any sample size of this data")
            rows.append({**row, "note": note})
    return rows


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 06's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "06_cross_lingual_instruction_tuning"

    profile: str
    data_home: str
    model: str
    label: str
    langs: list
    task_data: dict
    task_facts: int
    translation_train: dict
    train_pairs: int
    test_pairs: int
    flores_dir: str
    mlqa_home: str
    qa_items: int
    quotas: dict
    train_config: dict
    qa_max_new_tokens: int
    mt_max_new_tokens: int
    mt_metrics: list
    batch_size: int
    num_processes: int
    accelerate_config: str
    n_boot: int
    seed: int
    models_dir: str
    live_dir: str
    render_only: bool
    results_dir: str
    figures_dir: str


def run(config: Config, *, progress: bool = True) -> dict[str, Path]:
    """Notebook 06: build the data, train (or reuse) every system, evaluate; writes :data:`FILES`."""
    c = config
    return execute(c.model, c.home(),
                   c.path("results_dir"), c.path("models_dir"), c.path("live_dir"),
                   label=c.label, langs=c.langs, train_config=c.train_config, task_data=c.task_data or None,
                   task_facts=c.task_facts, translation_train=c.translation_train or None, train_pairs=c.train_pairs,
                   test_pairs=c.test_pairs, flores_dir=c.flores_dir or None, mlqa_home=c.mlqa_home or None,
                   qa_items=c.qa_items, quotas=c.quotas or None, qa_max_new_tokens=c.qa_max_new_tokens,
                   mt_max_new_tokens=c.mt_max_new_tokens, mt_metrics=tuple(c.mt_metrics), batch_size=c.batch_size,
                   n_boot=c.n_boot, seed=c.seed, num_processes=c.num_processes,
                   accelerate_config=c.optional("accelerate_config"),
                   parameters=c.record(), progress=progress)
