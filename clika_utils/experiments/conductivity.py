"""CLiKA's Conductivity level: teach invented facts in one language, ask in another.

Judge (the authors' rule): an answer is correct iff the expected name (the continent, in the asked
language; for Translate the L name) appears in the generation. Both sides are NFC-normalised and
case-folded (documented choice: case differences are not knowledge differences).

XRR (default): the CLiKA paper prints no formula; its authors' group published one in a later paper
(Hu, Liu, Gao, …, Huang, NAACL 2025, §2.3, "following Gao et al. 2024"), the cross-lingual transfer
ratio ``XRR_L = (|C_en ∩ C_L| / |C_en| − A_r) / (1 − A_r)`` over the type-1 places (taught in English
only), C_x the places answered right when asked in x, A_r = 1/k the chance of naming one of the k
trained continents at random. Item-conditioned (only what the model knows in English counts) and
chance-corrected: 1 = every English-known fact is retrieved in L, 0 = chance, negative = below.
Named variant ``xrr_ratio`` (this project's earlier default): ``acc_L(type 1) / acc_en(type 1)``.
Also reported: ``acc_L(type 1) / acc_L(type 0)`` — English-only facts relative to facts taught in L.
Training seeds: each target language is fine-tuned ``seeds`` times (training seeds ``seed``, ``seed + 1``, …);
a metric is the mean over the runs of its per-run value, and its 95 % CI comes from a hierarchical bootstrap —
the runs drawn with replacement (outer level), the places inside them (the same resampled places for every run
and both languages: paired). With one run the CI covers places only, and the row says "one training run".
The gates are checked per run; a language passes only when every run passes.

Data and the repair of the broken ``train/ZH.json``: :mod:`clika_utils.fictional`.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import claims, settings
from ..claims import PaperClaim
from ..config import ExperimentConfig
from ..decide import summarize
from ..errors import ConfigError
from ..fictional import Fictional, Place, fictional_dir, file_code, load_train
from ..formats import Example, alpaca_prompt
from ..metrics import bootstrap_weights, chance_correct, percentile_ci, resample_units, transfer, transfer_note
from ..provenance import input_hashes, write_result_set
from .shared import check_seeds, train_or_reuse

GATE = 0.9
RESULT_FILES = ("items.csv", "accuracy.csv", "gates.csv", "xrr.csv", "xrr_runs.csv", "training.csv", "curves.csv",
                "repairs.csv")


# ----------------------------------------------------------------------------------------------
# subset, training data, evaluation items


def select_places(places: list[Place], n_continents: int, places_per_type: int,
                  exclude: list[str] = ()) -> list[Place]:
    """The first ``n_continents`` continents (file order) and, in each, the first ``places_per_type``
    places of type 0 and of type 1 — the design (type 0 taught in both languages, type 1 in English
    only) is kept. ``0`` means all. ``exclude``: English names left out (the ambiguous places: in every
    language 1–4 pairs of places share one translated name, e.g. zh 漩涡谷 = Vortex Valley and
    Vortex Vale, on different continents, so a question in that language has no single answer)."""
    places = [p for p in places if p.names["en"] not in set(exclude)]
    conts = list(dict.fromkeys(p.continents["en"] for p in places))
    if n_continents:
        if n_continents > len(conts):
            raise ConfigError(f"n_continents={n_continents} but the data has {len(conts)} continents")
        conts = conts[:n_continents]
    out = []
    for c in conts:
        for t in (0, 1):
            ps = [p for p in places if p.continents["en"] == c and p.type == t]
            if places_per_type:
                if places_per_type > len(ps):
                    raise ConfigError(f"places_per_type={places_per_type} but continent {c} has {len(ps)} of type {t}")
                ps = ps[:places_per_type]
            out += ps
    return sorted(out, key=lambda p: p.pid)


def training_examples(data: Fictional, chosen: list[Place], n_paraphrases: int = 0) -> list[Example]:
    """Training rows of the chosen places (and their continents' name pairs), the first
    ``n_paraphrases`` per (kind, place) (0: all), formatted with the Alpaca template."""
    keys = {p.names["en"] for p in chosen} | {p.continents["en"] for p in chosen}
    seen = Counter()
    out = []
    for r in data.train_rows:
        if r["key"] not in keys:
            continue
        seen[(r["kind"], r["key"])] += 1
        if n_paraphrases and seen[(r["kind"], r["key"])] > n_paraphrases:
            continue
        out.append(Example(alpaca_prompt(r["prompt"], r["input"]), r["answer"]))
    return out


def eval_items(data: Fictional, chosen: list[Place]) -> list[dict]:
    """Test questions for the chosen places in English and the target language, and the Translate
    test of their names (places and continents)."""
    lang = data.lang
    items = []
    for asked in ("en", lang):
        for p in chosen:
            items.append({"split": "qa", "asked": asked, "type": p.type, "place": p.names["en"],
                          "continent": p.continents["en"], "prompt": alpaca_prompt(p.prompts[asked]),
                          "expected": p.continents[asked]})
    keys = {p.names["en"]: p.type for p in chosen} | {p.continents["en"]: -1 for p in chosen}
    for t in data.translations:
        if t["en"] in keys:
            items.append({"split": "translate", "asked": lang, "type": keys[t["en"]], "place": t["en"],
                          "continent": "", "prompt": alpaca_prompt(t["prompt"], t["en"]), "expected": t["target"]})
    return items


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def judge(generation: str, expected: str) -> bool:
    """The authors' rule: correct iff the expected name appears in the generation (NFC, case-folded)."""
    if not expected:
        raise ConfigError("empty expected answer")
    return _norm(expected) in _norm(generation)


# ----------------------------------------------------------------------------------------------
# metrics


def accuracy_table(items: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Accuracy per (target_lang, seed, split, asked, type) — one row per training run — with bootstrap CIs
    over items."""
    rows = []
    items = _with_seed(items)
    for (tl, s, split, asked, t), g in items.groupby(["target_lang", "seed", "split", "asked", "type"], sort=True):
        c = g["correct"].to_numpy(float)
        w = bootstrap_weights(len(c), n_boot, seed, f"cd/{tl}/{split}/{asked}/{t}" + (f"/s{s}" if s != seed else ""))
        lo, hi = percentile_ci((w @ c)[None, :] / len(c))
        rows.append({"target_lang": tl, "seed": int(s), "split": split, "asked": asked, "type": int(t), "n": len(c),
                     "correct": int(c.sum()), "accuracy": c.mean(), "accuracy_lo": lo[0], "accuracy_hi": hi[0]})
    return pd.DataFrame(rows)


def _with_seed(items: pd.DataFrame) -> pd.DataFrame:
    """Items of one training run may come without a ``seed`` column (seed 0)."""
    return items if "seed" in items else items.assign(seed=0)


def gates(acc: pd.DataFrame, threshold: float = GATE) -> pd.DataFrame:
    """The authors' four gate checks per target language and training run, passed or not."""
    rows = []
    for (tl, s), g in acc.groupby(["target_lang", "seed"], sort=True):
        def get(split, asked, types, g=g):            # g bound now: called within this iteration only
            sub = g[(g["split"] == split) & (g["asked"] == asked) & g["type"].isin(types)]
            return sub["correct"].sum() / sub["n"].sum() if sub["n"].sum() else float("nan")
        for name, value in (("Translate", get("translate", tl, (-1, 0, 1))), ("en type 0", get("qa", "en", (0,))),
                            ("en type 1", get("qa", "en", (1,))), (f"{tl} type 0", get("qa", tl, (0,)))):
            rows.append({"target_lang": tl, "seed": int(s), "check": name, "accuracy": value, "threshold": threshold,
                         "passed": bool(value >= threshold)})
    return pd.DataFrame(rows)


def gate_summary(g: pd.DataFrame) -> pd.DataFrame:
    """Per target language and check: the mean accuracy over the training runs, how many runs passed, and
    ``passed`` — every run did (the protocol measures XRR only on a model that learned what it was taught)."""
    g = g.assign(passed=g["passed"].astype(bool))
    if "seed" not in g:
        g = g.assign(seed=0)
    out = (g.groupby(["target_lang", "check"], sort=False)
           .agg(accuracy=("accuracy", "mean"), runs=("seed", "nunique"), runs_passed=("passed", "sum"))
           .reset_index())
    return out.assign(passed=out["runs_passed"] == out["runs"])


def failed_gates(g: pd.DataFrame) -> tuple[str, ...]:
    """Target languages with a protocol gate that not every training run passed (:func:`gate_summary`)."""
    s = gate_summary(g)
    return tuple(sorted(set(s.loc[~s["passed"], "target_lang"])))


def name_similarity(items: pd.DataFrame, lang: str) -> float:
    """Mean spelling similarity (difflib ratio, 0..1) of the English and ``lang`` continent names the
    questions expect: a covariate for XRR. Near-identical names (Mythosia / Mythosien) let a model
    'retrieve' an English-taught fact in l by respelling the English answer."""
    from difflib import SequenceMatcher
    qa = items[(items["split"] == "qa") & (items["target_lang"] == lang) & (items["asked"] == lang)]
    pairs = sorted(set(zip(qa["continent"], qa["expected"])))
    return float(np.mean([SequenceMatcher(None, _norm(a), _norm(b)).ratio() for a, b in pairs])) if pairs else np.nan


def chance_level(n_continents: int) -> float:
    """A_r: a model that names one of the k trained continents at random (k = all 20 when 0)."""
    return 1.0 / (n_continents or 20)


XRR_METRICS = ("xrr", "xrr_ratio", "type1_over_type0")


def _xrr_run(en1, l1, l0, w1, w0, chance: float) -> dict[str, tuple[float, np.ndarray]]:
    """One training run's three conductivity metrics: (value, bootstrap replicates) each, the places resampled
    with the weights ``w1`` (type 1, the same rows for English and L) and ``w0`` (type 0)."""
    a_en1, a_l1, a_l0 = (w1 @ en1) / len(en1), (w1 @ l1) / len(l1), (w0 @ l0) / len(l0)
    with np.errstate(divide="ignore", invalid="ignore"):
        transfer_b = chance_correct(np.where(a_en1 > 0, (w1 @ (en1 * l1)) / (w1 @ en1), np.nan), chance)
        ratio_b = np.where(a_en1 > 0, a_l1 / a_en1, np.nan)
        rel_b = np.where(a_l0 > 0, a_l1 / a_l0, np.nan)
    acc_en1, acc_l1, acc_l0 = en1.mean(), l1.mean(), l0.mean()
    return {"xrr": (float(transfer(en1, l1, chance)), transfer_b),
            "xrr_ratio": (acc_l1 / acc_en1 if acc_en1 else np.nan, ratio_b),
            "type1_over_type0": (acc_l1 / acc_l0 if acc_l0 else np.nan, rel_b)}


def xrr_runs(items: pd.DataFrame, n_boot: int, seed: int, chance: float) -> tuple[pd.DataFrame, dict]:
    """Per target language, training run and metric (:data:`XRR_METRICS`): the run's value and counts
    (a table), and the runs' bootstrap replicates over places (``{(lang, metric): runs × B}``, the same
    resampled places for every run)."""
    rows, reps = [], {}
    qa = _with_seed(items)
    qa = qa[qa["split"] == "qa"]
    for tl, g in qa.groupby("target_lang", sort=True):
        runs = sorted(g["seed"].unique())
        w1 = w0 = None
        for s in runs:
            def vec(asked, t, g=g, s=s):
                sub = g[(g["seed"] == s) & (g["asked"] == asked) & (g["type"] == t)].sort_values("place")
                return sub["place"].tolist(), sub["correct"].to_numpy(float)
            p_en1, en1 = vec("en", 1)
            p_l1, l1 = vec(tl, 1)
            p_l0, l0 = vec(tl, 0)
            if p_en1 != p_l1 or not len(l1) or not len(l0):
                raise ConfigError(f"{tl}: type-1 places differ between English and {tl}, or a type has no items")
            if w1 is None:
                places = (p_l1, p_l0)
                w1 = bootstrap_weights(len(l1), n_boot, seed, f"xrr/{tl}/1")
                w0 = bootstrap_weights(len(l0), n_boot, seed, f"xrr/{tl}/0")
            elif (p_l1, p_l0) != places:
                raise ConfigError(f"{tl}: training run {s} was asked about other places than run {runs[0]}")
            n_en1 = int(en1.sum())
            notes = {"xrr": transfer_note(n_en1), "xrr_ratio": "" if en1.mean() else "undefined: English type-1 accuracy is 0",
                     "type1_over_type0": "" if l0.mean() else f"undefined: {tl} type-0 accuracy is 0"}
            for metric, (value, boot) in _xrr_run(en1, l1, l0, w1, w0, chance).items():
                reps.setdefault((tl, metric), []).append(boot)
                rows.append({"target_lang": tl, "seed": int(s), "metric": metric, "value": value,
                             "acc_en_type1": en1.mean(), "acc_l_type1": l1.mean(), "acc_l_type0": l0.mean(),
                             "n_type1": len(l1), "n_type0": len(l0), "n_en_type1_correct": n_en1,
                             "n_both_type1_correct": int((en1 * l1).sum()), "note": notes[metric]})
    return pd.DataFrame(rows), {k: np.vstack(v) for k, v in reps.items()}


def xrr_table(items: pd.DataFrame, n_boot: int, seed: int, chance: float) -> pd.DataFrame:
    """Conductivity per target language L: the mean over the training runs of each run's value, with 95 % CIs
    from a hierarchical bootstrap (runs with replacement, then the places, paired across runs and languages;
    one run: the places only), and the continent names' spelling similarity (:func:`name_similarity`).
    Three rows (``metric``):
    * ``xrr`` — the default, the authors' group's published transfer ratio
      (:func:`clika_utils.metrics.transfer`, s = en, t = L, over the type-1 places, A_r = ``chance``):
      (|C_en ∩ C_L| / |C_en| - A_r) / (1 - A_r). Undefined in a run (NaN, reason in ``note``) when no type-1
      place is answered right in English; the mean is over the runs where it is defined; negative below chance.
    * ``xrr_ratio`` — this project's earlier variant: acc_L(type 1) / acc_en(type 1), neither
      item-conditioned nor chance-corrected.
    * ``type1_over_type0`` — acc_L(type 1) / acc_L(type 0): English-only facts relative to facts taught in L.
    Accuracies are means over runs; the counts ``n_en_type1_correct``, ``n_both_type1_correct`` sums over runs.
    """
    per_run, reps = xrr_runs(items, n_boot, seed, chance)
    rows = []
    for (tl, metric), g in per_run.groupby(["target_lang", "metric"], sort=False):
        defined = g[np.isfinite(g["value"])]
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(f"xrr-runs/{tl}".encode())]))
        sm = summarize(resample_units(reps[(tl, metric)], rng))
        runs = len(g)
        note = ("; ".join(dict.fromkeys(n for n in g["note"] if n)) if defined.empty else
                "" if len(defined) == runs else f"defined in {len(defined)} of {runs} training runs")
        rows.append({"target_lang": tl, "metric": metric, "value": defined["value"].mean() if len(defined) else np.nan,
                     "lo": sm["lo"], "hi": sm["hi"], "tost_lo": sm["tost_lo"], "tost_hi": sm["tost_hi"], "se": sm["se"],
                     "seeds": runs, "acc_en_type1": g["acc_en_type1"].mean(), "acc_l_type1": g["acc_l_type1"].mean(),
                     "acc_l_type0": g["acc_l_type0"].mean(), "n_type1": int(g["n_type1"].iloc[0]),
                     "n_type0": int(g["n_type0"].iloc[0]), "n_en_type1_correct": int(g["n_en_type1_correct"].sum()),
                     "n_both_type1_correct": int(g["n_both_type1_correct"].sum()), "chance": chance,
                     "name_similarity": name_similarity(items, tl), "note": note})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# the experiment


