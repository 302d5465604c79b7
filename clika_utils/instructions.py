"""Instruction data for cross-lingual (CoIT, x-LLaMA) and multilingual (MuIT, m-LLaMA) instruction tuning.

Three kinds of data, all in the Alpaca format (``instruction``, ``input``, ``output``; the prompt is
:func:`clika_utils.train.alpaca_prompt` with or without input, the loss covers the response only):

* **translation instructions** from aligned pairs (:mod:`clika_utils.translation` reads Tatoeba,
  Flores and plain ``train.{src,tgt}`` files): the instruction names both languages and is drawn from
  a pool of :data:`TRAIN_TEMPLATES` (32 paraphrases, cycled over the examples: example *i* gets
  template *i mod 32*); the source sentence is the input, the translation the output. Test prompts
  use the one fixed :data:`TEST_TEMPLATE`. Direction en→X by default, as in x-LLaMA.
* **task data**: user Alpaca JSON (a list, as ``alpaca_data.json``, or JSON Lines) in any language
  (:func:`read_alpaca`), or, offline, real question answering from the CLDR facts of
  :mod:`clika_utils.cldr` (:func:`cldr_task`, shared with notebook 05).
* **mixtures**: x-LLaMA for language X = English task data + X task data + en→X translation
  (:func:`xllama`); m-LLaMA = task data of every language + en→X translation for every X with
  per-language quotas (:func:`mllama`; the allocation notebook chooses the quotas).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .io import read_text_strict
from .formats import Example, alpaca_prompt

TRAIN_TEMPLATES: tuple[str, ...] = (
    "Translate the following sentences from {src} to {tgt}.",
    "Translate this text from {src} into {tgt}.",
    "Please translate the following {src} text into {tgt}.",
    "Render the following {src} sentence in {tgt}.",
    "What is the {tgt} translation of this {src} sentence?",
    "Convert the {src} text below into {tgt}.",
    "Give the {tgt} version of the following {src} text.",
    "Translate from {src} to {tgt}:",
    "Provide a {tgt} translation of the {src} input.",
    "Can you translate this {src} sentence into {tgt}?",
    "Write the following {src} sentence in {tgt}.",
    "Express this {src} text in {tgt}.",
    "How would you say this {src} sentence in {tgt}?",
    "Translate the {src} input into fluent {tgt}.",
    "The input is in {src}. Translate it into {tgt}.",
    "Produce a faithful {tgt} translation of the following {src} text.",
    "Rewrite the following {src} sentence in {tgt}, keeping its meaning.",
    "I need this {src} sentence translated into {tgt}.",
    "Turn the following {src} text into {tgt}.",
    "Translate the given {src} sentence to {tgt}.",
    "Translate the sentence below, which is written in {src}, into {tgt}.",
    "From {src} to {tgt}, please translate:",
    "Offer an accurate {tgt} rendering of this {src} text.",
    "Help me translate the following {src} into {tgt}.",
    "Translate into {tgt} the following text written in {src}.",
    "Give me the {tgt} for this {src} sentence.",
    "Carry the meaning of this {src} text over into {tgt}.",
    "Your task: translate the {src} input text into {tgt}.",
    "Make a {tgt} translation of the {src} sentence that follows.",
    "Translate the following passage from the {src} language into the {tgt} language.",
    "Change the language of this text from {src} to {tgt}.",
    "Here is a sentence in {src}. Write it in {tgt}.",
)
TEST_TEMPLATE = "Translate the following sentences from {src} to {tgt}."


def language_name(code: str) -> str:
    """English name of a language code (CLDR via babel); an unknown code is an error."""
    from babel import Locale
    names = Locale.parse("en").languages
    if not isinstance(code, str) or code not in names or len(code) not in (2, 3):
        raise ConfigError(f"unknown language code {code!r}; expected an ISO 639-1 code such as en, ar, zh")
    return names[code]


def check_template(template: str) -> str:
    """A translation template must name both languages (``{src}`` and ``{tgt}``) and nothing else."""
    import string
    fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    if sorted(fields) != ["src", "tgt"]:
        raise ConfigError(f"translation template must contain {{src}} and {{tgt}} exactly once each and no other "
                          f"placeholder; got {template!r}")
    return template


def translation(pairs: list[tuple[str, str]], src: str, tgt: str, *, templates=TRAIN_TEMPLATES,
                test: bool = False) -> list[dict]:
    """Alpaca records: instruction from the template pool (cycled), input the source, output the target.
    ``test=True`` uses :data:`TEST_TEMPLATE` for every record."""
    pool = [check_template(t) for t in ((TEST_TEMPLATE,) if test else templates)]
    if not pool:
        raise ConfigError("no translation templates")
    names = {"src": language_name(src), "tgt": language_name(tgt)}
    return [{"instruction": pool[i % len(pool)].format(**names), "input": s, "output": t, "lang": tgt,
             "kind": "translation"} for i, (s, t) in enumerate(pairs)]


def _json_list_items(path: Path, raw: str) -> list[tuple[int, object]]:
    """(line, value) of each element of a top-level JSON list, keeping line numbers for errors."""
    dec = json.JSONDecoder()
    pos = len(raw) - len(raw.lstrip())
    if not raw.startswith("[", pos):
        raise DataError(path, "expected a JSON list of Alpaca records", line=raw.count("\n", 0, pos) + 1)
    pos += 1
    out = []
    while True:
        while pos < len(raw) and raw[pos] in " \t\r\n,":
            pos += 1
        if pos < len(raw) and raw[pos] == "]":
            return out
        line = raw.count("\n", 0, pos) + 1
        try:
            value, pos = dec.raw_decode(raw, pos)
        except json.JSONDecodeError as e:
            raise DataError(path, f"corrupt JSON ({e.msg}) in the list of Alpaca records", line=line) from None
        out.append((line, value))


def read_alpaca(path, lang: str) -> list[dict]:
    """Alpaca task data (``instruction``, optional ``input``, ``output``) in language ``lang``: a JSON list
    (``alpaca_data.json``) or JSON Lines. Each bad record is an error with its line."""
    from .io import read_jsonl
    path = Path(path)
    language_name(lang)
    raw = read_text_strict(path)
    if raw.lstrip().startswith("["):
        items = _json_list_items(path, raw)
    else:
        items = [(row.pop("_line"), row) for row in read_jsonl(path)]
    out = []
    for line, rec in items:
        if not isinstance(rec, dict):
            raise DataError(path, f"expected an object with instruction/input/output, got {type(rec).__name__}",
                            line=line)
        fields = {k: rec.get(k, "" if k == "input" else None) for k in ("instruction", "input", "output")}
        bad = [k for k, v in fields.items() if not isinstance(v, str)]
        if bad or not fields["instruction"].strip() or not fields["output"].strip():
            raise DataError(path, f"expected non-empty string fields instruction and output (input optional); "
                                  f"bad: {bad or ['empty instruction/output']}", line=line)
        out.append({**fields, "lang": lang, "kind": "task"})
    if not out:
        raise DataError(path, "no Alpaca records")
    return out


def cldr_task(facts, lang: str) -> list[dict]:
    """Offline task data: CLDR fact questions in ``lang`` (the same generator as notebook 05)."""
    from . import cldr
    return [{"instruction": q, "input": "", "output": a, "lang": lang, "kind": "task"}
            for _, q, a in cldr.instructions(facts, [lang])]


def _take(records: list[dict], n: int | None, seed: int, what: str) -> list[dict]:
    if n is None:
        return list(records)
    if n > len(records):
        raise ConfigError(f"{what}: quota {n} exceeds the {len(records)} records available")
    keep = np.sort(np.random.default_rng(seed).permutation(len(records))[:n])
    return [records[i] for i in keep]


def xllama(en_task: list[dict], x_task: list[dict], translation_records: list[dict]) -> list[dict]:
    """x-LLaMA for one language X: English task data + X task data + en→X translation instructions."""
    if not en_task or not x_task or not translation_records:
        raise ConfigError("x-LLaMA needs English task data, target-language task data and translation data")
    return list(en_task) + list(x_task) + list(translation_records)


def mllama(task_by_lang: dict[str, list[dict]], translation_by_lang: dict[str, list[dict]],
           quotas: dict[str, int] | None = None, seed: int = 0) -> list[dict]:
    """m-LLaMA: task data of every language + en→X translation of every X, ``quotas[X]`` pairs each
    (default: all). A quota larger than the data is an error, never a silent cap."""
    if "en" not in task_by_lang:
        raise ConfigError("m-LLaMA needs English task data")
    quotas = quotas or {}
    unknown = sorted(set(quotas) - set(translation_by_lang))
    if unknown:
        raise ConfigError(f"quotas for language(s) {unknown} without translation data")
    out = [r for lang in sorted(task_by_lang) for r in task_by_lang[lang]]
    for lang in sorted(translation_by_lang):
        out += _take(translation_by_lang[lang], quotas.get(lang), seed, f"en→{lang} translation")
    return out


def examples(records: list[dict]) -> list[Example]:
    """Training examples (Alpaca prompt → output)."""
    return [Example(alpaca_prompt(r["instruction"], r.get("input", "")), r["output"]) for r in records]


def composition(records: list[dict], name: str) -> pd.DataFrame:
    """How many records of each (language, kind) a training set holds."""
    df = pd.DataFrame([{"lang": r["lang"], "kind": r["kind"]} for r in records])
    return df.groupby(["lang", "kind"]).size().rename("examples").reset_index().assign(set=name)
