"""How aligned are two languages' representations, layer by layer?

For parallel sentences (Tatoeba pairs, XQuAD questions) the hidden states of every layer are
**mean-pooled over the sentence's own tokens**: padding is excluded (the x-LLM analysis script divides
by the padded length, which mixes pad states into the mean and depends on the batch — not repeated
here), and so is the BOS token the model needs in front (its state is an attention sink with a huge
norm that would dominate every mean). Layer 0 is the embedding output, layer L the last block's
output after the final norm (transformers' ``hidden_states`` convention).

Per layer, for aligned pairs (x_i, y_i):

* ``cos_matched`` – mean cosine of translation pairs; ``cos_mismatched`` – mean cosine over all
  non-translation pairs (i ≠ j); ``cos_gap`` – their difference (the matched similarity beyond what
  any two sentences share at that layer, which is large in anisotropic layers);
* ``cos_gap_centred`` – the same gap after each language's states are mean-centred per layer (the
  default alignment measure: raw cosines of a layer whose states share one dominant direction are all
  near 1, and the gap then shrinks with the anisotropy, not with the alignment — Ethayarajh 2019; the
  raw ``cos_gap`` is kept as a named variant);
* ``cka`` – linear CKA (Kornblith et al. 2019) between the two n×d matrices (columns centred);
* ``retrieval_xy`` / ``retrieval_yx`` – top-1 parallel-sentence retrieval by cosine, both directions.

95 % CIs: bootstrap over pairs (the same draws for every layer); for retrieval the candidate set stays
whole and the queries are resampled. :func:`peak_layer` gives the layer where a metric peaks and the
bootstrap distribution of that layer, so "the middle layers align best" is a statement with a CI.

Pooled states are cached per (model fingerprint, sentences hash): one ``.npy`` per layer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import claims, settings
from ..claims import PaperClaim
from ..config import ExperimentConfig
from ..errors import ConfigError, DataError
from ..metrics import bootstrap_weights, percentile_ci
from ..provenance import run_config
from ..train import job_record
from .shared import load_tables, run_first, write


def _sentences_hash(sentences: list[str]) -> str:
    return hashlib.sha256(json.dumps(sentences, ensure_ascii=False).encode()).hexdigest()[:16]


def pooled_states(lm, sentences: list[str], *, layers=None, batch_size: int = 16, cache_dir=None,
                  source: str = "sentences") -> dict[int, np.ndarray]:
    """{layer: n × d float32 array} of mean-pooled hidden states (see the module docstring)."""
    import torch

    tok = lm.tokenizer
    encoded = []
    for i, s in enumerate(sentences):
        ids = tok(s, add_special_tokens=False).input_ids if isinstance(s, str) else []
        if not ids:
            raise DataError(source, f"sentence {i + 1} ({s!r}) tokenizes to nothing; expected text", line=i + 1)
        encoded.append(ids)
    n_layers = int(getattr(lm.model.config, "num_hidden_layers", 0) or
                   getattr(getattr(lm.model.config, "text_config", None), "num_hidden_layers", 0))
    wanted = list(range(n_layers + 1)) if layers is None else [int(k) for k in layers]
    bad = [k for k in wanted if not 0 <= k <= n_layers]
    if bad:
        raise ConfigError(f"layer index(es) {bad} out of range: this model has layers 0..{n_layers}")
    folder = Path(cache_dir) / lm.fingerprint / _sentences_hash(sentences) if cache_dir else None
    if folder is not None and all((folder / f"layer-{k:03d}.npy").exists() for k in wanted):
        return {k: np.load(folder / f"layer-{k:03d}.npy") for k in wanted}
    bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    sums = {k: [] for k in wanted}
    for start in range(0, len(encoded), batch_size):
        batch = [bos + e for e in encoded[start: start + batch_size]]
        L = max(len(b) for b in batch)
        ids = torch.tensor([b + [pad] * (L - len(b)) for b in batch], device=lm.device)
        mask = torch.tensor([[1] * len(b) + [0] * (L - len(b)) for b in batch], device=lm.device)
        with torch.inference_mode(), lm.autocast():
            out = lm.model.base_model(input_ids=ids, attention_mask=mask, output_hidden_states=True)   # no LM head
        hidden = getattr(out, "hidden_states", None)
        if hidden is None or len(hidden) != n_layers + 1:
            raise ConfigError(f"{lm.name}: the model returns no per-layer hidden states "
                              f"(output_hidden_states); representation analysis needs them")
        keep = mask.clone()
        keep[:, : len(bos)] = 0                                # the BOS is not part of the sentence
        w = keep.unsqueeze(-1).float()
        for k in wanted:
            h = hidden[k].float()
            sums[k].append(((h * w).sum(1) / w.sum(1)).cpu().numpy().astype(np.float32))
    states = {k: np.concatenate(v) for k, v in sums.items()}
    if folder is not None:
        import io

        from ..io import write_bytes_atomic
        from ..outdir import adding
        files = {folder / f"layer-{k:03d}.npy": arr for k, arr in states.items()}
        with adding(cache_dir, what=CACHE_WRITER, adopt=adopt_cache) as ledger, \
                ledger.writing(files, writer=CACHE_WRITER):
            for path, arr in files.items():
                buf = io.BytesIO()
                np.save(buf, arr)
                write_bytes_atomic(path, buf.getvalue())
    return states


#: Who wrote the hidden-state cache, in its folder's ledger.
CACHE_WRITER = "clika hidden-state cache"


def adopt_cache(root: Path) -> dict[str, tuple]:
    """Legacy adoption of a cache folder (written before ledgers): ``<model fingerprint>/<sentences hash>/
    layer-NNN.npy`` files that hold what :func:`pooled_states` writes (a 2-D float32 array, no pickles)."""
    import re
    out = {}
    for f in root.glob("*/*/layer-*.npy"):
        rel = f.relative_to(root).as_posix()
        if not re.fullmatch(r"[0-9a-f]{16}/[0-9a-f]{16}/layer-\d{3}\.npy", rel):
            continue
        try:
            arr = np.load(f, allow_pickle=False)
        except (OSError, ValueError):
            continue
        if arr.ndim == 2 and arr.dtype == np.float32:
            out[rel] = (CACHE_WRITER, "")
    return out


# ----------------------------------------------------------------------------------------------
# metrics


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm == 0, 1.0, norm)


def cosine_matrix(x: np.ndarray, y: np.ndarray, centred: bool = False) -> np.ndarray:
    """Cosines between the rows of ``x`` and of ``y``; ``centred``: after subtracting each matrix's mean row
    (the anisotropy correction of ``cos_gap_centred``)."""
    if centred:
        x = np.asarray(x, np.float64) - np.mean(x, 0)
        y = np.asarray(y, np.float64) - np.mean(y, 0)
    return _unit(x) @ _unit(y).T


def _gap(sim: np.ndarray) -> np.ndarray:
    """Per query: the matched cosine minus its mean cosine to the other sentences."""
    n = sim.shape[0]
    matched = np.diag(sim)
    return matched - (sim.sum(1) - matched) / (n - 1)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA: ||Yᶜᵀ Xᶜ||²_F / (||Xᶜᵀ Xᶜ||_F · ||Yᶜᵀ Yᶜ||_F), columns centred."""
    x = np.asarray(x, np.float64) - np.mean(x, 0)
    y = np.asarray(y, np.float64) - np.mean(y, 0)
    num = np.linalg.norm(y.T @ x) ** 2
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(num / den) if den > 0 else float("nan")