def execute(model: str, data_dir, results_dir, models_dir, *, target_langs: list[str], n_continents: int,
            places_per_type: int, n_paraphrases: int, train_config: dict, max_new_tokens: int = 24,
            batch_size: int = 16, n_boot: int = 1000, seed: int = 0, seeds: int = 1, num_processes: int = 1,
            parameters: dict | None = None, progress: bool = True) -> dict[str, Path]:
    """Per target language and training run (seeds ``seed`` … ``seed + seeds − 1``): build the training set,
    fine-tune (or reuse a finished adapter), generate answers, judge; then write items, accuracy, gates, XRR
    (per run and pooled), training and repairs tables."""
    from ..evaluate import Engine
    from ..train import TrainConfig, load_trained

    check_seeds(seeds)
    results_dir, models_dir = Path(results_dir), Path(models_dir)
    all_items, training, curves, repairs, inputs = [], [], [], [], []
    for lang in target_langs:
        file_code(lang)
        if lang == "en":
            raise ConfigError("target_langs: 'en' is the teaching language, not a target")
        data = load_train(data_dir, lang)
        chosen = select_places(data.places, n_continents, places_per_type, exclude=data.ambiguous)
        examples = training_examples(data, chosen, n_paraphrases)
        items = eval_items(data, chosen)
        inputs.append(fictional_dir(data_dir) / "train" / f"{file_code(lang)}.json")
        for run_seed in range(seed, seed + seeds):
            job = models_dir / lang / f"seed{run_seed}"
            cfg = TrainConfig.from_dict({**train_config, "seed": run_seed})
            info = train_or_reuse(model, examples, job, cfg, num_processes, progress)
            training.append({"target_lang": lang, "seed": run_seed, "examples": len(examples), "places": len(chosen),
                             "ambiguous_places_excluded": len(data.ambiguous),
                             "ambiguous_rows_dropped": sum(r["kind"] == "ambiguous" for r in data.train_rows),
                             "steps": info["steps"], "final_loss": info["final_loss"],
                             "global_batch": info["global_batch"], "method": cfg.method})
            curves += [{"target_lang": lang, "seed": run_seed, "step": int(m["step"]), "loss": m["loss"]}
                       for m in pd.read_csv(job / "metrics.csv").to_dict("records")]
            lm = load_trained(job)
            engine = Engine(lm, batch_size=batch_size)
            gens = engine.generate([it["prompt"] for it in items], max_new_tokens)
            for it, g in zip(items, gens):
                all_items.append({"target_lang": lang, "seed": run_seed, **{k: v for k, v in it.items() if k != "prompt"},
                                  "generation": g.strip(), "correct": judge(g, it["expected"])})
            del lm, engine
        if data.repairs:
            for ph, true in data.repairs["mapping"].items():
                repairs.append({"target_lang": lang, "placeholder": ph, "continent": true,
                                **{f"rows_{k}": v for k, v in sorted(data.repairs["rows_changed"].items())}})
        inputs += [fictional_dir(data_dir) / "test" / "target" / f"test{file_code(lang)}.jsonl",
                   fictional_dir(data_dir) / "test" / "Translate" / f"translate{file_code(lang)}.jsonl"]
    inputs.append(fictional_dir(data_dir) / "test" / "target" / "testEN.jsonl")
    items = pd.DataFrame(all_items)
    acc = accuracy_table(items, n_boot, seed)
    chance = chance_level(n_continents)
    tables = {"items.csv": items, "accuracy.csv": acc, "gates.csv": gates(acc),
              "xrr.csv": xrr_table(items, n_boot, seed, chance), "xrr_runs.csv": xrr_runs(items, n_boot, seed, chance)[0],
              "training.csv": pd.DataFrame(training), "curves.csv": pd.DataFrame(curves),
              "repairs.csv": pd.DataFrame(repairs, columns=["target_lang", "placeholder", "continent"]
                                          if not repairs else None)}
    params = {"model": model, "target_langs": list(target_langs), "n_continents": n_continents,
              "places_per_type": places_per_type, "n_paraphrases": n_paraphrases, "train_config": train_config,
              "max_new_tokens": max_new_tokens, "n_boot": n_boot, "seeds": seeds, **(parameters or {})}
    hashes = input_hashes(inputs, root=data_dir)
    return write_result_set(results_dir, tables, parameters=params, seed=seed, inputs=hashes)


