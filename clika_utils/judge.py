"""Judging a generated answer against the gold option letter.

``official`` (the default, and the only judge behind every reported number unless a parameter
says otherwise): exactly the authors' ``res_statistic.py`` — the prediction is the first character
of ``res.strip()``; correct iff it equals the gold letter. An empty answer is wrong. Note the rule's
quirk, kept on purpose: "Answer: B" counts as "A" (its first character).

``lookalike`` (a named variant, never the default): the official rule on the first character after NFKC
normalisation (full-width ``Ａ`` -> ``A``) and the mapping of Cyrillic/Greek capitals that look like option letters
(``А В С Е`` / ``Α Β Ε``) to Latin — nothing else. It exists for one artefact of the stored outputs: some systems
answer Russian prompts with a Cyrillic "А." (BLOOM-7B1 on 139 of 200 X-Geo items), which the official rule scores
wrong whatever the model meant. Notebook 01 reports how many answers it reads differently and whether a verdict
depends on it.

``lenient`` (an option for analysis, never the default): NFKC-normalise (full-width ``Ａ`` -> ``A``),
map Cyrillic/Greek look-alike capitals (``А В С Е`` / ``Α Β Ε``) to Latin, skip leading
whitespace, quotes, brackets and markdown asterisks and an "Answer:"-style prefix in the CLiKA
languages, then take an option letter that stands alone (followed by ``.``, ``)``, ``:``, ``,``,
``、``, ``*``, whitespace-then-end, or the end of the text). ``"A tree..."`` is not read as ``A``.
It shows how much of a model's score is formatting; it is not the paper's protocol.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import ConfigError

JUDGES = ("official", "lookalike", "lenient")
CHECKED = "lookalike"   #: the variant notebooks 01, 04 and 05 check every stored verdict against

_HOMOGLYPHS = str.maketrans({
    "\u0410": "A", "\u0412": "B", "\u0421": "C", "\u0415": "E",   # Cyrillic А В С Е
    "\u0391": "A", "\u0392": "B", "\u0395": "E",                   # Greek Α Β Ε
})
_PREFIX = re.compile(
    r"^(?:answer|the answer is|réponse|antwort|risposta|odpowiedź|ответ|答案|答え|回答|解答|الإجابة|תשובה)"
    r"\s*(?:is)?\s*[:：]?\s*", re.IGNORECASE)
_LEAD = " \t\r\n\"'“”‘’«»*_`([（【「"
_LETTER = re.compile(r"^([A-E])(?=$|[.)）:：,，、．*]|\s*$)")


def official_prediction(res: str) -> str:
    """First character of ``res.strip()`` ("" for an empty answer)."""
    s = res.strip()
    return s[0] if s else ""


def lookalike_prediction(res: str) -> str:
    """The official prediction with look-alike letters read as the Latin letter they look like."""
    return unicodedata.normalize("NFKC", official_prediction(res)).translate(_HOMOGLYPHS)


def lenient_prediction(res: str) -> str:
    """The option letter the answer states under the lenient rules ("" if none)."""
    s = unicodedata.normalize("NFKC", res).translate(_HOMOGLYPHS).lstrip(_LEAD)
    s = _PREFIX.sub("", s).lstrip(_LEAD)
    m = _LETTER.match(s)
    return m.group(1) if m else ""


def predict(res: str, judge: str = "official") -> str:
    if judge == "official":
        return official_prediction(res)
    if judge == "lookalike":
        return lookalike_prediction(res)
    if judge == "lenient":
        return lenient_prediction(res)
    raise ConfigError(f"unknown judge {judge!r}; expected one of {JUDGES}")


def is_correct(res: str, label: str, judge: str = "official") -> bool:
    return predict(res, judge) == label
