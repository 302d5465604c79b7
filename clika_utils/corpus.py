"""Plain-text corpora for continued pretraining, token-budgeted streams, and held-out language-model loss.

Offline sources (the ``cpu`` profile; never CLiKA evaluation items):

* XQuAD contexts (``xquad/xquad.<lang>.json``, one document per paragraph) for en ar de ru zh;
* Tatoeba sentences (``tatoeba/tatoeba.<iso3>-eng.<iso3>``; English from the ``.eng`` side of the
  ``deu`` file) grouped into documents of ``group`` consecutive lines, for every CLiKA language.

The ``paper`` profile names user corpora instead: globs of UTF-8 text files, one document per
non-empty line (:func:`read_user_corpus`).

Every language's documents are split once, deterministically, into training and held-out documents
(:func:`split`: a document is held out iff the sha256 of its text, read as a number, falls in the
held-out fraction), so a training stream never contains the documents the loss is measured on.
"""

from __future__ import annotations

import glob
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .io import read_text_strict
from .langs import LANGS, check_langs
from .metrics import bootstrap_weights, percentile_ci
from .translation import tatoeba_files

XQUAD = ("en", "ar", "de", "ru", "zh")


@dataclass(frozen=True)
class Doc:
    lang: str
    source: str      # file (relative to the data home for offline sources) + "#paragraph" or ":lines"
    text: str


def xquad_contexts(root, lang: str) -> list[Doc]:
    path = Path(root) / "xquad" / f"xquad.{lang}.json"
    if not path.exists():
        raise DataError(path, f"XQuAD file for {lang!r} not found")
    try:
        data = json.loads(read_text_strict(path))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(path, f"expected SQuAD JSON with a 'data' list ({e})") from e
    docs, k = [], 0
    for article in data:
        for para in article.get("paragraphs", []):
            text = str(para.get("context", "")).strip()
            if text:
                docs.append(Doc(lang, f"xquad/{path.name}#{k}", text))
            k += 1
    return docs


def tatoeba_sentences(root, lang: str, group: int = 10) -> list[Doc]:
    path = tatoeba_files(root, "de")[0] if lang == "en" else tatoeba_files(root, lang)[1]
    name = path.name
    if not path.exists():
        raise DataError(path, f"Tatoeba file for {lang!r} not found")
    lines = read_text_strict(path).splitlines()
    docs = []
    for start in range(0, len(lines), group):
        chunk = [s.strip() for s in lines[start: start + group] if s.strip()]
        if chunk:
            sep = "" if lang in ("zh", "ja") else " "
            docs.append(Doc(lang, f"tatoeba/{name}:{start + 1}-{start + len(chunk)}", sep.join(chunk)))
    return docs


def offline_docs(root, lang: str, sources=("xquad", "tatoeba")) -> list[Doc]:
    """XQuAD contexts (where the language has them) then grouped Tatoeba sentences."""
    check_langs([lang])
    docs = []
    if "xquad" in sources and lang in XQUAD:
        docs += xquad_contexts(root, lang)
    if "tatoeba" in sources:
        docs += tatoeba_sentences(root, lang)
    return docs


def source_files(docs: list[Doc], root) -> list[Path]:
    """The files the documents came from (for provenance hashes)."""
    names = sorted({d.source.split("#")[0].rsplit(":", 1)[0] for d in docs})
    return [Path(n) if Path(n).is_absolute() else Path(root) / n for n in names]


def read_user_corpus(patterns, lang: str) -> list[Doc]:
    """Documents (one per non-empty line) from files matching ``patterns`` (globs); a pattern that
    matches no file is an error."""
    docs = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        files = sorted(glob.glob(str(pattern), recursive=True))
        if not files:
            raise ConfigError(f"corpus pattern {pattern!r} for {lang!r} matches no file")
        for f in files:
            for i, line in enumerate(read_text_strict(f).splitlines(), 1):
                if line.strip():
                    docs.append(Doc(lang, f"{Path(f).resolve()}:{i}", line.strip()))
    return docs