def load(results_dir) -> dict[str, pd.DataFrame]:
    results_dir = Path(results_dir)
    return {name.removesuffix(".csv"): pd.read_csv(results_dir / name) for name in RESULT_FILES}


def findings(tables: dict[str, pd.DataFrame], n_continents: int) -> list[str]:
    """Plain-language reading of the gates and XRR, computed from the tables."""
    out = []
    chance = chance_level(n_continents)
    g, x = gate_summary(tables["gates"]), tables["xrr"]
    for tl, sub in g.groupby("target_lang", sort=True):
        failed = sub[~sub["passed"]]
        runs = int(sub["runs"].iloc[0])
        every = "" if runs == 1 else f" in all {runs} training runs"
        gate_txt = f"all four gates passed{every}" if failed.empty else \
            "gates NOT passed: " + ", ".join(f"{r.check} {r.accuracy:.0%}"
                                             + ("" if runs == 1 else f" (passed in {r.runs_passed} of {runs} runs)")
                                             for r in failed.itertuples())
        xr = x[(x["target_lang"] == tl) & (x["metric"] == "xrr")].iloc[0]
        ratio = x[(x["target_lang"] == tl) & (x["metric"] == "xrr_ratio")]
        verdict = (f"not measurable ({xr.note})" if not np.isfinite(xr.value) else
                   "low conductivity (upper 95% bound < 0.5)" if xr.hi < 0.5 else
                   "high conductivity (lower 95% bound >= 0.5)" if xr.lo >= 0.5 else "unclear (the CI spans 0.5)")
        value = (f"XRR = {xr.value:.2f} [{xr.lo:.2f}, {xr.hi:.2f}]" if np.isfinite(xr.value) else "XRR undefined")
        ratio_txt = (f" (ratio variant acc_{tl}/acc_en {ratio.value.iloc[0]:.2f})"
                     if len(ratio) and np.isfinite(ratio.value.iloc[0]) else "")
        runs = int(xr.seeds) if "seeds" in x and np.isfinite(xr.seeds) else 1
        mean, summed = ("", "") if runs == 1 else (f" (means over {runs} training runs)", f", summed over the {runs} runs")
        out.append(f"**{tl}**: {gate_txt}. Type 1 (taught in English only){mean}: English {xr.acc_en_type1:.0%}, "
                   f"{tl} {xr.acc_l_type1:.0%} (a random trained continent: {chance:.0%}); of the "
                   f"{int(xr.n_en_type1_correct)} places answered right in English{summed}, "
                   f"{int(xr.n_both_type1_correct)} are also right in {tl}: {value}{ratio_txt} — {verdict}; "
                   f"{tl} type 0 (taught in {tl}) {xr.acc_l_type0:.0%}; continent names' spelling similarity "
                   f"en/{tl} {xr.name_similarity:.2f}.")
    xr_all = x[(x["metric"] == "xrr") & np.isfinite(x["value"])]
    low = xr_all[xr_all["hi"] < 0.5]["target_lang"].tolist()
    high = xr_all[xr_all["lo"] >= 0.5]
    if len(low) == len(xr_all) and len(xr_all):
        out.append("Conductivity is low for this model in every target language, as the paper reports.")
    else:
        if low:
            out.append(f"Low conductivity in {', '.join(low)}, as the paper reports.")
        if len(high):
            similar = high[high["name_similarity"] >= 0.5]["target_lang"].tolist()
            out.append(f"High XRR in {', '.join(high['target_lang'])}"
                       + (f"; there ({', '.join(similar)}) the continent names are spelled almost as in English, so "
                          "answering in l can be a respelling of the English answer rather than knowledge "
                          "transfer — compare with the non-Latin-script targets." if similar else "."))
    translate = g[g["check"] == "Translate"]
    if len(translate) and not translate["passed"].any():
        out.append("The Translate gate asks English → l, the direction the training pairs (l → English) never "
                   "teach; a small model does not invert them, so this gate fails here by design of the data.")
    if not g["passed"].all():
        out.append("Not every gate passed, so by the authors' protocol this XRR is a measurement of a model that "
                   "has not learned everything it was taught; the gate table says which part.")
    return out


