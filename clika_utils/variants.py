"""Notebooks 04 and 05: CLiKA's training claims, from the stored outputs and from controlled live runs.

Claims (Gao et al. 2024, abstract and sections 4.2–4.3):

1. *Continued pretraining on a target language improves that language's alignment at the cost of the
   others; mixed pretraining affects the other languages less.*
2. *Multilingual instruction tuning improves alignment (PF, CT) — but only shallowly: conductivity
   stays low.*

Stored outputs: the paper's comparisons, re-derived with paired bootstrap CIs by
:mod:`clika_utils.compare` from the items table that ``clika score`` (and notebook 01) writes;
which system derives from which is :mod:`clika_utils.lineage`.

Live, controlled (same base, same budget, only the data changed):

* notebook 04: continued pretraining on target-language text only vs a mixed multilingual stream of
  the same token budget (raw text, LoRA), then PF/CT on the CLiKA streams (letter method, the first
  ``eval_limit`` items) and the language-model loss on held-out documents of every language;
* notebook 05: instruction tuning on English-only CLDR fact instructions vs the same instructions in
  several languages, equal steps; then PF/CT on the CLiKA streams and on held-out CLDR facts
  (multiple choice, countries never seen in training).

Cost control: the base model's evaluation is shared by both notebooks (same live folder and system
name: the second notebook finds every item done), trained adapters are reused when the job is
unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import cldr, corpus, lineage
from .compare import VERDICTS, Claim, Comparison, check_claims, read_items
from .data import TASKS, discover
from .errors import ConfigError
from .langs import LANGS, check_langs
from .outdir import safe_name
from .provenance import input_hashes, write_result_set
from .train import Example, TrainConfig, alpaca_prompt, load_trained, run_job, write_examples

METRIC_NAMES = {"accuracy": "accuracy (PF)", "ra": "RA (PF)", "en_co": "en-CO (CT)"}

#: mixed-pretrained vs continued-pretrained models of the same size and target (zh) — claim 1c
MIXED_VS_CONTINUED = [("baichuan2_7b_base", "chinese_llama2_7b", "zh"),
                      ("baichuan2_13b_base", "chinese_llama2_13b", "zh"),
                      ("bloom_7b1", "chinese_llama_7b", "zh")]
#: multilingual vs English-only instruction tuning of the same base (llama_7b) — claim 2c
MULTI_VS_ENGLISH_IT = [("m_llama", "Stanford_Alpaca", "multi")]
#: instruction-tuning pairs whose derived model had another stage in between (not a clean IT delta)
NOT_CLEAN_IT = {"bigtranslate"}


# ----------------------------------------------------------------------------------------------
# stored outputs


def stored_items(data_dir, items_csv=None, systems=None) -> tuple[pd.DataFrame, dict]:
    """The stored systems' items: notebook 01's / ``clika score``'s ``items.csv`` when given and
    present (reused, not recomputed), else ``systems`` (default all) scored now. Returns (items,
    input hashes)."""
    if items_csv is not None and Path(items_csv).exists():
        return read_items(items_csv), input_hashes([items_csv])
    from .scoring import score_tree
    result = score_tree(data_dir, n_boot=1, systems=systems)
    return result.items, input_hashes([f.path for f in result.inventory.files], root=data_dir)


def pretraining_claims(systems) -> list[Claim]:
    systems = set(systems)
    cont = lineage.pairs("continued pretraining", systems)
    mixed = [p for p in MIXED_VS_CONTINUED if p[0] in systems and p[1] in systems]
    out = []
    for m in ("accuracy", "ra", "en_co"):
        out.append(Claim(f"1a {m}", f"Continued pretraining raises the target language's {METRIC_NAMES[m]}",
                         cont, m, "target", 1))
        out.append(Claim(f"1b {m}", f"Continued pretraining lowers the other languages' {METRIC_NAMES[m]}",
                         cont, m, "others", -1))
    for m in ("ra", "en_co"):
        out.append(Claim(f"1c {m}", f"Mixed pretraining costs the other languages less: higher {METRIC_NAMES[m]} "
                                    "on non-target languages than continued pretraining (same size, target zh)",
                         mixed, m, "others", 1))
    return out


def instruction_pairs(systems) -> tuple[list, list]:
    """(multilingual, English-only) instruction/chat tuning pairs with a stored base."""
    systems = set(systems)
    pairs = lineage.pairs("instruction tuning", systems) + lineage.pairs("chat", systems)
    multi = [p for p in pairs if p[2] != "en" and p[0] not in NOT_CLEAN_IT]
    english = [p for p in pairs if p[2] == "en"]
    return multi, english


def instruction_claims(systems) -> list[Claim]:
    multi, english = instruction_pairs(systems)
    systems = set(systems)
    vs = [p for p in MULTI_VS_ENGLISH_IT if p[0] in systems and p[1] in systems]
    out = []
    for m in ("accuracy", "ra", "en_co"):
        out.append(Claim(f"2a {m}", f"Multilingual instruction tuning raises non-English {METRIC_NAMES[m]}",
                         multi, m, "non_en", 1))
        out.append(Claim(f"2b {m}", f"English-only instruction tuning raises non-English {METRIC_NAMES[m]}",
                         english, m, "non_en", 1))
        out.append(Claim(f"2c {m}", f"Multilingual instruction tuning beats English-only instruction tuning of "
                                    f"the same base on non-English {METRIC_NAMES[m]}", vs, m, "non_en", 1))
    return out


def stored(data_dir, *, which: str, items_csv=None, n_boot: int = 1000, seed: int = 0) -> tuple[dict, dict]:
    """Tables for the stored-output half of notebook 04 (``which="pretraining"``) or 05
    (``"instruction"``): lineage, paired deltas, claims. Returns (tables, input hashes)."""
    systems = discover(data_dir).systems
    lin = lineage.check(systems)
    if which == "pretraining":
        claims = pretraining_claims(systems)
    elif which == "instruction":
        claims = instruction_claims(systems)
    else:
        raise ConfigError("which must be 'pretraining' or 'instruction'")
    pairs = sorted({tuple(p[:3]) for c in claims for p in c.pairs})
    items, inputs = stored_items(data_dir, items_csv, systems=sorted({s for p in pairs for s in p[:2]}))
    cmp = Comparison(items, pairs, n_boot=n_boot, seed=seed, source=str(items_csv or data_dir))
    return {"lineage": lin, "stored_deltas": cmp.table(), "stored_claims": check_claims(cmp, claims)}, inputs


def group_table(deltas: pd.DataFrame, targets: dict[str, set]) -> pd.DataFrame:
    """Mean Δ per (pair, metric) for the target vs the other non-English languages (no CIs: the
    claims table carries those) — the compact view the notebooks print."""
    rows = []
    for (d, b, m), part in deltas.groupby(["derived", "base", "metric"], sort=False):
        tg = targets.get(d, set()) - {"en"}
        for group, mask in (("target", part.lang.isin(tg)), ("others", ~part.lang.isin(tg | {"en"}))):
            if mask.any():
                rows.append({"derived": d, "base": b, "metric": m, "group": group,
                             "mean_delta": float(part[mask].delta.mean()), "cells": int(mask.sum())})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# live: shared evaluation


def system_name(label: str, variant: str) -> str:
    """The system's name, which also names its files and folders: one plain path component."""
    return safe_name(f"{label}_{variant}", "label")


