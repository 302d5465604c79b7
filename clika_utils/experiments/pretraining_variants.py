"""Notebook 04: CLiKA's first training claim, from the stored outputs and from a controlled live run.

*Continued pretraining on a target language improves that language's alignment at the cost of the
others; mixed pretraining affects the other languages less* (Gao et al. 2024, abstract and §4.2).

Stored outputs: the paper's comparisons, re-derived with paired bootstrap CIs by
:mod:`clika_utils.compare` from the items table that ``clika score`` (and notebook 01) writes;
which system derives from which is :mod:`clika_utils.lineage`.

Live, controlled (same base, same token budget, only the data changed): continued pretraining on
target-language text only vs a mixed multilingual stream (raw text, LoRA), then PF/CT on the CLiKA
streams (letter method, the first ``eval_limit`` items) and the language-model loss on held-out
documents of every language. The base model's evaluation is shared with notebook 05 (same live
folder and system name); trained adapters are reused when the job is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from .. import corpus, lineage, settings
from ..claims import PaperClaim
from ..compare import CLAIM_COLUMNS, Claim, claim_record
from ..config import ExperimentConfig
from ..data import TASKS
from ..errors import ConfigError
from ..formats import Example
from ..langs import LANGS, check_langs
from ..outdir import system_name
from ..provenance import input_hashes
from ..train import TrainConfig
from .shared import (CLAIM_METRICS, METRIC_NAMES, accuracy_summary, chance_note, claims_block, claims_table_rows,
                     delta_claims, evaluate_live, judge_note, live_claims, load_tables, loader, probe_live,
                     probe_questions, stored, train_or_reuse, write)

#: mixed-pretrained vs continued-pretrained models of the same size and target (zh) — claim 1c
MIXED_VS_CONTINUED = [("baichuan2_7b_base", "chinese_llama2_7b", "zh"),
                      ("baichuan2_13b_base", "chinese_llama2_13b", "zh"),
                      ("bloom_7b1", "chinese_llama_7b", "zh")]


def pretraining_claims(systems) -> list[Claim]:
    """The declared claims over the stored systems: continued pretraining against its base (1a, 1b), mixed
    against continued pretraining of the same size and target, zh (1c)."""
    systems = set(systems)
    cont = lineage.pairs("continued pretraining", systems)
    mixed = [p for p in MIXED_VS_CONTINUED if p[0] in systems and p[1] in systems]
    return delta_claims(CLAIMS, {"1a": cont, "1b": cont, "1c": mixed})


def stored_heatmap_pairs(systems) -> tuple[list, dict]:
    """The stored comparisons the Δ heatmaps show, and each one's kind: continued pretraining against its
    base, and mixed against continued pretraining (a different comparison, drawn in its own block)."""
    systems = set(systems)
    cont = lineage.pairs("continued pretraining", systems)
    mixed = [p for p in MIXED_VS_CONTINUED if p[0] in systems and p[1] in systems]
    kinds = {**{(d, b): "continued pretraining − its base" for d, b, *_ in cont},
             **{(d, b): "mixed − continued pretraining (same size)" for d, b, *_ in mixed}}
    return cont + mixed, kinds


def pretraining_live(model: str, data_dir, text_home, models_dir, live_dir, *, label: str, target: str, mix_langs,
                     budget: int, block: int, heldout_fraction: float, train_config: dict, eval_limit: int,
                     eval_tasks=None, eval_langs=None, nll_docs: int = 8, nll_max_tokens: int = 128,
                     probe_items: int = 0, probe_heldout_fraction: float = 0.3,
                     corpora: dict | None = None, batch_size: int = 16, n_boot: int = 1000, seed: int = 0,
                     num_processes: int = 1, progress: bool = True) -> tuple[dict, list]:
    """Continued (target only) vs mixed (equal shares of ``mix_langs``) pretraining with the same token
    budget; PF/CT on CLiKA (``data_dir``: the CLiKA tree), held-out LM loss. Text comes from the
    offline sources under ``text_home`` (the data home: ``xquad/``, ``tatoeba/``) or, per language,
    from ``corpora``: {lang: [globs]} (paper profile). Returns (tables, input files)."""
    from ..models import load_tokenizer

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
    models, jobs, training, compositions = {base_sys: loader(model, None)}, {base_sys: None}, [], []
    for variant, (texts, comp) in streams.items():
        job = Path(models_dir) / variant
        info = train_or_reuse(model, [Example("", t) for t in texts], job, cfg, num_processes, progress)
        training.append({"variant": variant, "tokens": int(comp.tokens.sum()), **info})
        compositions.append(comp.assign(variant=variant))
        models[system_name(label, variant)] = loader(model, job)
        jobs[system_name(label, variant)] = job
    items = evaluate_live(models, data_dir, live_dir, tasks=tasks, langs=langs, limit=eval_limit or None,
                          batch_size=batch_size, progress=progress)
    cpt, mixed = system_name(label, f"cpt-{target}"), system_name(label, "mixed")
    mix_targets = "+".join(mix_langs)
    declared = _pretraining_live_claims(cpt, mixed, base_sys, target)
    deltas, claims = live_claims(items, base_sys, {cpt: target, mixed: mix_targets},
                                  [(mixed, cpt, target)], n_boot, seed, declared)
    probe_tables = {}
    if probe_items:
        qa = probe_questions(langs, heldout_fraction=probe_heldout_fraction, probe_items=probe_items, seed=seed)
        probe_df = probe_live(model, models, jobs, qa, live_dir)
        p_deltas, p_claims = live_claims(probe_df.drop(columns="fact"), base_sys, {cpt: target, mixed: mix_targets},
                                         [(mixed, cpt, target)], n_boot, seed, declared)
        probe_tables = {"probe_items": probe_df, "probe_deltas": p_deltas, "probe_claims": p_claims}
        items = pd.concat([items, probe_df.drop(columns="fact")], ignore_index=True)
    per_doc = []
    for system, load in models.items():
        lm = load()
        for lang in langs:
            per_doc.append(corpus.doc_nll(lm, held_docs[lang], nll_max_tokens).assign(system=system))
        del lm
    per_doc = pd.concat(per_doc, ignore_index=True)[["system", "lang", "doc", "nll", "tokens"]]
    nll_cmp = corpus.NLLComparison(per_doc, [(cpt, base_sys), (mixed, base_sys), (mixed, cpt)], n_boot, seed)
    nll = nll_cmp.table()
    tables = {"nll_claims": nll_claims(nll_cmp, cpt, mixed, base_sys, target, langs), "live_nll_docs": per_doc,
              "live_training": pd.DataFrame(training), "live_streams": pd.concat(compositions, ignore_index=True),
              "live_deltas": deltas, "live_claims": claims, "live_nll": nll,
              "live_summary": accuracy_summary(items), **probe_tables}
    return tables, inputs


def _pretraining_live_claims(cpt: str, mixed: str, base: str, target: str) -> list[Claim]:
    """The declared claims over the live systems (the same training budget for both variants)."""
    return delta_claims(CLAIMS, {"1a": [(cpt, base, target)], "1b": [(cpt, base, target)],
                                 "1c": [(mixed, cpt, target)]})


def nll_claims(cmp: corpus.NLLComparison, cpt: str, mixed: str, base: str, target: str, langs) -> pd.DataFrame:
    """Claim 1 at the language-modelling level (held-out NLL per token; lower is better): continued
    pretraining lowers the target's NLL (1a) and raises the others' (1b); mixed pretraining raises the
    others' NLL less than continued pretraining does (1c: NLL(mixed) − NLL(continued) < 0 on others)."""
    others = [lang for lang in langs if lang not in (target, "en")]
    spec = {"1a": (cpt, base, [target]), "1b": (cpt, base, others), "1c": (mixed, cpt, others)}
    rows = []
    for c in CLAIMS:
        system, ref, group_langs = spec[c.key]
        # a lower loss is a gain: the claim's direction on Δ NLL is the opposite of its direction on alignment
        rows.append(claim_record(f"{c.key} nll", c.stated(METRIC_NAMES["nll_per_token"]), "nll_per_token", c.group,
                                 -c.direction, f"{system} vs {ref}", cmp.group(system, ref, group_langs)))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


