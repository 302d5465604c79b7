"""Real, offline, multilingual factual QA from the Unicode CLDR data that ships with ``babel``.

Facts about countries (ISO 3166 territories), each with its answer localised by CLDR into every
CLiKA language:

* ``currency``  – the country's current legal tender (``territory_currencies``: tender, no end date);
  the answer is the currency's localised name (``Locale(l).currencies``).
* ``language``  – the official language (status ``official``) spoken by the largest population share
  (``territory_languages``); answer ``Locale(l).languages``.
* ``continent`` – from the country's first IANA time zone (``territory_zones``: ``Europe/…``,
  ``Asia/…``, ``Africa/…``, ``America/…``, ``Australia/…``/``Pacific/…``), mapped to the UN M49
  region (150 Europe, 142 Asia, 002 Africa, 019 Americas, 009 Oceania), named by
  ``Locale(l).territories``. Countries whose first zone is elsewhere (``Atlantic/``, ``Indian/``…)
  get no continent fact.

Questions use one hand-written template per (fact, language) (:data:`TEMPLATES`), written once and
reviewed for grammar: names are placed where no case inflection is needed (Polish/Russian/French
use "the country: X" constructions). Items are aligned across languages (same country, fact and
options), so en-CO applies. Used by notebook 05 (instruction data) and shared with the x-LLaMA
builders.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ConfigError
from .langs import LANGS, check_langs

FACTS = ("currency", "language", "continent")

TEMPLATES: dict[str, dict[str, str]] = {
    "currency": {
        "en": "What is the currency of {country}?",
        "ar": "ما هي عملة {country}؟",
        "de": "Welche Währung hat das Land {country}?",
        "fr": "Quelle est la monnaie du pays suivant : {country} ?",
        "he": "מהו המטבע של {country}?",
        "it": "Qual è la valuta del paese {country}?",
        "ja": "{country}の通貨は何ですか？",
        "pl": "Jaka waluta obowiązuje w kraju: {country}?",
        "ru": "Какая валюта используется в стране «{country}»?",
        "zh": "{country}使用什么货币？",
    },
    "language": {
        "en": "What is the main official language of {country}?",
        "ar": "ما هي اللغة الرسمية الرئيسية في {country}؟",
        "de": "Was ist die wichtigste Amtssprache des Landes {country}?",
        "fr": "Quelle est la principale langue officielle du pays suivant : {country} ?",
        "he": "מהי השפה הרשמית העיקרית של {country}?",
        "it": "Qual è la principale lingua ufficiale del paese {country}?",
        "ja": "{country}の主な公用語は何ですか？",
        "pl": "Jaki jest główny język urzędowy w kraju: {country}?",
        "ru": "Какой основной официальный язык в стране «{country}»?",
        "zh": "{country}的主要官方语言是什么？",
    },
    "continent": {
        "en": "On which continent is {country}?",
        "ar": "في أي قارة تقع {country}؟",
        "de": "Auf welchem Kontinent liegt das Land {country}?",
        "fr": "Sur quel continent se trouve le pays suivant : {country} ?",
        "he": "באיזו יבשת נמצאת {country}?",
        "it": "In quale continente si trova il paese {country}?",
        "ja": "{country}はどの大陸にありますか？",
        "pl": "Na jakim kontynencie leży kraj: {country}?",
        "ru": "На каком континенте находится страна «{country}»?",
        "zh": "{country}位于哪个大洲？",
    },
}

ZONE_REGION = {"Europe": "150", "Asia": "142", "Africa": "002", "America": "019", "Australia": "009",
               "Pacific": "009"}


@dataclass(frozen=True)
class Fact:
    country: str   # ISO 3166-1 alpha-2
    fact: str      # one of FACTS
    value: str     # code of the answer: ISO 4217 currency, language code, or M49 region


def check_templates(templates: dict[str, dict[str, str]] = TEMPLATES) -> None:
    """Every fact has a template for every language, each with exactly one ``{country}`` placeholder."""
    for fact in FACTS:
        for lang in LANGS:
            t = templates.get(fact, {}).get(lang)
            if t is None:
                raise ConfigError(f"no {fact!r} question template for {lang!r}")
            if t.count("{country}") != 1:
                raise ConfigError(f"{fact!r} template for {lang!r} must contain '{{country}}' once: {t!r}")


def facts() -> list[Fact]:
    """Every fact CLDR gives for countries named in all CLiKA languages, sorted by (country, fact)."""
    from babel import Locale
    from babel.core import get_global

    locales = {lang: Locale.parse(lang) for lang in LANGS}
    currencies, languages, zones = (get_global(k) for k in ("territory_currencies", "territory_languages",
                                                              "territory_zones"))
    out = []
    for code in sorted(locales["en"].territories):
        if not (len(code) == 2 and code.isalpha() and code.isupper()):
            continue                                  # regions (3 digits) and aliases
        if not all(code in locales[lang].territories for lang in LANGS):
            continue
        current = [c for c, _start, end, tender in currencies.get(code, ()) if end is None and tender]
        if len(current) == 1 and all(current[0] in locales[lang].currencies for lang in LANGS):
            out.append(Fact(code, "currency", current[0]))
        official = sorted(((v.get("population_percent") or 0, k) for k, v in languages.get(code, {}).items()
                           if v.get("official_status") == "official"), reverse=True)
        if official and all(official[0][1] in locales[lang].languages for lang in LANGS):
            out.append(Fact(code, "language", official[0][1]))
        zone = (zones.get(code) or [""])[0].split("/")[0]
        if zone in ZONE_REGION:
            out.append(Fact(code, "continent", ZONE_REGION[zone]))
    return out


def localise(fact: Fact, lang: str) -> tuple[str, str]:
    """(question, answer) in ``lang``."""
    from babel import Locale
    loc = Locale.parse(lang)
    country = loc.territories[fact.country]
    table = {"currency": loc.currencies, "language": loc.languages, "continent": loc.territories}[fact.fact]
    return TEMPLATES[fact.fact][lang].format(country=country), table[fact.value]


def split(all_facts: list[Fact], heldout_fraction: float) -> tuple[list[Fact], list[Fact]]:
    """(training, held-out) by country: a country is held out iff sha256(code)/2**256 < fraction, so
    no held-out country is ever seen in training, in any language or fact."""
    if not 0 < heldout_fraction < 1:
        raise ConfigError("heldout_fraction must be in (0, 1)")

    def held(code):
        return int(hashlib.sha256(code.encode()).hexdigest(), 16) / 2 ** 256 < heldout_fraction
    return [f for f in all_facts if not held(f.country)], [f for f in all_facts if held(f.country)]


def qa_table(selected: list[Fact], langs, n_options: int = 4, seed: int = 0,
             pool: list[Fact] | None = None) -> pd.DataFrame:
    """Multiple-choice items: one row per (item, language) with the question, the options (gold first
    in ``options``, shown in a seeded order) and the index of the gold option. Distractors are other
    answers of the same fact type drawn from ``pool`` (default: every CLDR fact), identical across
    languages, so items align."""
    langs = check_langs(langs)
    pool = pool if pool is not None else facts()
    by_fact = {f: sorted({x.value for x in pool if x.fact == f}) for f in FACTS}
    rng = np.random.default_rng(seed)
    rows = []
    for k, fact in enumerate(selected):
        others = [v for v in by_fact[fact.fact] if v != fact.value]
        if len(others) < n_options - 1:
            raise ConfigError(f"not enough distinct {fact.fact} answers for {n_options} options")
        values = [fact.value] + list(rng.choice(others, n_options - 1, replace=False))
        order = rng.permutation(n_options)
        for lang in langs:
            question, _ = localise(fact, lang)
            names = [localise(Fact(fact.country, fact.fact, v), lang)[1] for v in values]
            if len(set(names)) < n_options:
                raise ConfigError(f"{fact}: options are not distinct in {lang!r}: {names}")
            rows.append({"item_id": k, "country": fact.country, "fact": fact.fact, "lang": lang,
                         "question": question, "options": [names[i] for i in order],
                         "gold": int(np.where(order == 0)[0][0])})
    return pd.DataFrame(rows)


def instructions(selected: list[Fact], langs) -> list[tuple[str, str, str]]:
    """(lang, instruction, answer) for every fact in every language of ``langs``."""
    langs = check_langs(langs)
    return [(lang, *localise(f, lang)) for f in selected for lang in langs]