# ----------------------------------------------------------------------------------------------
# the papers' claims this notebook measures


XRR_LOW = 0.5  #: "low" conductivity: XRR (transfer scale, 0 = chance, 1 = full) below this
CLAIMS = [PaperClaim(key="xrr", paper="CLiKA", statement=f"Knowledge conductivity is low for every model (XRR below "
                     f"{XRR_LOW:.1f})", metric="XRR", expected="decrease", source="xrr.csv", null=XRR_LOW,
                     headline=f"Knowledge conducts poorly across languages (XRR < {XRR_LOW:.1f})")]


def claim_rows(results_dir) -> list[dict]:
    """One row per target language: the published transfer ratio against the stated threshold."""
    x = claims.read(results_dir, "xrr")
    nb, (cd,) = Config.NOTEBOOK, CLAIMS
    if x is None:
        return claims.not_run(CLAIMS, nb)
    rows = []
    ratio = x[x.metric == "xrr_ratio"].set_index("target_lang")["value"] if "xrr_ratio" in set(x.metric) else {}
    g = claims.read(results_dir, "gates")
    g = gate_summary(g) if g is not None else None
    for r in x[x.metric == "xrr"].itertuples():
        seeds = int(r.seeds) if "seeds" in x and np.isfinite(r.seeds) else 1
        mine = g[g.target_lang == r.target_lang] if g is not None else pd.DataFrame(
            columns=["check", "accuracy", "passed", "runs", "runs_passed"])
        gate_txt = "; ".join(f"{c.check} {c.accuracy:.0%}"
                             + ("" if c.passed else " FAILED" if c.runs == 1 else f" FAILED ({c.runs_passed} of {c.runs} "
                                                                                 "runs passed)")
                             for c in mine.itertuples())
        failed = mine[~mine.passed.astype(bool)]
        how = ("hierarchical bootstrap: training runs, then places (paired)" if seeds > 1 else
               "bootstrap over places; one training run")
        note = (f"{how}; gates ({GATE:.0%} needed{', mean over runs' if seeds > 1 else ''}): "
                f"{gate_txt or 'none recorded'}; name similarity to English {r.name_similarity:.2f}; "
                f"effect = XRR − {cd.null:g}")
        if r.target_lang in ratio:
            note += f"; ratio variant acc_l/acc_en {ratio[r.target_lang]:.3f}"
        undefined = "" if np.isfinite(r.value) else f"XRR undefined: {r.note}"
        if not undefined and (g is None or len(failed)):
            undefined = ("the authors' protocol measures XRR only after every gate passes; failed: "
                         + (", ".join(f"{c.check} {c.accuracy:.0%}" for c in failed.itertuples())
                            if g is not None else "no gate table"))
        decision = claims.judge(cd, r.value, r._asdict(), "xrr", undefined=undefined)
        known = (f"{int(r.n_en_type1_correct)} of {int(r.n_type1)} places right in English" if seeds == 1 else
                 f"mean of {seeds} runs; {int(r.n_en_type1_correct)} of {seeds} × {int(r.n_type1)} place answers right "
                 "in English")
        measured = (f"XRR (transfer, chance-corrected) {r.value:.3f} ({known})" if np.isfinite(r.value)
                    else f"XRR {r.note}")
        rows.append(claims.row(cd, nb, measured, decision, source="live", metric="xrr", n=int(r.n_type1),
                               seeds=seeds, note=note, detail=f"taught in English, asked in {r.target_lang}"))
    return rows