def retrieval(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 per query: x_i retrieves y_i (row argmax), y_i retrieves x_i (column argmax)."""
    idx = np.arange(sim.shape[0])
    return (np.argmax(sim, 1) == idx).astype(float), (np.argmax(sim, 0) == idx).astype(float)


def alignment(x_states: dict[int, np.ndarray], y_states: dict[int, np.ndarray], *, n_boot: int = 1000,
              seed: int = 0, level: float = 0.95, stream: str = "pairs") -> pd.DataFrame:
    """Per layer: matched/mismatched cosine, gap, CKA, retrieval both ways, with bootstrap CIs."""
    layers = sorted(x_states)
    if sorted(y_states) != layers:
        raise ConfigError("the two languages' states cover different layers")
    n = len(x_states[layers[0]])
    if n < 2 or any(len(x_states[k]) != n or len(y_states[k]) != n for k in layers):
        raise DataError(stream, f"need at least 2 aligned pairs with the same count in both languages, "
                                f"got {n} and {len(y_states[layers[0]])}")
    w = bootstrap_weights(n, n_boot, seed, stream) if n_boot else None
    rows = []
    for k in layers:
        sim = cosine_matrix(x_states[k], y_states[k])
        matched, raw = np.diag(sim), _gap(sim)          # raw = matched − its mean similarity to the others
        off = (sim.sum(1) - matched) / (n - 1)
        rxy, ryx = retrieval(sim)
        centred = _gap(cosine_matrix(x_states[k], y_states[k], centred=True))
        row = {"layer": k, "cos_matched": matched.mean(), "cos_mismatched": off.mean(),
               "cos_gap": raw.mean(), "cos_gap_centred": centred.mean(),
               "cka": linear_cka(x_states[k], y_states[k]), "retrieval_xy": rxy.mean(), "retrieval_yx": ryx.mean()}
        if w is not None:
            for name, per in (("cos_gap", raw), ("cos_gap_centred", centred), ("retrieval_xy", rxy),
                              ("retrieval_yx", ryx)):
                lo, hi = percentile_ci(w @ per / n, level)
                row[f"{name}_lo"], row[f"{name}_hi"] = float(lo), float(hi)
        rows.append(row)
    return pd.DataFrame(rows)


def peak_layer(x_states, y_states, metric: str = "cos_gap", *, n_boot: int = 1000, seed: int = 0) -> dict:
    """The layer where ``metric`` (cos_gap_centred, cos_gap or retrieval) peaks, and the bootstrap share of each
    layer as the peak (the same pair draws for every layer)."""
    if metric not in PEAK_METRICS:
        raise ConfigError(f"peak_layer metric must be one of {PEAK_METRICS}, got {metric!r}")
    layers = sorted(x_states)
    n = len(x_states[layers[0]])
    per_layer = []
    for k in layers:
        sim = cosine_matrix(x_states[k], y_states[k], centred=metric == "cos_gap_centred")
        if metric == "retrieval":
            rxy, ryx = retrieval(sim)
            per_layer.append((rxy + ryx) / 2)
        else:
            per_layer.append(_gap(sim))
    per_layer = np.array(per_layer)                                  # layers × pairs
    point = layers[int(np.argmax(per_layer.mean(1)))]
    w = bootstrap_weights(n, n_boot, seed, f"peak-{metric}")
    reps = (w @ per_layer.T) / n                                      # boot × layers
    winners = np.array(layers)[np.argmax(reps, 1)]
    share = {k: float(np.mean(winners == k)) for k in layers}
    lo, hi = np.quantile(winners, [0.025, 0.975])
    mid = np.array([region(k, max(layers)) == "middle" for k in layers])
    advantage = (lambda m: m[..., mid].max(-1) - m[..., ~mid].max(-1)) if mid.any() and (~mid).any() else None
    return {"metric": metric, "peak": point, "peak_lo": int(lo), "peak_hi": int(hi), "n_layers": max(layers),
            "share": share, "n": n, "layers": layers, "per_pair": per_layer,
            "advantage": float(advantage(per_layer.mean(1))) if advantage else float("nan"),
            "advantage_reps": advantage(reps) if advantage else np.full(len(reps), np.nan)}


# ----------------------------------------------------------------------------------------------
# notebook 09

FILES = ("systems", "alignment", "peaks", "middle", "family", "pairs")
#: what the peak layer is found for: the default alignment measures first, then the raw-cosine variant
PEAK_METRICS = ("cos_gap_centred", "retrieval", "cos_gap")
#: the measures the claim is judged on (the raw cosine gap is a variant, shown, never judged)
CLAIM_PEAK_METRICS = ("cos_gap_centred", "retrieval")
#: δ of the middle-third advantage per peak metric (:data:`clika_utils.decide.DELTA`)
ADVANTAGE_MARGIN = {"cos_gap_centred": "middle_advantage_cosine_gap", "cos_gap": "middle_advantage_cosine_gap",
                    "retrieval": "middle_advantage_retrieval"}
METRIC_WORDS = {"cos_gap_centred": "centred cosine gap", "cos_gap": "raw cosine gap (variant)",
                "retrieval": "retrieval"}
REGIONS = ((1 / 3, "early"), (2 / 3, "middle"), (1.0 + 1e-9, "late"))


def parallel_sentences(data_home, langs, *, source: str, n: int, seed: int) -> tuple[dict, list]:
    """{lang: (english sentences, X sentences)} aligned item by item, and the input files.

    ``xquad``: the same ``n`` question ids in every language (English once, shared);
    ``tatoeba``: ``n`` en-X pairs per language (the English side differs by language)."""
    from .. import qa, translation
    out, inputs = {}, []
    if source == "xquad":
        en_path = qa.xquad_path(data_home, "en")
        en = {q.id: q.question for q in qa.sample(qa.read_squad(en_path, "en"), n, seed)}
        inputs.append(en_path)
        for lang in langs:
            p = qa.xquad_path(data_home, lang)
            if not p.exists():
                raise DataError(p, f"no XQuAD file for {lang}; choose languages XQuAD covers or source 'tatoeba'")
            xs = {q.id: q.question for q in qa.read_squad(p, lang) if q.id in en}
            missing = sorted(set(en) - set(xs))
            if missing:
                raise DataError(p, f"XQuAD {lang} lacks {len(missing)} of the English question ids "
                                   f"(first {missing[0]}): the files are not parallel")
            ids = sorted(en)
            out[lang] = ([en[i] for i in ids], [xs[i] for i in ids])
            inputs.append(p)
    elif source == "tatoeba":
        for lang in langs:
            pairs, _ = translation.read_tatoeba(data_home, lang)
            k = len(pairs) if n <= 0 else min(n, len(pairs))
            pick = sorted(np.random.default_rng(seed).choice(len(pairs), k, replace=False))
            out[lang] = ([pairs[i][0] for i in pick], [pairs[i][1] for i in pick])
            inputs += list(translation.tatoeba_files(data_home, lang))
    else:
        raise ConfigError(f"source must be xquad or tatoeba, got {source!r}")
    return out, inputs


def find_systems(model: str, variant_dirs, label: str = "base") -> dict[str, str | None]:
    """{system name: job folder or None for the base}: the base model plus every finished training
    job (a folder with a complete ``train.json`` whose base is ``model``) under ``variant_dirs``."""
    from ..models import fingerprint, resolve
    systems: dict[str, str | None] = {label: None}
    want = fingerprint(resolve(model))
    for root in variant_dirs:
        root = Path(root)
        if not root.is_dir():
            continue
        for job in sorted(p for p in root.iterdir() if (p / "train.json").is_file()):
            meta = job_record(job, complete=False)
            if meta.get("status") == "complete" and meta.get("job", {}).get("fingerprint") == want:
                systems[f"{root.name.split('_', 1)[0]}:{job.name}"] = str(job)
    return systems


def _relative(job: str | None) -> str:
    """A job folder as written in results: relative to the work folder when under it (portable)."""
    if not job:
        return ""
    from ..settings import workdir
    try:
        return str(Path(job).resolve().relative_to(workdir().resolve()))
    except ValueError:
        return str(job)


def middle_table(adv: dict) -> pd.DataFrame:
    """Per (system, metric): the middle-third advantage (best middle-third layer − best layer outside it, of
    the metric's mean over sentence pairs) averaged over languages, with the
    :func:`~clika_utils.decide.summarize` of its bootstrap replicates (the same pair draws for every layer
    and language)."""
    rows = []
    for (system, metric), per in adv.items():
        advantage, reps = _over_languages(per)
        rows.append({"system": system, "metric": metric, "langs": "+".join(lang for lang, *_ in per),
                     "n": int(per[0][3]), "advantage": advantage, **_summary(reps)})
    return pd.DataFrame(rows)


def _over_languages(per: list) -> tuple[float, np.ndarray]:
    """One system's middle-third advantage and its replicates, averaged over its languages (``per``: (lang,
    advantage, replicates, n) per language, as :func:`execute` collects them)."""
    return float(np.mean([a for _, a, _, _ in per])), np.mean([r for _, _, r, _ in per], axis=0)


def _summary(reps: np.ndarray) -> dict:
    from ..decide import summarize
    return {k: v for k, v in summarize(reps).items() if k != "defined"}


def pair_table(peak: dict, system: str, lang: str) -> pd.DataFrame:
    """The unit-level inputs of a :func:`peak_layer` result, published so that its CI can be recomputed from the
    results alone: one row per sentence pair, one column per layer (``layer_<k>``) holding that pair's value of
    the metric (its gap, or its mean retrieval hit)."""
    values = np.asarray(peak["per_pair"]).T                                   # pairs × layers
    t = pd.DataFrame(values, columns=[f"layer_{k}" for k in peak["layers"]])
    t.insert(0, "pair", np.arange(len(t)))
    for col, v in (("metric", peak["metric"]), ("lang", lang), ("system", system)):
        t.insert(0, col, v)
    return t


def family_table(adv: dict) -> pd.DataFrame:
    """One pooled estimate per metric over every system analysed (the base and its fine-tuned variants: one
    family, measured on the same sentence pairs, so not independent replications): the middle-third advantage
    averaged over systems and languages, with the replicates averaged the same way (every system and language
    used the same pair draws)."""
    rows = []
    for metric in PEAK_METRICS:
        per = [(system, p) for (system, m), p in adv.items() if m == metric]
        if not per:
            continue
        systems = [_over_languages(p) for _, p in per]
        rows.append({"metric": metric, "systems": len(per), "names": "+".join(s for s, _ in per),
                     "n": int(per[0][1][0][3]), "advantage": float(np.mean([a for a, _ in systems])),
                     **_summary(np.mean([r for _, r in systems], axis=0))})
    return pd.DataFrame(rows)


def region(layer: float, n_layers: int) -> str:
    """early / middle / late third of the depth (layer 0 = embeddings, n_layers = last block)."""
    depth = layer / n_layers
    return next(name for bound, name in REGIONS if depth < bound)


def execute(model: str, data_home, results_dir, cache_dir, *, variant_dirs, langs, source: str, n: int,
            layers=None, batch_size: int, n_boot: int, seed: int, parameters: dict | None = None) -> dict:
    """Notebook 09: per system (base + finished fine-tuning jobs), language and layer, the alignment
    metrics with CIs and the peak layer of the cosine gap and of retrieval with its bootstrap range."""
    config = run_config(locals())
    from ..models import load_model
    from ..outdir import claim
    from ..provenance import input_hashes
    from ..train import load_trained

    if cache_dir:                  # a file of the user's among the cached states: refused before any work
        claim(cache_dir, what=CACHE_WRITER, adopt=adopt_cache, flag=None)

    sentences, inputs = parallel_sentences(data_home, langs, source=source, n=n, seed=seed)
    systems = find_systems(model, variant_dirs)
    rows, peaks, sys_rows, adv, per_pair = [], [], [], {}, []
    for name, job in systems.items():
        lm = load_model(model) if job is None else load_trained(job)
        sys_rows.append({"system": name, "job": _relative(job), "fingerprint": lm.fingerprint})
        english = {}
        for lang, (en, xs) in sentences.items():
            key = tuple(en)
            if key not in english:
                english[key] = pooled_states(lm, en, layers=layers, batch_size=batch_size, cache_dir=cache_dir,
                                             source=f"{source} en")
            x_states = pooled_states(lm, xs, layers=layers, batch_size=batch_size, cache_dir=cache_dir,
                                     source=f"{source} {lang}")
            table = alignment(english[key], x_states, n_boot=n_boot, seed=seed, stream=f"{source}-{lang}")
            rows.append(table.assign(system=name, lang=lang))
            n_layers = int(max(x_states))
            for metric in PEAK_METRICS:
                p = peak_layer(english[key], x_states, metric, n_boot=n_boot, seed=seed)
                peaks.append({"system": name, "lang": lang, "metric": metric, "peak": p["peak"],
                              "peak_lo": p["peak_lo"], "peak_hi": p["peak_hi"], "n_layers": n_layers,
                              "region": region(p["peak"], n_layers),
                              "region_share": sum(v for k, v in p["share"].items()
                                                  if region(k, n_layers) == region(p["peak"], n_layers)),
                              "middle_advantage": p["advantage"]})
                adv.setdefault((name, metric), []).append((lang, p["advantage"], p["advantage_reps"], p["n"]))
                if metric in CLAIM_PEAK_METRICS:
                    per_pair.append(pair_table(p, name, lang))
        del lm
    tables = {"systems": pd.DataFrame(sys_rows), "alignment": pd.concat(rows, ignore_index=True),
              "peaks": pd.DataFrame(peaks), "middle": middle_table(adv), "family": family_table(adv),
              "pairs": pd.concat(per_pair, ignore_index=True)}
    return write(tables, results_dir, parameters={**config, **(parameters or {})}, seed=seed,
                 inputs=input_hashes(inputs, root=data_home))


def load(results_dir) -> dict[str, pd.DataFrame]:
    return load_tables(results_dir, FILES)


def findings(res: dict[str, pd.DataFrame]) -> list[str]:
    """The "middle layers" verdict per system: where the language-averaged metric peaks, and in how
    many languages the peak (and its bootstrap range) lies in the middle third."""
    out = []
    al, pk = res["alignment"], res["peaks"]
    for system in res["systems"].system:
        for metric, col in (("cos_gap_centred", "cos_gap_centred"), ("retrieval", None), ("cos_gap", "cos_gap")):
            a = al[al.system == system]
            curve = a.groupby("layer")[col].mean() if col else \
                a.assign(r=(a.retrieval_xy + a.retrieval_yx) / 2).groupby("layer").r.mean()
            n_layers = int(curve.index.max())
            best = int(curve.idxmax())
            p = pk[(pk.system == system) & (pk.metric == metric)]
            middle = int((p.region == "middle").sum())
            firm = int(((p.region == "middle") & (p.peak_lo >= n_layers / 3) & (p.peak_hi < 2 * n_layers / 3)).sum())
            out.append(f"{system}, {metric}: the mean over {len(p)} languages peaks at layer {best} of {n_layers} "
                       f"({region(best, n_layers)}); per language the peak is in the middle third for {middle}/{len(p)} "
                       f"(with its whole 95 % bootstrap range there: {firm}/{len(p)}).")
    return out


# ----------------------------------------------------------------------------------------------
# the papers' claims this notebook measures


CLAIMS = [PaperClaim(key=f"middle-{short}", paper="x-LLaMA", statement="Languages align best in the middle layers "
                     "(x-LLaMA, paper body)", metric=f"middle-third advantage of the {what}, pooled over the family",
                     expected="increase", source="family.csv, middle.csv, peaks.csv",
                     headline=f"Languages align best in the middle layers: {head}")
          for short, what, head in (("cosine", "centred cosine gap", "centred cosine gap"),
                                    ("retrieval", "retrieval", "en ↔ X retrieval"))]
#: the declared claim each judged alignment measure tests
CLAIM_OF = dict(zip(CLAIM_PEAK_METRICS, CLAIMS))


def claim_rows(results_dir) -> list[dict]:
    """Per default alignment measure (centred cosine gap, retrieval): one row, the middle-third advantage (best
    layer in the middle third of the depth minus the best layer outside it) pooled over the whole family of
    systems analysed (the base and its variants, on the same pairs) and the languages, judged by the one
    verdict rule; the per-system values and peak layers are stated (``middle.csv``, ``peaks.csv``)."""
    pk, mid, fam, nb = (claims.read(results_dir, "peaks"), claims.read(results_dir, "middle"),
                        claims.read(results_dir, "family"), Config.NOTEBOOK)
    if pk is None or mid is None or fam is None:
        return claims.not_run(CLAIMS, nb)
    rows = []
    for r in fam[fam.metric.isin(CLAIM_PEAK_METRICS)].itertuples():
        what = METRIC_WORDS[r.metric]
        per = mid[mid.metric == r.metric]
        p = pk[pk.metric == r.metric]
        each = ", ".join(f"{s} {a:+.3f}" for s, a in zip(per.system, per.advantage))
        ml = CLAIM_OF[r.metric]
        rows.append(claims.row(ml, nb,
                               f"{what}: best middle-third layer − best other layer {r.advantage:+.3f}, pooled over "
                               f"{int(r.systems)} systems of one family and their languages ({each}); peak in the "
                               f"middle third for {int((p.region == 'middle').sum())}/{len(p)} system-languages",
                               claims.judge(ml, r.advantage, r._asdict(), ADVANTAGE_MARGIN[r.metric]),
                               source="live", metric=f"middle-third advantage ({what})", n=int(r.n),
                               note="one pooled estimate: the base and its fine-tuned variants share the sentence pairs, "
                                    "so they are one family, not replications; bootstrap over sentence pairs (n per "
                                    "language); the raw cosine gap is a variant (middle.csv), not judged",
                               detail=what))
    return rows


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 09's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "09_representation_alignment"

    profile: str
    data_home: str
    model: str
    variant_dirs: list
    langs: list
    source: str
    n_pairs: int
    layers: list
    batch_size: int
    n_boot: int
    seed: int
    cache_dir: str
    render_only: bool
    results_dir: str
    figures_dir: str


def run(config: Config) -> dict[str, Path]:
    """Notebook 09: pooled states of the base model and every variant found, alignment per layer, peaks."""
    c = config
    dirs = [settings.resolve(d) for d in c.variant_dirs]
    if dirs and len(find_systems(c.model, dirs)) == 1:
        raise ConfigError(run_first(dirs[0].name, c.profile, f"no finished fine-tuning job of {c.model} in "
                                    f"{', '.join(map(str, c.variant_dirs))}") + "; or set variant_dirs: [] for the "
                          "base model alone")
    return execute(c.model, c.home(),
                   c.path("results_dir"), c.path("cache_dir"),
                   variant_dirs=dirs, langs=c.langs, source=c.source,
                   n=c.n_pairs, layers=c.layers or None, batch_size=c.batch_size, n_boot=c.n_boot, seed=c.seed,
                   parameters=c.record())