def split(docs: list[Doc], heldout_fraction: float) -> tuple[list[Doc], list[Doc]]:
    """(training, held-out): a document is held out iff sha256(text) / 2**256 < ``heldout_fraction``."""
    if not 0 <= heldout_fraction < 1:
        raise ConfigError("heldout_fraction must be in [0, 1)")
    train, held = [], []
    for d in docs:
        u = int(hashlib.sha256(d.text.encode("utf-8")).hexdigest(), 16) / 2 ** 256
        (held if u < heldout_fraction else train).append(d)
    return train, held


def token_budget_texts(tok, docs: list[Doc], budget: int, block: int, seed: int) -> list[str]:
    """Texts of about ``block`` tokens each, totalling ``budget`` tokens, from ``docs`` in a seeded
    order (documents are cut at token boundaries into blocks; the last block may be shorter).
    A budget larger than the documents' tokens is an error, not a silent repeat."""
    if budget <= 0 or block <= 0:
        raise ConfigError("token budget and block size must be positive")
    order = np.random.default_rng(seed).permutation(len(docs))
    texts, used = [], 0
    for i in order:
        ids = tok(docs[i].text, add_special_tokens=False).input_ids
        for s in range(0, len(ids), block):
            piece = ids[s: s + block][: budget - used]
            texts.append(tok.decode(piece))
            used += len(piece)
            if used >= budget:
                return texts
    lang = docs[0].lang if docs else "?"
    raise ConfigError(f"token budget {budget} is larger than the corpus ({used} tokens in {len(docs)} "
                      f"training documents of {lang!r}); lower the budget or add text")


def mixture(by_lang: dict[str, list[Doc]], shares: dict[str, float], tok, budget: int, block: int,
            seed: int) -> tuple[list[str], pd.DataFrame]:
    """A stream of ``budget`` tokens split across languages by ``shares`` (normalised; integer token
    quotas by largest remainder), each language's part from :func:`token_budget_texts`."""
    langs = [lang for lang in shares if shares[lang] > 0]
    if not langs:
        raise ConfigError("a mixture needs at least one language with a positive share")
    missing = [lang for lang in langs if lang not in by_lang]
    if missing:
        raise ConfigError(f"no corpus for language(s) {missing}")
    total = sum(shares[lang] for lang in langs)
    exact = {lang: budget * shares[lang] / total for lang in langs}
    quota = {lang: int(exact[lang]) for lang in langs}
    for lang in sorted(langs, key=lambda x: (-(exact[x] - quota[x]), x))[: budget - sum(quota.values())]:
        quota[lang] += 1
    texts, rows = [], []
    for k, lang in enumerate(langs):
        part = token_budget_texts(tok, by_lang[lang], quota[lang], block, seed + k) if quota[lang] else []
        texts += part
        rows.append({"lang": lang, "share": shares[lang] / total, "tokens": quota[lang], "blocks": len(part)})
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in order], pd.DataFrame(rows)


def doc_nll(lm, docs: list[Doc], max_tokens: int, batch_size: int = 4) -> pd.DataFrame:
    """Per document: summed next-token negative log-likelihood (nats) and token count, over its first
    ``max_tokens`` tokens (BOS prepended; the BOS itself is not scored). Every position's full-vocabulary
    distribution is needed here, so the head runs at every position — in chunks of one batch."""
    import torch
    import torch.nn.functional as F

    from .models import head_logits

    tok = lm.tokenizer
    rows = []
    encoded = [[tok.bos_token_id] * (tok.bos_token_id is not None) +
               tok(d.text, add_special_tokens=False).input_ids[:max_tokens] for d in docs]
    for start in range(0, len(docs), batch_size):
        batch = encoded[start: start + batch_size]
        L = max(len(b) for b in batch)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.tensor([b + [pad] * (L - len(b)) for b in batch], device=lm.device)
        mask = torch.tensor([[1] * len(b) + [0] * (L - len(b)) for b in batch], device=lm.device)
        with torch.inference_mode(), lm.autocast():
            hidden = lm.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            for j, b in enumerate(batch):
                logits = head_logits(lm.model, hidden[j, : len(b) - 1]).float()
                nll = F.cross_entropy(logits, ids[j, 1: len(b)], reduction="sum")
                if not torch.isfinite(nll):
                    raise ConfigError(f"non-finite loss on document {docs[start + j].source}")
                d = docs[start + j]
                rows.append({"lang": d.lang, "doc": d.source, "nll": float(nll), "tokens": len(b) - 1})
    return pd.DataFrame(rows, columns=["lang", "doc", "nll", "tokens"])