def evaluate_live(models: dict[str, object], data_dir, live_dir, *, tasks, langs, limit: int | None, batch_size: int,
                  progress: bool) -> pd.DataFrame:
    """Letter-method CLiKA evaluation of ``models`` (system name -> callable returning a LoadedModel).
    Items already in ``live_dir`` for the same model fingerprint and settings are not recomputed
    (:func:`clika_utils.evaluate.evaluate` resumes); another model under the same name is refused.
    Returns the items table of those systems."""
    from .evaluate import evaluate
    from .scoring import score_tree

    for system, load in models.items():
        lm = load()
        evaluate(lm, data_dir, live_dir, tasks=tasks, langs=langs, method="letter", system=system, limit=limit,
                 batch_size=batch_size, progress=progress)
        del lm
    return score_tree(live_dir, systems=list(models), tasks=tasks, langs=langs, limit=limit, n_boot=1).items


def _loader(model: str, job: Path | None):
    from .models import load_model
    return (lambda: load_model(model)) if job is None else (lambda: load_trained(job))


def _train_variant(model: str, examples: list[Example], job: Path, cfg: TrainConfig, num_processes: int,
                   progress: bool, accelerate_config: str | None = None) -> dict:
    data_file = write_examples(job.parent / f"{job.name}.data.jsonl", examples)
    run_job(model, data_file, job, cfg, num_processes=num_processes, accelerate_config=accelerate_config,
            progress=progress)
    meta = json.loads((job / "train.json").read_text(encoding="utf-8"))
    return {"steps": int(meta["steps"]), "final_loss": float(meta["final_loss"]),
            "global_batch": int(meta["reports"]["global_batch"]), "examples": len(examples)}


