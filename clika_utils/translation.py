"""Parallel corpora and translation scores.

Readers (every one returns aligned ``(source, target)`` string pairs and the count of dropped pairs):

* :func:`read_parallel` – two plain aligned text files, one segment per line (News Commentary style
  ``train.<src>`` / ``train.<tgt>``); unequal line counts are an error naming both files and the
  first line without a partner; pairs with an empty or whitespace-only side are dropped and counted.
* :func:`read_tatoeba` – LASER Tatoeba test pairs ``tatoeba/tatoeba.<iso3>-eng.{<iso3>,eng}``.
* :func:`read_flores` – Flores-101 (``<split>/<code>.<split>``, e.g. ``zho_simpl``) or Flores-200
  (``<split>/<code>_<Script>.<split>``, e.g. ``zho_Hans``) under ``flores101_dataset/`` or
  ``flores200_dataset/``.

Scores (:func:`score`, sacrebleu 2.x):

* ``bleu`` – BLEU with the target's tokenizer: ``zh`` for Chinese, ``ja-mecab`` for Japanese when
  ``mecab-python3`` and ``ipadic`` are installed (else ``char``, recorded in the signature and the
  ``note``), ``13a`` otherwise; an explicitly requested tokenizer that is unknown or not installed is
  an error.
* ``chrf++`` – chrF with word bigrams (``CHRF(word_order=2)``).
* ``spbleu`` – BLEU on the Flores-101 SentencePiece tokenisation (``tokenize="flores101"``).
  sacrebleu downloads that model on first use; offline, when ``$SACREBLEU/models/`` lacks it, the
  score is NaN with the reason in ``note`` (``spbleu="require"`` makes that an error instead).
* ``comet`` – only when a COMET checkpoint path is given and ``unbabel-comet`` is installed.

Each row carries sacrebleu's signature string, so a number can always be traced to its settings.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .io import read_text_strict

#: ISO 639-1 -> ISO 639-3 as the LASER Tatoeba files name them.
TATOEBA = {"ar": "ara", "de": "deu", "el": "ell", "es": "spa", "fr": "fra", "he": "heb", "hi": "hin", "it": "ita",
           "ja": "jpn", "pl": "pol", "ro": "ron", "ru": "rus", "th": "tha", "tr": "tur", "vi": "vie", "zh": "cmn"}
#: ISO 639-1 -> (Flores-101 code, Flores-200 code).
FLORES = {"en": ("eng", "eng_Latn"), "ar": ("ara", "arb_Arab"), "de": ("deu", "deu_Latn"), "el": ("ell", "ell_Grek"),
          "es": ("spa", "spa_Latn"), "fr": ("fra", "fra_Latn"), "he": ("heb", "heb_Hebr"), "hi": ("hin", "hin_Deva"),
          "it": ("ita", "ita_Latn"), "ja": ("jpn", "jpn_Jpan"), "pl": ("pol", "pol_Latn"), "ro": ("ron", "ron_Latn"),
          "ru": ("rus", "rus_Cyrl"), "th": ("tha", "tha_Thai"), "tr": ("tur", "tur_Latn"), "vi": ("vie", "vie_Latn"),
          "zh": ("zho_simpl", "zho_Hans")}
METRICS = ("bleu", "chrf++", "spbleu")


def _lines(path: Path) -> list[str]:
    if not path.exists():
        raise DataError(path, "parallel file not found")
    text = read_text_strict(path)
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def read_parallel(src_path, tgt_path) -> tuple[list[tuple[str, str]], int]:
    """Aligned pairs from two plain-text files (line i of one translates line i of the other)."""
    src_path, tgt_path = Path(src_path), Path(tgt_path)
    src, tgt = _lines(src_path), _lines(tgt_path)
    if len(src) != len(tgt):
        short, long_ = (src_path, tgt_path) if len(src) < len(tgt) else (tgt_path, src_path)
        raise DataError(long_, f"{len(src)} source lines ({src_path.name}) but {len(tgt)} target lines "
                               f"({tgt_path.name}): the files must be aligned line by line; {short.name} ends "
                               f"before this line", line=min(len(src), len(tgt)) + 1)
    pairs = [(s.strip(), t.strip()) for s, t in zip(src, tgt)]
    kept = [(s, t) for s, t in pairs if s and t]
    return kept, len(pairs) - len(kept)


def read_hypotheses(hyp_path, ref_path, *, drop_empty: bool = False) -> tuple[list[str], list[str], int]:
    """Hypotheses and references to score, aligned line by line, as the sacrebleu command line reads
    them: every line kept (trailing white space removed, as the CLI does), an **empty hypothesis included** (an empty output is a wrong
    translation; dropping it would raise the score). An empty reference line is an error naming file
    and line (nothing can be scored against it); unequal line counts are an error. ``drop_empty``
    drops the pairs with an empty (or whitespace-only) hypothesis instead and returns how many."""
    hyp_path, ref_path = Path(hyp_path), Path(ref_path)
    hyp, ref = ([line.rstrip() for line in _lines(p)] for p in (hyp_path, ref_path))   # as the CLI reads lines
    if len(hyp) != len(ref):
        raise DataError(hyp_path if len(hyp) > len(ref) else ref_path,
                        f"{len(hyp)} hypothesis lines ({hyp_path.name}) but {len(ref)} reference lines "
                        f"({ref_path.name}): the files must be aligned line by line", line=min(len(hyp), len(ref)) + 1)
    for i, r in enumerate(ref, 1):
        if not r.strip():
            raise DataError(ref_path, "empty reference line: every hypothesis needs a reference to be scored "
                                      "against (remove the pair from both files, or fix the reference)", line=i)
    if not drop_empty:
        return hyp, ref, 0
    kept = [(h, r) for h, r in zip(hyp, ref) if h.strip()]
    return [h for h, _ in kept], [r for _, r in kept], len(hyp) - len(kept)


def tatoeba_files(root, lang: str) -> tuple[Path, Path]:
    """(English side, ``lang`` side) of the LASER Tatoeba pair files ``tatoeba/tatoeba.<iso3>-eng.{eng,<iso3>}``."""
    if lang not in TATOEBA:
        raise ConfigError(f"no Tatoeba file known for language {lang!r}; known: {sorted(TATOEBA)}")
    code = TATOEBA[lang]
    base = Path(root) / "tatoeba" / f"tatoeba.{code}-eng"
    return Path(f"{base}.eng"), Path(f"{base}.{code}")


def read_tatoeba(root, lang: str, src: str = "en") -> tuple[list[tuple[str, str]], int]:
    """LASER Tatoeba pairs between English and ``lang`` (direction ``src`` -> the other)."""
    eng, other = tatoeba_files(root, lang)
    if src == "en":
        return read_parallel(eng, other)
    if src == lang:
        return read_parallel(other, eng)
    raise ConfigError(f"Tatoeba pairs are English <-> {lang}; got source {src!r}")


def read_flores(root, src: str, tgt: str, split: str = "devtest") -> tuple[list[tuple[str, str]], int]:
    """Flores-101 or Flores-200 pairs (whichever is under ``root``: ``flores101_dataset/`` or ``flores200_dataset/``)."""
    for lang in (src, tgt):
        if lang not in FLORES:
            raise ConfigError(f"no Flores code known for language {lang!r}; known: {sorted(FLORES)}")
    root = Path(root)
    for k, folder in ((0, "flores101_dataset"), (1, "flores200_dataset")):
        base = root / folder / split
        s, t = base / f"{FLORES[src][k]}.{split}", base / f"{FLORES[tgt][k]}.{split}"
        if s.exists() and t.exists():
            return read_parallel(s, t)
    raise DataError(root, f"no Flores {src}-{tgt} {split} files under flores101_dataset/{split}/ or "
                          f"flores200_dataset/{split}/ (fetch them from the Flores repositories)")


# ----------------------------------------------------------------------------------------------
# scores


def _mecab_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("MeCab", "ipadic"))


def bleu_tokenizer(tgt: str, requested: str | None = None) -> tuple[str, str]:
    """(tokenizer, note) for BLEU on target language ``tgt``."""
    from sacrebleu.metrics.bleu import _TOKENIZERS
    if requested:
        if requested not in _TOKENIZERS:
            raise ConfigError(f"unknown sacrebleu tokenizer {requested!r}; known: {sorted(_TOKENIZERS)}")
        if requested.endswith("mecab") and not _mecab_available():
            raise ConfigError(f"sacrebleu tokenizer {requested!r} needs mecab: pip install 'sacrebleu[ja]'")
        if requested in ("flores101", "flores200", "spm") and not spm_model_path(requested).exists():
            raise ConfigError(f"sacrebleu tokenizer {requested!r} needs its SentencePiece model at "
                              f"{spm_model_path(requested)} (sacrebleu downloads it when online)")
        return requested, ""
    if tgt == "zh":
        return "zh", ""
    if tgt == "ja":
        if _mecab_available():
            return "ja-mecab", ""
        return "char", "ja-mecab unavailable (pip install 'sacrebleu[ja]'): BLEU on characters"
    return "13a", ""


def spm_model_path(key: str = "flores101") -> Path:
    from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS
    from sacrebleu.utils import SACREBLEU_DIR
    return Path(SACREBLEU_DIR) / "models" / os.path.basename(SPM_MODELS[key]["url"])


def score(hypotheses: list[str], references: list[str], tgt: str, *, metrics=METRICS, tokenizer: str | None = None,
          spbleu: str = "auto", comet_model: str | None = None, sources: list[str] | None = None) -> pd.DataFrame:
    """Corpus scores of ``hypotheses`` against one reference each: one row per metric with
    ``score``, ``signature`` and ``note``."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ConfigError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ConfigError("no segments to score")
    unknown = sorted(set(metrics) - set(METRICS) - {"comet"})
    if unknown:
        raise ConfigError(f"unknown translation metric(s) {unknown}; known: {list(METRICS) + ['comet']}")
    if spbleu not in ("auto", "require", "off"):
        raise ConfigError(f"spbleu must be auto, require or off; got {spbleu!r}")
    rows = []
    refs = [list(references)]
    for metric in metrics:
        note = ""
        if metric == "bleu":
            tok, note = bleu_tokenizer(tgt, tokenizer)
            m = BLEU(tokenize=tok)
            value, sig = m.corpus_score(hypotheses, refs).score, str(m.get_signature())
        elif metric == "chrf++":
            m = CHRF(word_order=2)
            value, sig = m.corpus_score(hypotheses, refs).score, str(m.get_signature())
        elif metric == "spbleu":
            if spbleu == "off":
                continue
            if spbleu == "auto" and not spm_model_path().exists():
                value, sig = math.nan, ""
                where = str(spm_model_path()).replace(str(Path.home()), "~", 1)     # no machine path in a table
                note = f"flores101 SentencePiece model not at {where} (offline): spBLEU not computed"
            else:
                m = BLEU(tokenize="flores101")
                value, sig = m.corpus_score(hypotheses, refs).score, str(m.get_signature())
        else:   # comet
            value, sig = comet(hypotheses, references, sources, comet_model)
        rows.append({"metric": metric, "score": value, "signature": sig, "note": note})
    return pd.DataFrame(rows)