PRETRAINING_FILES = ("lineage", "stored_deltas", "stored_claims", "stored_judge", "live_training", "live_streams",
                     "live_deltas", "live_claims", "live_nll", "nll_claims", "live_summary", "live_nll_docs")
PROBE_FILES = ("probe_items", "probe_deltas", "probe_claims")      #: written when ``probe_items`` > 0


def load(results_dir) -> dict[str, pd.DataFrame]:
    """The tables :func:`run` wrote, keyed by name (the probe's when it ran)."""
    present = [n for n in PROBE_FILES if (Path(results_dir) / f"{n}.csv").exists()]
    return load_tables(results_dir, PRETRAINING_FILES + tuple(present))


def execute(model: str, data_dir, text_home, results_dir, models_dir, live_dir, *, items_csv=None,
            label: str, target: str, mix_langs, budget: int, block: int, heldout_fraction: float,
            train_config: dict, eval_limit: int, eval_tasks=None, eval_langs=None, nll_docs: int = 8,
            nll_max_tokens: int = 128, probe_items: int = 0, probe_heldout_fraction: float = 0.3,
            corpora: dict | None = None, batch_size: int = 16,
            n_boot: int = 1000, seed: int = 0, num_processes: int = 1, parameters: dict | None = None,
            progress: bool = True) -> dict:
    """Notebook 04: stored comparisons + the live controlled experiment; writes every table of
    :data:`PRETRAINING_FILES` with provenance."""
    tables, inputs = stored(data_dir, pretraining_claims, items_csv=items_csv, n_boot=n_boot, seed=seed)
    live, files = pretraining_live(model, data_dir, text_home, models_dir, live_dir, label=label, target=target,
                                   mix_langs=mix_langs, budget=budget, block=block,
                                   heldout_fraction=heldout_fraction, train_config=train_config,
                                   eval_limit=eval_limit, eval_tasks=eval_tasks, eval_langs=eval_langs,
                                   nll_docs=nll_docs, nll_max_tokens=nll_max_tokens, probe_items=probe_items,
                                   probe_heldout_fraction=probe_heldout_fraction, corpora=corpora,
                                   batch_size=batch_size, n_boot=n_boot, seed=seed, num_processes=num_processes,
                                   progress=progress)
    inputs.update(input_hashes(files, root=text_home))
    params = {"model": model, "label": label, "target": target, "mix_langs": list(mix_langs),
              "budget": budget, "block": block, "heldout_fraction": heldout_fraction, "train_config": train_config,
              "eval_limit": eval_limit, "nll_docs": nll_docs, "nll_max_tokens": nll_max_tokens, "n_boot": n_boot,
              "probe_items": probe_items, "probe_heldout_fraction": probe_heldout_fraction,
              "corpora": corpora, **(parameters or {})}
    return write({**tables, **live}, results_dir, parameters=params, seed=seed, inputs=inputs)


