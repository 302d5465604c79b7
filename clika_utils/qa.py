"""Extractive QA (XQuAD, MLQA) for generative models: SQuAD-JSON reader, zero-shot prompts, greedy
generation, and the official MLQA answer scores.

Scores
------
``em`` and ``f1`` follow the official MLQA evaluation script (``mlqa_evaluation_v1.py``,
facebookresearch/MLQA) rule for rule, for its seven languages (en es hi vi de ar zh):

1. lower-case; 2. delete every character whose Unicode category starts with ``P`` and every ASCII
punctuation character; 3. remove articles per language — en ``a an the``; es ``un una unos unas el
la los las``; de ``ein eine einen einem eines einer der die das den dem des``; vi ``của là cái
chiếc những`` (as ``\\b...\\b`` regular expressions), hi and zh none, and for ar the script's
``re.sub('\\sال^|ال', ' ', text)``: its first branch can never match, so *every* occurrence of
``ال`` (not only the word-initial article) becomes a space — reproduced as the script has it;
4. tokenise: whitespace split, except zh: "mixed segmentation" (each CJK character U+4E00–U+9FA5 and
each punctuation character is a token, other runs are whitespace-split); 5. EM: normalised strings
equal; F1: bag-of-token overlap F1; both maximised over the gold answers. Corpus scores are means ×100.

Languages outside the script (XQuAD's el ro ru th tr, and ja) are an extension of ours, documented
here and in :data:`EXTENSION`: no article removal; whitespace tokens, except th and ja, segmented like
zh but over their own scripts (Thai U+0E00–U+0E7F; kana U+3040–U+30FF and CJK U+4E00–U+9FFF).
The script raises for unknown languages; so does :func:`normalize` for codes in neither table.

``xllm_match`` is x-LLM's own rule (NJUNLP/x-LLM ``eval/xquad.match.py`` over the records its
``data/xquad/xquad.py`` and ``inference.py`` write), exactly: 1 iff ``answers[0].strip().lower()`` is a
substring of the stripped, lower-cased generation — the *first* gold answer only, Python's
``str.lower`` (so ``İ`` becomes ``i̇``), no Unicode or punctuation normalisation, no article removal, no
token boundaries (``308`` matches ``El308``). x-LLM matches the whole generation, not its first line,
so :func:`answer` applies it to the whole generation. Whatever this project reports "as x-LLM does"
uses this rule.

``token_contains`` is this project's variant (documented as ours, not x-LLM's): 1 iff some gold answer,
normalised as for EM/F1, occurs in the normalised prediction as a token sequence (on token boundaries).

Prompts
-------
The papers give no per-language prompt strings for zero-shot QA, so :data:`QA_INSTRUCTIONS` are ours:
one instruction per language, written in that language ("answer with a short span copied from the
passage"), in the Alpaca template with the passage and question as input. The prediction is the
first non-empty line of the greedy generation.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .io import read_text_strict

MLQA_LANGS = ("en", "es", "hi", "vi", "de", "ar", "zh")
ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "ar": "\\sال^|ال",
}
#: Character classes segmented one character per token (the script's zh rule, and our extension).
SEGMENTED = {"zh": "\u4e00-\u9fa5", "th": "\u0e00-\u0e7f", "ja": "\u3040-\u30ff\u4e00-\u9fff"}
#: Languages scored by our documented extension of the script (no articles; see the module docstring).
EXTENSION = ("el", "ro", "ru", "th", "tr", "ja")

QA_INSTRUCTIONS = {
    "en": "Answer the question based on the passage. Reply with a short span copied from the passage.",
    "ar": "أجب عن السؤال بناءً على الفقرة. أجب بعبارة قصيرة منقولة من الفقرة.",
    "de": "Beantworte die Frage anhand des Textes. Antworte mit einer kurzen Passage, die aus dem Text kopiert ist.",
    "el": "Απάντησε στην ερώτηση με βάση το κείμενο. Απάντησε με ένα σύντομο απόσπασμα αντιγραμμένο από το κείμενο.",
    "es": "Responde a la pregunta según el texto. Responde con un fragmento breve copiado del texto.",
    "hi": "अनुच्छेद के आधार पर प्रश्न का उत्तर दें। अनुच्छेद से लिया गया एक छोटा अंश उत्तर के रूप में लिखें।",
    "ro": "Răspunde la întrebare pe baza textului. Răspunde cu un fragment scurt copiat din text.",
    "ru": "Ответь на вопрос по тексту. Ответь коротким фрагментом, скопированным из текста.",
    "th": "ตอบคำถามโดยอ้างอิงจากข้อความ ตอบด้วยข้อความสั้น ๆ ที่คัดลอกมาจากข้อความ",
    "tr": "Soruyu metne dayanarak yanıtla. Metinden kopyalanmış kısa bir ifadeyle yanıt ver.",
    "vi": "Trả lời câu hỏi dựa trên đoạn văn. Trả lời bằng một cụm từ ngắn được chép từ đoạn văn.",
    "zh": "根据文章回答问题。请用从文章中摘录的简短片段作答。",
    "ja": "文章に基づいて質問に答えてください。文章から抜き出した短い語句で答えてください。",
}
QUESTION_LABEL = {"en": "Question", "ar": "السؤال", "de": "Frage", "el": "Ερώτηση", "es": "Pregunta", "hi": "प्रश्न",
                  "ro": "Întrebare", "ru": "Вопрос", "th": "คำถาม", "tr": "Soru", "vi": "Câu hỏi", "zh": "问题",
                  "ja": "質問"}


# ----------------------------------------------------------------------------------------------
# answer normalisation and scores


@lru_cache(maxsize=1)
def _punct_table() -> dict[int, None]:
    """str.translate table deleting the script's PUNCT set (category P* plus ASCII punctuation)."""
    import string
    table = {cp: None for cp in range(sys.maxunicode) if unicodedata.category(chr(cp))[0] == "P"}
    table.update({ord(c): None for c in string.punctuation})
    return table


