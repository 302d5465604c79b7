"""Notebook 00, the teaching tour: small views (the same item in several languages, one fictional fact
of the conductivity data, one x-LLaMA training mixture) and :func:`run`, which measures with the
library code notebooks 01 and 02 use (:func:`clika_utils.scoring.score_tree`,
:func:`clika_utils.placement.evaluate_and_place`) on one stream."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import data, fictional, instructions, settings, translation
from ..config import ExperimentConfig
from ..formats import alpaca_prompt
from ..placement import evaluate_and_place
from ..scoring import score_tree, write_scores

QUESTION_RE = re.compile(r"Question:(?!2\+3=\?)(.*?)\nAnswer:$", re.S)


def same_item(root, task: str, langs, index: int = 0) -> pd.DataFrame:
    """Item ``index`` of a CLiKA stream as asked in each language: the question, its options on one line
    (``A. … · B. …``), the gold letter."""
    rows = []
    for lang in langs:
        item = data.load_model_inputs(root, task, lang)[index]
        m = QUESTION_RE.search(item["input"])
        question, *options = (m.group(1) if m else item["input"]).strip().splitlines()
        rows.append({"lang": lang, "question": question.strip(), "options": " · ".join(o.strip() for o in options),
                     "gold": item["label"]})
    return pd.DataFrame(rows)


def by_hand_vs_library(mine: pd.DataFrame, summary: pd.DataFrame, system: str, task: str) -> pd.DataFrame:
    """The tour's hand-computed accuracy / RA / en-CO (metrics × languages) beside what ``clika score`` wrote
    for the same system and stream, with the largest absolute difference per metric."""
    lib = summary[(summary.system == system) & (summary.task == task)].set_index("lang")
    theirs = lib[["accuracy", "ra", "en_co"]].T.rename(index={"ra": "RA", "en_co": "en-CO"})[mine.columns]
    return pd.concat({"by hand": mine, "clika score": theirs}, axis=1).assign(
        max_abs_difference=(mine - theirs).abs().max(axis=1))


def takeaways(table: pd.DataFrame, source: str) -> str:
    """What to remember, from this project's claims table (not the papers' abstracts): each headline claim's
    verdict here, and every row measured against the paper's direction."""
    from ..claims import headline_sentence, headlines
    h = headlines(table)
    if table.empty or (table.verdict == "not run").all():
        return "No results yet: run `./run_all.sh` (or notebooks 01–09), then this cell again."
    lines = [f"*From {source}; every number: the report's claims table.*", ""]
    for r in h.itertuples():
        lines.append(f"* {headline_sentence(r)} here — rows: stored {r.stored}; live {r.live}.")
    against = table[table.verdict == "contradicted"]
    if len(against):
        lines += ["", f"**Where this reproduction measured the opposite of the paper** ({len(against)} rows):", ""]
        lines += [f"* {r.claim} ({r.source}): {r.measured}, effect CI {r.ci}." for r in against.itertuples()]
    return "\n".join(lines)


def table(summary: pd.DataFrame, systems, langs) -> pd.DataFrame:
    """Accuracy, RA and en-CO per system and language (mean over the streams scored)."""
    s = summary[summary.system.isin(systems) & summary.lang.isin(langs)]
    return s.groupby(["system", "lang"])[["accuracy", "ra", "en_co"]].mean().round(3).unstack("lang")


def fictional_fact(root, lang: str) -> pd.DataFrame:
    """One fictional place of the conductivity data: a training example in English and in ``lang``, and
    the test question in both languages."""
    fic = fictional.load_train(root, lang)
    place = next(p for p in fic.places if p.type == 1)
    rows = [r for r in fic.train_rows if r["key"] == place.names["en"]]
    out = []
    for kind in ("en_qa", "target_qa"):
        r = next((r for r in rows if r["kind"] == kind), None)
        if r is not None:
            out.append({"what": f"training ({kind})", "text": (r["input"] or r["prompt"]).strip(), "answer": r["answer"]})
    for asked in ("en", lang):
        out.append({"what": f"test question ({asked})", "text": place.prompts[asked], "answer": place.continents[asked]})
    return pd.DataFrame(out)


def coit_examples(data_home, lang: str, n: int = 1, seed: int = 0) -> list[str]:
    """x-LLaMA's two kinds of training example for ``lang``: an en→X translation instruction (Tatoeba)
    and a task instruction in X (CLDR fact QA), each rendered as the model sees it."""
    from .. import cldr
    pairs, _ = translation.read_tatoeba(data_home, lang)
    pick = np.random.default_rng(seed).choice(len(pairs), n, replace=False)
    records = instructions.translation([pairs[i] for i in pick], "en", lang)
    records += instructions.cldr_task(cldr.facts()[:n], lang)
    return [alpaca_prompt(r["instruction"], r.get("input", "")) + " " + r["output"] for r in records]


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 00's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "00_tour"

    profile: str
    data_dir: str
    data_home: str
    task: str
    langs: list
    stored_systems: list
    model: str
    live_items: int
    cd_lang: str
    xllama_lang: str
    n_boot: int
    seed: int
    live_dir: str
    results_dir: str


def score_stored(config: Config) -> dict[str, Path]:
    """The stored systems on the tour's stream (``<results_dir>/stored``): the scoring of notebook 01."""
    c = config
    result = score_tree(settings.clika_dir(c.data_dir), systems=c.stored_systems, tasks=[c.task], n_boot=c.n_boot,
                        seed=c.seed)
    return write_scores(result, c.path("results_dir") / "stored", parameters=c.record(), seed=c.seed)


def evaluate_live(config: Config, *, progress: bool = False) -> dict[str, Path]:
    """The live model by the letter method on the first ``live_items`` items, placed among the stored
    systems (``<results_dir>/live``): notebook 02's placement on one stream."""
    c = config
    return evaluate_and_place(c.model, settings.clika_dir(c.data_dir), c.path("live_dir"),
                              c.path("results_dir") / "live", label=c.model, limits={"letter": c.live_items},
                              tasks=[c.task], langs=c.langs, n_boot=c.n_boot, seed=c.seed, parameters=c.record(),
                              progress=progress)


def run(config: Config, *, progress: bool = False) -> dict[str, Path]:
    """Both measurements of the tour (the notebook runs them one section at a time)."""
    return {**{f"stored/{k}": v for k, v in score_stored(config).items()},
            **{f"live/{k}": v for k, v in evaluate_live(config, progress=progress).items()}}