def findings(t: dict[str, pd.DataFrame]) -> list[str]:
    out = claims_block(t["stored_claims"], "Stored outputs", "stored")
    out += judge_note(t.get("stored_judge"))
    out += claims_block(t["live_claims"], "Live controlled run", "live")
    out += chance_note(t["live_summary"])
    out += claims_block(t["nll_claims"], "Live controlled run, held-out language-model loss", "live loss")
    if "probe_claims" in t:
        out += claims_block(t["probe_claims"], "Live controlled run, held-out CLDR facts (above chance in English)",
                            "probe")
    d = t["live_nll"].dropna(subset=["delta"])
    for (system, ref), part in d.groupby(["system", "reference"], sort=False):
        out.append(f"Δ NLL/token {system} − {ref}: " + ", ".join(
            f"{r.lang} {r.delta:+.3f} [{r.delta_lo:+.3f}, {r.delta_hi:+.3f}]" for r in part.itertuples()) + ".")
    return out


# ----------------------------------------------------------------------------------------------
# the papers' claims this notebook measures


_SOURCES = "stored_claims.csv, live_claims.csv, nll_claims.csv, probe_claims.csv"
#: CLiKA's claim 1, declared once: the stored comparisons, the live CLiKA streams, the CLDR probe and the held-out
#: loss all build their rows from these (``{measure}``: accuracy, RA, en-CO beyond chance, held-out likelihood).
CLAIMS = [
    PaperClaim(key="1a", paper="CLiKA", statement="Continued pretraining raises the target language's {measure}",
               general="alignment", metric="Δ accuracy, RA, en-CO beyond chance (stored and live); Δ held-out NLL "
               "(live)", expected="increase", source=_SOURCES, group="target", measures=CLAIM_METRICS,
               headline="Continued pretraining helps the target language"),
    PaperClaim(key="1b", paper="CLiKA", statement="Continued pretraining lowers the other languages' {measure}",
               general="alignment", metric="Δ accuracy, RA, en-CO beyond chance (stored and live); Δ held-out NLL "
               "(live)", expected="decrease", source=_SOURCES, group="others", measures=CLAIM_METRICS,
               headline="Continued pretraining hurts the other languages"),
    PaperClaim(key="1c", paper="CLiKA", statement="Mixed pretraining costs the other languages less than continued "
               "pretraining: higher {measure} on the non-target languages", general="alignment",
               metric="Δ RA, en-CO beyond chance (stored and live); Δ held-out NLL (live)", expected="increase",
               source=_SOURCES, group="others", measures=CLAIM_METRICS[1:],
               headline="Mixed pretraining hurts the other languages less"),
]
CLAIM_TABLES = ("stored_claims", "live_claims", "nll_claims", "probe_claims")


