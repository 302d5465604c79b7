"""Notebook 05: CLiKA's second training claim, from the stored outputs and from a controlled live run.

*Multilingual instruction tuning improves alignment (PF, CT) — but only shallowly: conductivity stays
low* (Gao et al. 2024, abstract and §4.3).

Stored outputs: the paper's comparisons with paired bootstrap CIs (:mod:`clika_utils.compare`,
:mod:`clika_utils.lineage`). Live, controlled: instruction tuning on English-only CLDR fact
instructions vs the same instructions in several languages, equal steps; then PF/CT on the CLiKA
streams and on held-out CLDR facts (multiple choice, countries never seen in training). The base
model's evaluation is shared with notebook 04.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import cldr, lineage, settings
from ..claims import PaperClaim
from ..compare import Claim
from ..config import ExperimentConfig
from ..data import TASKS
from ..errors import ConfigError
from ..formats import Example, alpaca_prompt
from ..langs import LANGS, check_langs
from ..outdir import system_name
from ..train import TrainConfig
from .shared import (CLAIM_METRICS, accuracy_summary, chance_note, claims_block, claims_table_rows, delta_claims,
                     evaluate_live, judge_note, live_claims, load_tables, loader, probe_live, probe_questions,
                     stored, train_or_reuse, write)

#: multilingual vs English-only instruction tuning of the same base (llama_7b) — claim 2c
MULTI_VS_ENGLISH_IT = [("m_llama", "Stanford_Alpaca", "multi")]

#: instruction-tuning pairs whose derived model had another stage in between (not a clean IT delta)
NOT_CLEAN_IT = {"bigtranslate"}


def instruction_pairs(systems) -> tuple[list, list]:
    """(multilingual, English-only) instruction/chat tuning pairs with a stored base."""
    systems = set(systems)
    pairs = lineage.pairs("instruction tuning", systems) + lineage.pairs("chat", systems)
    multi = [p for p in pairs if p[2] != "en" and p[0] not in NOT_CLEAN_IT]
    english = [p for p in pairs if p[2] == "en"]
    return multi, english


def stored_heatmap_pairs(systems) -> tuple[list, dict]:
    """The stored comparisons the Δ heatmaps show, and each one's kind: multilingual and English-only
    instruction/chat tuning against the base, and m-LLaMA against Stanford Alpaca (tuned vs tuned)."""
    multi, english = instruction_pairs(systems)
    vs = [p for p in MULTI_VS_ENGLISH_IT if p[0] in set(systems) and p[1] in set(systems)]
    kinds = {**{(d, b): "multilingual instruction/chat tuning − base" for d, b, *_ in multi},
             **{(d, b): "English-only instruction/chat tuning − base" for d, b, *_ in english},
             **{(d, b): "multilingual − English-only instruction tuning (same base)" for d, b, *_ in vs}}
    return multi + english + vs, kinds


def instruction_claims(systems) -> list[Claim]:
    """The declared claims over the stored systems (2c: multilingual against English-only tuning of the same base)."""
    multi, english = instruction_pairs(systems)
    systems = set(systems)
    vs = [p for p in MULTI_VS_ENGLISH_IT if p[0] in systems and p[1] in systems]
    return delta_claims(CLAIMS, {"2a": multi, "2b": english, "2c": vs})


def instruction_examples(facts: list[cldr.Fact], langs) -> list[Example]:
    return [Example(alpaca_prompt(q), a) for _, q, a in cldr.instructions(facts, langs)]


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
    train_pool, _ = cldr.split(cldr.facts(), heldout_fraction)
    rng = np.random.default_rng(seed)
    chosen = [train_pool[i] for i in sorted(rng.choice(len(train_pool), min(train_facts, len(train_pool)),
                                                       replace=False))]
    qa = probe_questions(langs, heldout_fraction=heldout_fraction, probe_items=probe_items, seed=seed)
    base_sys = system_name(label, "base")
    models, jobs, training = {base_sys: loader(model, None)}, {base_sys: None}, []
    for variant, lang_set in (("it-en", ["en"]), ("it-multi", it_langs)):
        job = Path(models_dir) / variant
        info = train_or_reuse(model, instruction_examples(chosen, lang_set), job, cfg, num_processes, progress)
        training.append({"variant": variant, "langs": "+".join(lang_set), "facts": len(chosen), **info})
        models[system_name(label, variant)] = loader(model, job)
        jobs[system_name(label, variant)] = job
    items = evaluate_live(models, data_dir, live_dir, tasks=tasks, langs=langs, limit=eval_limit or None,
                          batch_size=batch_size, progress=progress)
    probe_df = probe_live(model, models, jobs, qa, live_dir)
    en_sys, multi_sys = system_name(label, "it-en"), system_name(label, "it-multi")
    variants = {multi_sys: "+".join(it_langs), en_sys: "en"}
    contrast = [(multi_sys, en_sys, "+".join(it_langs))]
    declared = _instruction_live_claims(multi_sys, en_sys, base_sys, it_langs)
    deltas, claims = live_claims(items, base_sys, variants, contrast, n_boot, seed, declared)
    p_deltas, p_claims = live_claims(probe_df.drop(columns="fact"), base_sys, variants, contrast, n_boot, seed,
                                     declared)
    return {"live_training": pd.DataFrame(training), "live_deltas": deltas, "live_claims": claims,
            "probe_items": probe_df, "probe_deltas": p_deltas, "probe_claims": p_claims,
            "live_summary": accuracy_summary(pd.concat([items, probe_df.drop(columns="fact")]))}


def _instruction_live_claims(multi: str, english: str, base: str, it_langs) -> list[Claim]:
    """The declared claims over the live systems."""
    langs = "+".join(it_langs)
    return delta_claims(CLAIMS, {"2a": [(multi, base, langs)], "2b": [(english, base, "en")],
                                 "2c": [(multi, english, langs)]})


INSTRUCTION_FILES = ("lineage", "stored_deltas", "stored_claims", "stored_judge", "live_training", "live_deltas",
                     "live_claims", "probe_items", "probe_deltas", "probe_claims", "live_summary")


def load(results_dir) -> dict[str, pd.DataFrame]:
    """The tables :func:`run` wrote, keyed by name."""
    return load_tables(results_dir, INSTRUCTION_FILES)


def execute(model: str, data_dir, results_dir, models_dir, live_dir, *, items_csv=None, label: str,
            it_langs, train_facts: int, heldout_fraction: float, probe_items: int, train_config: dict,
            eval_limit: int, eval_tasks=None, eval_langs=None, batch_size: int = 16, n_boot: int = 1000,
            seed: int = 0, num_processes: int = 1, parameters: dict | None = None,
            progress: bool = True) -> dict:
    """Notebook 05: stored comparisons + the live controlled experiment; writes :data:`INSTRUCTION_FILES`."""
    import babel

    tables, inputs = stored(data_dir, instruction_claims, items_csv=items_csv, n_boot=n_boot, seed=seed)
    live = instruction_live(model, data_dir, models_dir, live_dir, label=label, it_langs=it_langs,
                            train_facts=train_facts, heldout_fraction=heldout_fraction, probe_items=probe_items,
                            train_config=train_config, eval_limit=eval_limit, eval_tasks=eval_tasks,
                            eval_langs=eval_langs, batch_size=batch_size, n_boot=n_boot, seed=seed,
                            num_processes=num_processes, progress=progress)
    params = {"model": model, "label": label, "it_langs": list(it_langs),
              "train_facts": train_facts, "heldout_fraction": heldout_fraction, "probe_items": probe_items,
              "train_config": train_config, "eval_limit": eval_limit, "n_boot": n_boot,
              **(parameters or {}), "cldr": f"babel {babel.__version__}"}
    return write({**tables, **live}, results_dir, parameters=params, seed=seed, inputs=inputs)


def findings(t: dict[str, pd.DataFrame], xrr: pd.DataFrame | None = None) -> list[str]:
    out = claims_block(t["stored_claims"], "Stored outputs", "stored")
    out += judge_note(t.get("stored_judge"))
    out += claims_block(t["live_claims"], "Live controlled run, CLiKA streams", "live")
    out += chance_note(t["live_summary"])
    out += claims_block(t["probe_claims"], "Live controlled run, held-out CLDR facts", "probe")
    probe_acc = t["probe_items"].groupby("system", sort=False).correct.mean()
    out.append("CLDR probe accuracy over all languages (4 options, chance 0.25): "
               + ", ".join(f"{s} {a:.2f}" for s, a in probe_acc.items()) + ".")
    if xrr is not None and not xrr.empty:
        x = xrr[xrr.metric == "xrr"]
        out.append("'Only shallowly' is about Conductivity, which no stored output measures; notebook 03 measured it "
                   "after fine-tuning (XRR: the published transfer ratio, 0 = chance, 1 = full): "
                   + ", ".join(f"{r.target_lang} {r.value:.2f} [{r.lo:.2f}, {r.hi:.2f}]" for r in x.itertuples()) + ".")
    else:
        out.append("'Only shallowly' is about Conductivity, which no stored output measures; its XRR is not in "
                   "notebook 03's results folder: run notebook 03 first (`./run_all.sh cpu --only 03`, or your profile).")
    return out


# ----------------------------------------------------------------------------------------------
# the papers' claims this notebook measures


_SOURCES = "stored_claims.csv, live_claims.csv, probe_claims.csv"
_METRIC = "Δ accuracy, RA, en-CO beyond chance (stored; live CLiKA streams and CLDR probe)"
#: CLiKA's claim 2, declared once: the stored comparisons, the live CLiKA streams and the CLDR probe build their
#: rows from these (``{measure}``: accuracy, RA, en-CO beyond chance).
CLAIMS = [
    PaperClaim(key="2a", paper="CLiKA", statement="Multilingual instruction tuning raises non-English {measure}",
               general="alignment", metric=_METRIC, expected="increase", source=_SOURCES, group="non_en",
               measures=CLAIM_METRICS, headline="Multilingual instruction tuning helps non-English PF and CT"),
    PaperClaim(key="2b", paper="CLiKA", statement="English-only instruction tuning raises non-English {measure}",
               general="alignment", metric=_METRIC, expected="increase", source=_SOURCES, group="non_en",
               measures=CLAIM_METRICS, headline="English-only instruction tuning helps non-English PF and CT"),
    PaperClaim(key="2c", paper="CLiKA", statement="Multilingual beats English-only instruction tuning (of the same "
               "base) on non-English {measure}", general="alignment", metric=_METRIC, expected="increase",
               source=_SOURCES, group="non_en", measures=CLAIM_METRICS,
               headline="Multilingual beats English-only instruction tuning"),
]
CLAIM_TABLES = ("stored_claims", "live_claims", "probe_claims")


def claim_rows(results_dir) -> list[dict]:
    """One row per row of the claims tables (stored outputs and the live runs), as computed in :func:`run`."""
    return claims_table_rows(results_dir, Config.NOTEBOOK, CLAIM_TABLES, CLAIMS)


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 05's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "05_instruction_tuning"

    profile: str
    data_dir: str
    items_csv: str
    conductivity_dir: str
    model: str
    label: str
    it_langs: list
    train_facts: int
    heldout_fraction: float
    probe_items: int
    train_config: dict
    eval_limit: int
    eval_tasks: list
    eval_langs: list
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
    """Notebook 05: stored comparisons + the live controlled experiment; writes :data:`INSTRUCTION_FILES`."""
    c = config
    return execute(c.model, settings.clika_dir(c.data_dir), c.path("results_dir"),
                   c.path("models_dir"), c.path("live_dir"),
                   items_csv=c.path("items_csv") if c.items_csv else None, label=c.label,
                   it_langs=c.it_langs, train_facts=c.train_facts, heldout_fraction=c.heldout_fraction,
                   probe_items=c.probe_items, train_config=c.train_config, eval_limit=c.eval_limit,
                   eval_tasks=c.eval_tasks or None, eval_langs=c.eval_langs or None, batch_size=c.batch_size,
                   n_boot=c.n_boot, seed=c.seed, num_processes=c.num_processes, parameters=c.record(),
                   progress=progress)