def corpus_stats(hypotheses: list[str], references: list[str], tgt: str, metric: str,
                 tokenizer: str | None = None):
    """Per-segment sufficient statistics of a corpus metric (``bleu`` or ``chrf++``) and the function
    from summed statistics to the corpus score — sacrebleu's own route in its paired bootstrap.
    Scoring the rows ``idx`` = ``score_of(stats[idx].sum(0))`` equals ``score`` on the resampled
    corpus (tested), at a fraction of the cost."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references) or not references:
        raise ConfigError(f"{len(hypotheses)} hypotheses for {len(references)} references (need equal, > 0)")
    if metric == "bleu":
        m = BLEU(tokenize=bleu_tokenizer(tgt, tokenizer)[0])
    elif metric == "chrf++":
        m = CHRF(word_order=2)
    else:
        raise ConfigError(f"corpus statistics for bleu and chrf++ only, not {metric!r}")
    stats = np.asarray(m._extract_corpus_statistics(list(hypotheses), [list(references)]), dtype=np.int64)
    return stats, (lambda summed: float(m._compute_score_from_stats([int(v) for v in summed]).score))


def comet(hypotheses, references, sources, model_path: str | None) -> tuple[float, str]:
    """System-level COMET from a local checkpoint (``unbabel-comet``); an error when either is missing."""
    if not model_path:
        raise ConfigError("metric 'comet' needs comet_model: the path of a downloaded COMET checkpoint")
    if sources is None or len(sources) != len(hypotheses):
        raise ConfigError("metric 'comet' needs the source segments, one per hypothesis")
    if importlib.util.find_spec("comet") is None:
        raise ConfigError("metric 'comet' needs the unbabel-comet package: pip install unbabel-comet")
    from comet import load_from_checkpoint
    model = load_from_checkpoint(model_path)
    data = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(sources, hypotheses, references)]
    out = model.predict(data, batch_size=16, gpus=0, progress_bar=False)
    return 100.0 * float(out.system_score), f"comet:{Path(model_path).name}"