@lru_cache(maxsize=None)
def _segmenter(lang: str):
    # The script also splits off punctuation here, but punctuation is already deleted before this step.
    return re.compile(f"[{SEGMENTED[lang]}]|[^{SEGMENTED[lang]}]+")


def _tokens(text: str, lang: str) -> list[str]:
    """Whitespace tokens; in SEGMENTED languages each character of the class is a token of its own."""
    if lang not in SEGMENTED:
        return text.split()
    return [t for piece in _segmenter(lang).findall(text) for t in piece.split()]


def check_lang(lang: str) -> str:
    if lang not in MLQA_LANGS and lang not in EXTENSION:
        raise ConfigError(f"no QA answer normalisation for language {lang!r}; the MLQA script covers "
                          f"{list(MLQA_LANGS)} and this project's documented extension {list(EXTENSION)}")
    return lang


def normalize_tokens(text: str, lang: str) -> list[str]:
    """The normalised answer as tokens (see the module docstring for the rules)."""
    check_lang(lang)
    text = text.lower().translate(_punct_table())
    if lang in ARTICLES:
        text = re.sub(ARTICLES[lang], " ", text)
    return _tokens(text, lang)


def normalize(text: str, lang: str) -> str:
    """The script's ``normalize_answer``: tokens joined by single spaces."""
    return " ".join(normalize_tokens(text, lang))


def _f1(pred: list[str], gold: list[str]) -> float:
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    p, r = same / len(pred), same / len(gold)
    return 2 * p * r / (p + r)


def _contains(pred: list[str], gold: list[str]) -> bool:
    n = len(gold)
    return any(pred[i: i + n] == gold for i in range(len(pred) - n + 1))


def xllm_match(generation: str, golds) -> float:
    """x-LLM's match, exactly: ``answers[0].strip().lower() in generation.strip().lower()`` (see the
    module docstring). Only the first gold answer counts."""
    if not golds:
        raise ConfigError("a question needs at least one gold answer")
    return float(golds[0].strip().lower() in generation.strip().lower())


#: The per-question scores, in the order every table and the CLI print them.
SCORES = ("em", "f1", "xllm_match", "token_contains")


def answer_scores(prediction: str, golds: list[str], lang: str, generation: str | None = None) -> dict[str, float]:
    """EM, F1 (max over the gold answers, 0/1 and 0..1), x-LLM's match (on ``generation`` when given,
    as x-LLM matches the whole generation; else on ``prediction``) and this project's token-boundary
    containment for one question."""
    if not golds:
        raise ConfigError("a question needs at least one gold answer")
    pred = normalize_tokens(prediction, lang)
    gold_tokens = [normalize_tokens(g, lang) for g in golds]
    return {"em": float(max(pred == g for g in gold_tokens)),
            "f1": max(_f1(pred, g) for g in gold_tokens),
            "xllm_match": xllm_match(prediction if generation is None else generation, golds),
            "token_contains": float(max(_contains(pred, g) for g in gold_tokens))}


def corpus_scores(questions, predictions: dict[str, str], lang: str) -> dict[str, float]:
    """The script's ``evaluate``: means ×100 over every question; an unanswered question scores 0."""
    rows = [answer_scores(predictions[q.id], q.answers, lang) if q.id in predictions else
            dict.fromkeys(SCORES, 0.0) for q in questions]
    n = len(rows)
    if not n:
        raise ConfigError("no questions to score")
    return {k: 100.0 * sum(r[k] for r in rows) / n for k in SCORES}


# ----------------------------------------------------------------------------------------------
# SQuAD JSON


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    context: str
    question: str
    answers: tuple[str, ...]
    article: int


def _line_of(raw: str, needle: str) -> int | None:
    at = raw.find(needle)
    return raw.count("\n", 0, at) + 1 if at >= 0 else None