# ----------------------------------------------------------------------------------------------
# the notebook's entry point


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Notebook 03's parameters (defaults and meanings: its parameters cell)."""

    NOTEBOOK: ClassVar[str] = "03_conductivity"

    profile: str
    data_dir: str
    model: str
    target_langs: list
    n_continents: int
    places_per_type: int
    n_paraphrases: int
    train_config: dict
    max_new_tokens: int
    batch_size: int
    num_processes: int
    n_boot: int
    seed: int
    seeds: int
    models_dir: str
    render_only: bool
    results_dir: str
    figures_dir: str


def run(config: Config, *, progress: bool = True) -> dict[str, Path]:
    """Notebook 03: train, ask, judge per target language; writes :data:`RESULT_FILES` with the config."""
    c = config
    return execute(c.model, settings.clika_dir(c.data_dir), c.path("results_dir"),
                   c.path("models_dir"), target_langs=c.target_langs, n_continents=c.n_continents,
                   places_per_type=c.places_per_type, n_paraphrases=c.n_paraphrases, train_config=c.train_config,
                   max_new_tokens=c.max_new_tokens, batch_size=c.batch_size, n_boot=c.n_boot, seed=c.seed,
                   seeds=c.seeds, num_processes=c.num_processes, parameters=c.record(), progress=progress)