class NLLComparison:
    """Held-out NLL per token (token-weighted over documents) per system and language, and paired
    Δs for (system, reference) pairs: both resampled with the same document draws (seeded per
    language), so the CI is for the difference on the same documents.

    ``per_doc`` columns: system, lang, doc, nll, tokens (from :func:`doc_nll`)."""

    def __init__(self, per_doc: pd.DataFrame, pairs, n_boot: int, seed: int):
        self.values: dict[tuple, tuple[float, np.ndarray, int, int]] = {}
        docs = {}
        for (system, lang), part in per_doc.groupby(["system", "lang"], sort=False):
            part = part.sort_values("doc")
            if lang not in docs:
                docs[lang] = part.doc.to_numpy()
            elif not np.array_equal(docs[lang], part.doc.to_numpy()):
                raise DataError(None, f"{system} was scored on different {lang} documents than the other systems")
            w = bootstrap_weights(len(part), n_boot, seed, f"nll:{lang}")
            nll, tokens = part.nll.to_numpy(), part.tokens.to_numpy(dtype=float)
            self.values[(system, lang)] = (nll.sum() / tokens.sum(), (w @ nll) / (w @ tokens), len(part),
                                           int(tokens.sum()))
        self.pairs = [tuple(p[:2]) for p in pairs]
        missing = sorted({s for p in self.pairs for s in p} - {k[0] for k in self.values})
        if missing:
            raise ConfigError(f"no held-out losses for system(s) {missing}")

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per (system, lang) with its NLL/token and CI, and one per (pair, lang) with the Δ."""
        rows = []
        for (system, lang), (v, reps, n, tokens) in self.values.items():
            lo, hi = percentile_ci(reps, level)
            rows.append({"system": system, "reference": "", "lang": lang, "docs": n, "tokens": tokens,
                         "nll_per_token": v, "nll_lo": float(lo), "nll_hi": float(hi)})
        for system, ref in self.pairs:
            for lang in self._langs(system, ref):
                d, reps = self.delta(system, ref, lang)
                lo, hi = percentile_ci(reps, level)
                rows.append({"system": system, "reference": ref, "lang": lang, "docs": self.values[(system, lang)][2],
                             "tokens": self.values[(system, lang)][3], "delta": d, "delta_lo": float(lo),
                             "delta_hi": float(hi)})
        df = pd.DataFrame(rows)
        order = {lang: i for i, lang in enumerate(LANGS)}
        return (df.assign(_l=df.lang.map(order)).sort_values(["reference", "system", "_l"], kind="mergesort")
                .drop(columns="_l").reset_index(drop=True))

    def _langs(self, system, ref):
        return [lang for (s, lang) in self.values if s == system and (ref, lang) in self.values]

    def delta(self, system: str, ref: str, lang: str) -> tuple[float, np.ndarray]:
        (v, r, _, _), (rv, rr, _, _) = self.values[(system, lang)], self.values[(ref, lang)]
        return v - rv, r - rr

    def group(self, system: str, ref: str, langs, level: float = 0.95) -> dict:
        """Mean Δ over ``langs`` (equal weight per language): ``delta``, the
        :func:`~clika_utils.decide.summarize` of its bootstrap replicates, ``cells`` (languages) and ``n``
        (documents per language)."""
        from .decide import summarize
        langs = [lang for lang in self._langs(system, ref) if lang in set(langs)]
        if not langs:
            return {"delta": float("nan"), "summary": summarize([np.nan]), "cells": 0, "n": 0}
        ds = [self.delta(system, ref, lang) for lang in langs]
        return {"delta": float(np.mean([d for d, _ in ds])),
                "summary": summarize(np.mean([r for _, r in ds], axis=0), level), "cells": len(langs),
                "n": int(self.values[(system, langs[0])][2])}