def read_squad(path, lang: str) -> list[Question]:
    """Questions of a SQuAD v1.1 JSON file (XQuAD ``xquad.<lang>.json``, MLQA ``test-context-<l>-question-<l>.json``).

    Every gold answer must occur in its context at its ``answer_start`` (when given); otherwise a
    :class:`DataError` names the file, the line of the question id and the offending answer."""
    check_lang(lang)
    path = Path(path)
    raw = read_text_strict(path)
    try:
        data = json.loads(raw)["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(path, f"expected SQuAD JSON with a 'data' list ({e})") from e
    out, seen = [], set()
    for a, article in enumerate(data):
        for para in article.get("paragraphs", []):
            context = para.get("context")
            if not isinstance(context, str) or not context.strip():
                raise DataError(path, f"article {a}: a paragraph without a context string")
            for qa in para.get("qas", []):
                qid = str(qa.get("id", ""))
                def where(qid=qid):     # the line of the question id, looked up only for an error message
                    return _line_of(raw, f'"{qid}"') if qid else None
                if not qid or qid in seen:
                    raise DataError(path, f"article {a}: question id {qid!r} missing or repeated", line=where())
                seen.add(qid)
                answers = qa.get("answers") or []
                if not answers or not isinstance(qa.get("question"), str):
                    raise DataError(path, f"question {qid}: expected a question string and at least one answer",
                                    line=where())
                for ans in answers:
                    text, start = ans.get("text"), ans.get("answer_start")
                    if not isinstance(text, str) or not text.strip():
                        raise DataError(path, f"question {qid}: empty answer text", line=where())
                    ok = context[start: start + len(text)] == text if isinstance(start, int) else text in context
                    if not ok:
                        raise DataError(path, f"question {qid}: answer {text!r} is not in the context at "
                                              f"answer_start {start}", line=where())
                out.append(Question(qid, lang, context, qa["question"], tuple(a_["text"] for a_ in answers), a))
    if not out:
        raise DataError(path, "no questions")
    return out


def xquad_path(root, lang: str) -> Path:
    return Path(root) / "xquad" / f"xquad.{lang}.json"


def mlqa_path(root, lang: str, split: str = "test") -> Path:
    """``<root>/mlqa/MLQA_V1/<split>/<split>-context-<l>-question-<l>.json`` (the official archive layout)."""
    return Path(root) / "mlqa" / "MLQA_V1" / split / f"{split}-context-{lang}-question-{lang}.json"


def sample(questions: list[Question], n: int, seed: int) -> list[Question]:
    """``n`` questions drawn without replacement (all when n <= 0 or n >= len), in file order. XQuAD
    is parallel: the same seed draws the same question ids in every language."""
    if n <= 0 or n >= len(questions):
        return list(questions)
    ids = sorted(q.id for q in questions)
    rng = np.random.default_rng(seed)
    keep = {ids[i] for i in rng.choice(len(ids), n, replace=False)}
    return [q for q in questions if q.id in keep]


# ----------------------------------------------------------------------------------------------
# generation


def prompt(q: Question) -> str:
    from .formats import alpaca_prompt
    if q.lang not in QA_INSTRUCTIONS:
        raise ConfigError(f"no QA prompt for language {q.lang!r}; known: {sorted(QA_INSTRUCTIONS)}")
    return alpaca_prompt(QA_INSTRUCTIONS[q.lang], f"{q.context}\n\n{QUESTION_LABEL[q.lang]}: {q.question}")


def first_line(text: str) -> str:
    """The prediction: the first non-empty line of a generation, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def answer(lm, questions: list[Question], system: str, *, max_new_tokens: int = 24,
           batch_size: int = 8, adapters: list[str] | None = None) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Greedy zero-shot answers and their scores: one row per question. With ``adapters`` (a model from
    :func:`clika_utils.train.load_adapters`; "__base__" for none) every adapter answers every question in
    mixed batches and the result is {adapter: table}."""
    from .evaluate import Engine
    engine = Engine(lm, batch_size=batch_size)
    order = sorted(range(len(questions)), key=lambda i: -len(questions[i].context))   # similar lengths per batch
    prompts = [prompt(questions[i]) for i in order]
    if adapters is None:
        gens = {system: engine.generate(prompts, max_new_tokens)}
    else:      # question-major: rows of one batch have similar lengths whichever adapter they use
        flat = engine.generate([p for p in prompts for _ in adapters], max_new_tokens,
                               adapter_names=[a for _ in prompts for a in adapters])
        gens = {a: flat[k::len(adapters)] for k, a in enumerate(adapters)}
    out = {}
    for name, gen in gens.items():
        by_index = dict(zip(order, gen))
        rows = []
        for i, q in enumerate(questions):
            pred = first_line(by_index[i])
            rows.append({"system": name, "task": "qa", "lang": q.lang, "item_id": q.id, "prediction": pred,
                         **answer_scores(pred, list(q.answers), q.lang, generation=by_index[i])})
        out[name] = pd.DataFrame(rows)
    return out if adapters is not None else out[system]