def claim_rows(results_dir) -> list[dict]:
    """One row per row of the claims tables (stored outputs and the live runs), as computed in :func:`run`."""
    return claims_table_rows(results_dir, Config.NOTEBOOK, CLAIM_TABLES, CLAIMS)


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 04's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "04_pretraining_variants"

    profile: str
    data_dir: str
    items_csv: str
    model: str
    label: str
    target: str
    mix_langs: list
    budget: int
    block: int
    heldout_fraction: float
    corpora: dict
    train_config: dict
    eval_limit: int
    eval_tasks: list
    eval_langs: list
    nll_docs: int
    nll_max_tokens: int
    probe_items: int
    probe_heldout_fraction: float
    batch_size: int
    num_processes: int
    n_boot: int
    seed: int
    models_dir: str
    live_dir: str
    render_only: bool
    results_dir: str
    figures_dir: str


def run(config: Config, *, progress: bool = True) -> dict[str, Path]:
    """Notebook 04: stored comparisons + the live controlled experiment; writes :data:`PRETRAINING_FILES`."""
    c = config
    return execute(c.model, settings.clika_dir(c.data_dir), settings.data_home(), c.path("results_dir"),
                   c.path("models_dir"), c.path("live_dir"),
                   items_csv=c.path("items_csv") if c.items_csv else None, label=c.label, target=c.target,
                   mix_langs=c.mix_langs, budget=c.budget, block=c.block, heldout_fraction=c.heldout_fraction,
                   train_config=c.train_config, eval_limit=c.eval_limit, eval_tasks=c.eval_tasks or None,
                   eval_langs=c.eval_langs or None, nll_docs=c.nll_docs, nll_max_tokens=c.nll_max_tokens,
                   probe_items=c.probe_items, probe_heldout_fraction=c.probe_heldout_fraction,
                   corpora=c.corpora or None, batch_size=c.batch_size, n_boot=c.n_boot, seed=c.seed,
                   num_processes=c.num_processes, parameters=c.record(), progress=progress)