def _live_claims(items: pd.DataFrame, base: str, variants: dict[str, str], contrasts: list[tuple], n_boot: int,
                 seed: int, claims: list[Claim]) -> tuple[pd.DataFrame, pd.DataFrame]:
    pairs = [(system, base, langs) for system, langs in variants.items()] + contrasts
    cmp = Comparison(items, pairs, n_boot=n_boot, seed=seed, source="live results")
    return cmp.table(), check_claims(cmp, claims)


# ----------------------------------------------------------------------------------------------
# live: notebook 04


def pretraining_live(model: str, data_dir, text_home, models_dir, live_dir, *, label: str, target: str, mix_langs,
                     budget: int, block: int, heldout_fraction: float, train_config: dict, eval_limit: int,
                     eval_tasks=None, eval_langs=None, nll_docs: int = 8, nll_max_tokens: int = 128,
                     corpora: dict | None = None, batch_size: int = 16, n_boot: int = 1000, seed: int = 0,
                     num_processes: int = 1, progress: bool = True) -> tuple[dict, list]:
    """Continued (target only) vs mixed (equal shares of ``mix_langs``) pretraining with the same token
    budget; PF/CT on CLiKA (``data_dir``: the CLiKA tree), held-out LM loss. Text comes from the
    offline sources under ``text_home`` (the data home: ``xquad/``, ``tatoeba/``) or, per language,
    from ``corpora``: {lang: [globs]} (paper profile). Returns (tables, input files)."""
    from .models import load_tokenizer

    mix_langs = list(check_langs(mix_langs))
    if target not in mix_langs or target == "en":
        raise ConfigError(f"target {target!r} must be a non-English language among mix_langs {mix_langs}")
    tasks, langs = list(eval_tasks or TASKS), list(eval_langs or LANGS)
    cfg = TrainConfig.from_dict({**train_config, "seed": seed})
    train_docs, held_docs, inputs = {}, {}, []
    for lang in sorted(set(mix_langs) | set(langs)):
        docs = corpus.read_user_corpus(corpora[lang], lang) if corpora and lang in corpora else \
            corpus.offline_docs(text_home, lang)
        tr, he = corpus.split(docs, heldout_fraction)
        if not he:
            raise ConfigError(f"no held-out {lang} documents at heldout_fraction={heldout_fraction}")
        train_docs[lang], held_docs[lang] = tr, he[:: max(1, len(he) // nll_docs)][:nll_docs]  # spread over sources
        inputs += corpus.source_files(docs, text_home)
    tok, _ = load_tokenizer(model)
    streams = {
        f"cpt-{target}": corpus.mixture(train_docs, {target: 1.0}, tok, budget, block, seed),
        "mixed": corpus.mixture(train_docs, {lang: 1.0 for lang in mix_langs}, tok, budget, block, seed),
    }
    base_sys = system_name(label, "base")
    models, training, compositions = {base_sys: _loader(model, None)}, [], []
    for variant, (texts, comp) in streams.items():
        job = Path(models_dir) / variant
        info = _train_variant(model, [Example("", t) for t in texts], job, cfg, num_processes, progress)
        training.append({"variant": variant, "tokens": int(comp.tokens.sum()), **info})
        compositions.append(comp.assign(variant=variant))
        models[system_name(label, variant)] = _loader(model, job)
    items = evaluate_live(models, data_dir, live_dir, tasks=tasks, langs=langs, limit=eval_limit or None,
                          batch_size=batch_size, progress=progress)
    cpt, mixed = system_name(label, f"cpt-{target}"), system_name(label, "mixed")
    mix_targets = "+".join(mix_langs)
    deltas, claims = _live_claims(items, base_sys, {cpt: target, mixed: mix_targets},
                                  [(mixed, cpt, target)], n_boot, seed,
                                  _pretraining_live_claims(cpt, mixed, base_sys, target))
    per_doc = []
    for system, load in models.items():
        lm = load()
        for lang in langs:
            per_doc.append(corpus.doc_nll(lm, held_docs[lang], nll_max_tokens).assign(system=system))
        del lm
    nll_cmp = corpus.NLLComparison(pd.concat(per_doc, ignore_index=True),
                                   [(cpt, base_sys), (mixed, base_sys), (mixed, cpt)], n_boot, seed)
    nll = nll_cmp.table()
    tables = {"nll_claims": nll_claims(nll_cmp, cpt, mixed, base_sys, target, langs),
              "live_training": pd.DataFrame(training), "live_streams": pd.concat(compositions, ignore_index=True),
              "live_deltas": deltas, "live_claims": claims, "live_nll": nll,
              "live_summary": _accuracy_summary(items)}
    return tables, inputs


def _pretraining_live_claims(cpt: str, mixed: str, base: str, target: str) -> list[Claim]:
    out = []
    for m in ("accuracy", "ra", "en_co"):
        out.append(Claim(f"1a {m}", f"Continued pretraining raises the target language's {METRIC_NAMES[m]}",
                         [(cpt, base, target)], m, "target", 1))
        out.append(Claim(f"1b {m}", f"Continued pretraining lowers the other languages' {METRIC_NAMES[m]}",
                         [(cpt, base, target)], m, "others", -1))
    for m in ("ra", "en_co"):
        out.append(Claim(f"1c {m}", f"Mixed pretraining costs the other languages less than continued "
                                    f"pretraining ({METRIC_NAMES[m]}, same budget)", [(mixed, cpt, target)],
                         m, "others", 1))
    return out


def nll_claims(cmp: corpus.NLLComparison, cpt: str, mixed: str, base: str, target: str, langs) -> pd.DataFrame:
    """Claim 1 at the language-modelling level (held-out NLL per token; lower is better): continued
    pretraining lowers the target's NLL (1a) and raises the others' (1b); mixed pretraining raises the
    others' NLL less than continued pretraining does (1c: NLL(mixed) − NLL(continued) < 0 on others)."""
    from .compare import CLAIM_COLUMNS, verdict
    others = [lang for lang in langs if lang not in (target, "en")]
    spec = [("1a nll", "Continued pretraining lowers the target language's held-out loss", cpt, base, [target], -1),
            ("1b nll", "Continued pretraining raises the other languages' held-out loss", cpt, base, others, 1),
            ("1c nll", "Mixed pretraining costs the other languages less than continued pretraining (held-out "
                       "loss, same budget)", mixed, cpt, others, -1)]
    rows = []
    for claim, statement, system, ref, group_langs, direction in spec:
        g = cmp.group(system, ref, group_langs)
        rows.append({"claim": claim, "statement": statement, "metric": "nll_per_token",
                     "group": "target" if group_langs == [target] else "others",
                     "expected": "increase" if direction > 0 else "decrease", "pairs": f"{system} vs {ref}", **g,
                     "verdict": verdict(g["delta_lo"], g["delta_hi"], direction) if g["cells"] else "inconclusive"})
    return pd.DataFrame(rows)[CLAIM_COLUMNS]


def _accuracy_summary(items: pd.DataFrame) -> pd.DataFrame:
    return (items.groupby(["system", "task", "lang"], sort=False).correct.agg(["mean", "size"])
            .rename(columns={"mean": "accuracy", "size": "n"}).reset_index())


# ----------------------------------------------------------------------------------------------
# live: notebook 05


def instruction_examples(facts: list[cldr.Fact], langs) -> list[Example]:
    return [Example(alpaca_prompt(q), a) for _, q, a in cldr.instructions(facts, langs)]


def probe(lm, qa: pd.DataFrame, system: str) -> pd.DataFrame:
    """Multiple-choice CLDR probe: an item is correct iff the gold option has the highest summed
    log-probability as the response to the Alpaca-formatted question (lm-evaluation-harness ``acc``)."""
    from .evaluate import Engine
    engine = Engine(lm)
    prefix = engine.shared_prefix([alpaca_prompt(q) for q in qa.question.unique()])   # the Alpaca header, once
    scored = engine.continuation_logprobs_many([alpaca_prompt(q) for q in qa.question],
                                               [list(o) for o in qa.options], prefix)
    rows = []
    for r, (scores, _) in zip(qa.itertuples(), scored):
        rows.append({"system": system, "task": "cldr", "lang": r.lang, "item_id": r.item_id,
                     "fact": r.fact, "correct": int(int(np.argmax(scores)) == r.gold)})
    return pd.DataFrame(rows)


def instruction_live(model: str, data_dir, models_dir, live_dir, *, label: str, it_langs, train_facts: int,
                     heldout_fraction: float, probe_items: int, train_config: dict, eval_limit: int,
                     eval_tasks=None, eval_langs=None, batch_size: int = 16, n_boot: int = 1000, seed: int = 0,
                     num_processes: int = 1, progress: bool = True) -> dict:
    """English-only vs multilingual (``it_langs``) instruction tuning on the same CLDR facts, equal steps."""
    it_langs = list(check_langs(it_langs))
    if "en" not in it_langs or len(it_langs) < 2:
        raise ConfigError(f"it_langs must include 'en' and at least one other language, got {it_langs}")
    if not train_config.get("max_steps"):
        raise ConfigError("train_config.max_steps is required: both runs take the same number of steps")
    tasks, langs = list(eval_tasks or TASKS), list(eval_langs or LANGS)
    cfg = TrainConfig.from_dict({**train_config, "seed": seed})
    cldr.check_templates()
    all_facts = cldr.facts()
    train_pool, held = cldr.split(all_facts, heldout_fraction)
    rng = np.random.default_rng(seed)
    chosen = [train_pool[i] for i in sorted(rng.choice(len(train_pool), min(train_facts, len(train_pool)),
                                                       replace=False))]
    held_sel = [held[i] for i in sorted(rng.choice(len(held), min(probe_items, len(held)), replace=False))]
    qa = cldr.qa_table(held_sel, langs, seed=seed, pool=all_facts)
    base_sys = system_name(label, "base")
    models, training = {base_sys: _loader(model, None)}, []
    for variant, lang_set in (("it-en", ["en"]), ("it-multi", it_langs)):
        job = Path(models_dir) / variant
        info = _train_variant(model, instruction_examples(chosen, lang_set), job, cfg, num_processes, progress)
        training.append({"variant": variant, "langs": "+".join(lang_set), "facts": len(chosen), **info})
        models[system_name(label, variant)] = _loader(model, job)
    items = evaluate_live(models, data_dir, live_dir, tasks=tasks, langs=langs, limit=eval_limit or None,
                          batch_size=batch_size, progress=progress)
    probe_items_df = []
    for system, load in models.items():
        lm = load()
        probe_items_df.append(probe(lm, qa, system))
        del lm
    probe_df = pd.concat(probe_items_df, ignore_index=True)
    en_sys, multi_sys = system_name(label, "it-en"), system_name(label, "it-multi")
    variants = {multi_sys: "+".join(it_langs), en_sys: "en"}
    contrast = [(multi_sys, en_sys, "+".join(it_langs))]
    live_claims = _instruction_live_claims(multi_sys, en_sys, base_sys, it_langs)
    deltas, claims = _live_claims(items, base_sys, variants, contrast, n_boot, seed, live_claims)
    p_deltas, p_claims = _live_claims(probe_df.drop(columns="fact"), base_sys, variants, contrast, n_boot, seed,
                                      live_claims)
    return {"live_training": pd.DataFrame(training), "live_deltas": deltas, "live_claims": claims,
            "probe_items": probe_df, "probe_deltas": p_deltas, "probe_claims": p_claims,
            "live_summary": _accuracy_summary(pd.concat([items, probe_df.drop(columns="fact")]))}


def _instruction_live_claims(multi: str, english: str, base: str, it_langs) -> list[Claim]:
    langs = "+".join(it_langs)
    out = []
    for m in ("accuracy", "ra", "en_co"):
        out.append(Claim(f"2a {m}", f"Multilingual instruction tuning raises non-English {METRIC_NAMES[m]}",
                         [(multi, base, langs)], m, "non_en", 1))
        out.append(Claim(f"2b {m}", f"English-only instruction tuning raises non-English {METRIC_NAMES[m]}",
                         [(english, base, "en")], m, "non_en", 1))
        out.append(Claim(f"2c {m}", f"Multilingual beats English-only instruction tuning on non-English "
                                    f"{METRIC_NAMES[m]}", [(multi, english, langs)], m, "non_en", 1))
    return out


# ----------------------------------------------------------------------------------------------
# writing, loading, findings


def write(tables: dict[str, pd.DataFrame], results_dir, *, parameters: dict, seed: int, inputs: dict) -> dict:
    written = write_result_set(results_dir, {f"{name}.csv": df for name, df in tables.items()},
                               parameters=parameters, seed=seed, inputs=inputs)
    return {name: written[f"{name}.csv"] for name in tables}


def load(results_dir, names) -> dict[str, pd.DataFrame]:
    from .io import read_csv_checked
    return {n: read_csv_checked(Path(results_dir) / f"{n}.csv", []) for n in names}


def verdict_lines(claims: pd.DataFrame, where: str) -> list[str]:
    """One plain sentence per claim row."""
    out = []
    for r in claims.itertuples():
        if not r.cells:
            out.append(f"[{where}] {r.claim}: {r.statement} — no pair available, not tested.")
            continue
        out.append(f"[{where}] {r.claim}: {r.statement} — mean Δ {r.delta:+.3f} "
                   f"[{r.delta_lo:+.3f}, {r.delta_hi:+.3f}] over {r.cells} cells: {r.verdict.upper()}.")
    return out


PRETRAINING_FILES = ("lineage", "stored_deltas", "stored_claims", "live_training", "live_streams", "live_deltas",
                     "live_claims", "live_nll", "nll_claims", "live_summary")
INSTRUCTION_FILES = ("lineage", "stored_deltas", "stored_claims", "live_training", "live_deltas", "live_claims",
                     "probe_items", "probe_deltas", "probe_claims", "live_summary")


def run_pretraining(model: str, data_dir, text_home, results_dir, models_dir, live_dir, *, items_csv=None,
                    label: str, target: str, mix_langs, budget: int, block: int, heldout_fraction: float,
                    train_config: dict, eval_limit: int, eval_tasks=None, eval_langs=None, nll_docs: int = 8,
                    nll_max_tokens: int = 128, corpora: dict | None = None, batch_size: int = 16,
                    n_boot: int = 1000, seed: int = 0, num_processes: int = 1, parameters: dict | None = None,
                    progress: bool = True) -> dict:
    """Notebook 04: stored comparisons + the live controlled experiment; writes every table of
    :data:`PRETRAINING_FILES` with provenance."""
    tables, inputs = stored(data_dir, which="pretraining", items_csv=items_csv, n_boot=n_boot, seed=seed)
    live, files = pretraining_live(model, data_dir, text_home, models_dir, live_dir, label=label, target=target,
                                   mix_langs=mix_langs, budget=budget, block=block,
                                   heldout_fraction=heldout_fraction, train_config=train_config,
                                   eval_limit=eval_limit, eval_tasks=eval_tasks, eval_langs=eval_langs,
                                   nll_docs=nll_docs, nll_max_tokens=nll_max_tokens, corpora=corpora,
                                   batch_size=batch_size, n_boot=n_boot, seed=seed, num_processes=num_processes,
                                   progress=progress)
    inputs.update(input_hashes(files, root=text_home))
    params = {**(parameters or {}), "model": model, "label": label, "target": target, "mix_langs": list(mix_langs),
              "budget": budget, "block": block, "heldout_fraction": heldout_fraction, "train_config": train_config,
              "eval_limit": eval_limit, "nll_docs": nll_docs, "nll_max_tokens": nll_max_tokens, "n_boot": n_boot,
              "corpora": corpora}
    return write({**tables, **live}, results_dir, parameters=params, seed=seed, inputs=inputs)


def run_instruction(model: str, data_dir, results_dir, models_dir, live_dir, *, items_csv=None, label: str,
                    it_langs, train_facts: int, heldout_fraction: float, probe_items: int, train_config: dict,
                    eval_limit: int, eval_tasks=None, eval_langs=None, batch_size: int = 16, n_boot: int = 1000,
                    seed: int = 0, num_processes: int = 1, parameters: dict | None = None,
                    progress: bool = True) -> dict:
    """Notebook 05: stored comparisons + the live controlled experiment; writes :data:`INSTRUCTION_FILES`."""
    import babel

    tables, inputs = stored(data_dir, which="instruction", items_csv=items_csv, n_boot=n_boot, seed=seed)
    live = instruction_live(model, data_dir, models_dir, live_dir, label=label, it_langs=it_langs,
                            train_facts=train_facts, heldout_fraction=heldout_fraction, probe_items=probe_items,
                            train_config=train_config, eval_limit=eval_limit, eval_tasks=eval_tasks,
                            eval_langs=eval_langs, batch_size=batch_size, n_boot=n_boot, seed=seed,
                            num_processes=num_processes, progress=progress)
    params = {**(parameters or {}), "model": model, "label": label, "it_langs": list(it_langs),
              "train_facts": train_facts, "heldout_fraction": heldout_fraction, "probe_items": probe_items,
              "train_config": train_config, "eval_limit": eval_limit, "n_boot": n_boot,
              "cldr": f"babel {babel.__version__}"}
    return write({**tables, **live}, results_dir, parameters=params, seed=seed, inputs=inputs)


def summary_by_system(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per live system and task over languages (the compact view)."""
    return summary.pivot_table(index="system", columns="task", values="accuracy", aggfunc="mean", sort=False)


def stored_heatmap_table(deltas: pd.DataFrame, metric: str, pairs) -> pd.DataFrame:
    """(pair x language) mean Δ over tasks, for the heatmap of the stored comparisons."""
    sub = deltas[deltas.metric == metric]
    rows = {}
    for d, b, *_ in pairs:
        part = sub[(sub.derived == d) & (sub.base == b)]
        if not part.empty:
            rows[f"{d} − {b}"] = part.groupby("lang").delta.mean()
    return pd.DataFrame(rows).T.reindex(columns=[lang for lang in LANGS if lang != "en"])


def _chance_note(summary: pd.DataFrame) -> list[str]:
    out = []
    cl = summary[summary.task.isin(list(TASKS))]
    for system, part in cl.groupby("system", sort=False):
        by_task = part.groupby("task").accuracy.mean()
        near = [t for t, a in by_task.items() if abs(a - TASKS[t].chance) <= 0.1]
        out.append(f"{system}: mean CLiKA accuracy " + ", ".join(f"{t} {a:.2f} (chance {TASKS[t].chance:.2f})"
                                                                for t, a in by_task.items())
                   + (f" — within 0.10 of chance on {len(near)} of {len(by_task)} tasks, so PF/CT deltas of "
                      "this model are mostly noise" if len(near) == len(by_task) else ""))
    return out


def _verdict_count(claims: pd.DataFrame) -> str:
    c = claims[claims.cells > 0].verdict.value_counts()
    return ", ".join(f"{c.get(v, 0)} {v}" for v in VERDICTS)


def _block(claims: pd.DataFrame, title: str, where: str) -> list[str]:
    """A heading with the verdict counts, then one line per claim."""
    return [f"{title} ({_verdict_count(claims)}):"] + verdict_lines(claims, where)


def findings_pretraining(t: dict[str, pd.DataFrame]) -> list[str]:
    out = _block(t["stored_claims"], "Stored outputs", "stored")
    out += _block(t["live_claims"], "Live controlled run", "live")
    out += _chance_note(t["live_summary"])
    out += _block(t["nll_claims"], "Live controlled run, held-out language-model loss", "live loss")
    d = t["live_nll"].dropna(subset=["delta"])
    for (system, ref), part in d.groupby(["system", "reference"], sort=False):
        out.append(f"Δ NLL/token {system} − {ref}: " + ", ".join(
            f"{r.lang} {r.delta:+.3f} [{r.delta_lo:+.3f}, {r.delta_hi:+.3f}]" for r in part.itertuples()) + ".")
    return out


def findings_instruction(t: dict[str, pd.DataFrame], xrr: pd.DataFrame | None = None) -> list[str]:
    out = _block(t["stored_claims"], "Stored outputs", "stored")
    out += _block(t["live_claims"], "Live controlled run, CLiKA streams", "live")
    out += _chance_note(t["live_summary"])
    out += _block(t["probe_claims"], "Live controlled run, held-out CLDR facts", "probe")
    probe_acc = t["probe_items"].groupby("system", sort=False).correct.mean()
    out.append("CLDR probe accuracy over all languages (4 options, chance 0.25): "
               + ", ".join(f"{s} {a:.2f}" for s, a in probe_acc.items()) + ".")
    if xrr is not None and not xrr.empty:
        x = xrr[xrr.metric == "xrr"]
        out.append("'Only shallowly' is about Conductivity, which no stored output measures; notebook 03 measured it "
                   "after fine-tuning (XRR: the published transfer ratio, 0 = chance, 1 = full): "
                   + ", ".join(f"{r.target_lang} {r.value:.2f} [{r.lo:.2f}, {r.hi:.2f}]" for r in x.itertuples()) + ".")
    else:
        out.append("'Only shallowly' is about Conductivity, which no stored output measures; run notebook 03 "
                   "for XRR (not found in its results folder).")
    return out
