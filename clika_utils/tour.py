"""Small views for notebook 00 (the teaching tour): the same item in several languages, one
fictional fact of the conductivity data, and one x-LLaMA training mixture. Everything measured in
the tour is computed by the modules the full notebooks use (performance, live); this module only
picks and lays out real examples."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import conductivity, data, instructions, translation
from .train import alpaca_prompt

QUESTION_RE = re.compile(r"Question:(?!2\+3=\?)(.*?)\nAnswer:$", re.S)


def same_item(root, task: str, langs, index: int = 0) -> pd.DataFrame:
    """Item ``index`` of a CLiKA stream as asked in each language (question with options, gold letter)."""
    rows = []
    for lang in langs:
        item = data.load_model_inputs(root, task, lang)[index]
        m = QUESTION_RE.search(item["input"])
        rows.append({"lang": lang, "question": (m.group(1) if m else item["input"]).strip(), "gold": item["label"]})
    return pd.DataFrame(rows)


def table(summary: pd.DataFrame, systems, langs) -> pd.DataFrame:
    """Accuracy, RA and en-CO per system and language (mean over the streams scored)."""
    s = summary[summary.system.isin(systems) & summary.lang.isin(langs)]
    return s.groupby(["system", "lang"])[["accuracy", "ra", "en_co"]].mean().round(3).unstack("lang")


def fictional_fact(root, lang: str) -> pd.DataFrame:
    """One fictional place of the conductivity data: a training example in English and in ``lang``, and
    the test question in both languages."""
    fic = conductivity.load_train(root, lang)
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
    from . import cldr
    pairs, _ = translation.read_tatoeba(data_home, lang)
    pick = np.random.default_rng(seed).choice(len(pairs), n, replace=False)
    records = instructions.translation([pairs[i] for i in pick], "en", lang)
    records += instructions.cldr_task(cldr.facts()[:n], lang)
    return [alpaca_prompt(r["instruction"], r.get("input", "")) + " " + r["output"] for r in records]
