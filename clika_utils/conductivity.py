"""CLiKA's Conductivity level: teach invented facts in one language, ask in another.

Data (``<clika>/fictional/``): 20 invented continents x 20 invented places. For a target language L,
``train/<L>.json`` (JSON Lines despite the name) teaches, 10 paraphrases each:

* English QA for all 400 places ("Which continent is X located in?" -> "... Mythosia."),
* L-language QA for the 200 **type 0** places only,
* name-translation pairs L -> English for the 400 places and 20 continents.

``test/target/test<L>.jsonl`` asks every place in L (tags ``[[continent:…]][[city:…]][[type:…]]``),
``test/Translate/translate<L>.jsonl`` asks for the 420 names in L. The authors' protocol: after
fine-tuning, the model must reach >= 90 % on Translate, English type 0 and type 1, and L type 0 (the
**gates**); only then is L **type 1** — facts taught in English only — the conductivity test.

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
95 % CIs: percentile bootstrap over places (the same resampled places for both languages).

**train/ZH.json is broken** (as the data README says): it names the continents with 20 placeholders
(English "mountain", "river", …; Chinese "山洲", "江洲", …; translation pairs 山 -> mountain) instead
of the names the tests ask for (Mythosia / 神话之地, …). :func:`load_train` detects such
placeholders (translation pairs whose English side is no test name), derives each placeholder's
continent from the places it is attached to (unanimous and one-to-one, else an error), and replaces
it — English word, Chinese placeholder + 洲, and the translation pair — with the test files' names.
The counts of rows changed are returned and written to the results.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .io import read_jsonl
from .metrics import bootstrap_weights, chance_correct, percentile_ci, transfer, transfer_note
from .provenance import input_hashes, write_result_set
from .train import Example, alpaca_prompt

TARGET_LANGS = ("ar", "de", "fr", "he", "it", "ja", "pl", "ru", "zh")
GATE = 0.9
TAG_RE = re.compile(r"\[\[(continent|city|type):(.*?)\]\]")
PLACEHOLDER_SUFFIX = {"zh": ("洲",)}   #: the broken ZH file writes a Chinese placeholder + 洲 ("山洲")
RESULT_FILES = ("items.csv", "accuracy.csv", "gates.csv", "xrr.csv", "training.csv", "curves.csv", "repairs.csv")


@dataclass
class Place:
    pid: int
    type: int
    names: dict = field(default_factory=dict)       #: lang -> place name
    continents: dict = field(default_factory=dict)  #: lang -> continent name
    prompts: dict = field(default_factory=dict)     #: lang -> official test question


@dataclass
class Fictional:
    lang: str
    places: list[Place]
    translations: list[dict]   #: {en, target, prompt} rows of the Translate test
    train_rows: list[dict]     #: {kind: en_qa|target_qa|translation, key, prompt, input, answer}
    repairs: dict
    ambiguous: list[str] = field(default_factory=list)  #: English names of places whose L name is shared


def fictional_dir(root) -> Path:
    path = Path(root) / "fictional"
    if not path.is_dir():
        raise DataError(path, "missing; expected the CLiKA fictional data (train/, test/target/, test/Translate/)")
    return path


def _code(lang: str) -> str:
    if lang not in TARGET_LANGS and lang != "en":
        raise ConfigError(f"unknown fictional-data language {lang!r}; expected one of {['en', *TARGET_LANGS]}")
    return lang.upper()


def parse_tags(answer: str, path, line) -> dict:
    tags = dict(TAG_RE.findall(answer))
    if set(tags) != {"continent", "city", "type"} or tags["type"] not in ("0", "1"):
        raise DataError(path, f"answer tags {answer!r} do not parse; expected "
                              "[[continent:…]][[city:…]][[type:0|1]]", line=line)
    return {"continent": tags["continent"], "city": tags["city"], "type": int(tags["type"])}


def _test_rows(root, lang: str) -> tuple[Path, list[dict]]:
    path = fictional_dir(root) / "test" / "target" / f"test{_code(lang)}.jsonl"
    if not path.exists():
        raise DataError(path, f"missing test file for target language {lang!r}")
    rows = read_jsonl(path, required=("prompt", "answer"))
    return path, [{**parse_tags(r["answer"], path, r["_line"]), "prompt": r["prompt"], "_line": r["_line"]}
                  for r in rows]


def load_places(root, lang: str) -> tuple[list[Place], list[dict]]:
    """The 400 places with English and ``lang`` names, continents, types and test questions, and the
    Translate test. Files are aligned line by line; every alignment is verified."""
    en_path, en = _test_rows(root, "en")
    l_path, tl = _test_rows(root, lang)
    if len(en) != len(tl):
        raise DataError(l_path, f"{len(tl)} questions but {en_path.name} has {len(en)}; expected aligned files")
    tr_path = fictional_dir(root) / "test" / "Translate" / f"translate{_code(lang)}.jsonl"
    if not tr_path.exists():
        raise DataError(tr_path, f"missing Translate test for target language {lang!r}")
    tr = read_jsonl(tr_path, required=("input", "answer", "prompt"))
    names = {r["input"]: r["answer"] for r in tr}
    places = []
    for k, (e, t) in enumerate(zip(en, tl)):
        if e["type"] != t["type"]:
            raise DataError(l_path, f"type {t['type']} differs from {en_path.name}'s {e['type']} for the same "
                                    "line; expected aligned files", line=t["_line"])
        for what in ("city", "continent"):
            if names.get(e[what]) != t[what]:
                raise DataError(l_path, f"{what} {t[what]!r} is not the Translate test's name for {e[what]!r} "
                                        f"({names.get(e[what])!r}); expected aligned files", line=t["_line"])
        places.append(Place(k, e["type"], {"en": e["city"], lang: t["city"]},
                            {"en": e["continent"], lang: t["continent"]}, {"en": e["prompt"], lang: t["prompt"]}))
    translations = [{"en": r["input"], "target": r["answer"], "prompt": r["prompt"]} for r in tr]
    return places, translations


def _longest_name(text: str, names: list[str]) -> str | None:
    hits = [n for n in names if n in text]
    return max(hits, key=len) if hits else None


def _outside(text: str, name: str, fn):
    """Apply ``fn`` to ``text`` with ``name`` masked out (so placeholders inside names survive)."""
    parts = text.split(name)
    return name.join(fn(p) for p in parts)


def _masked(text: str, name: str) -> str:
    """``text`` with ``name`` replaced by a separator: searched for placeholders outside the name."""
    return text.replace(name, "\0")


def load_train(root, lang: str) -> Fictional:
    """Read and classify ``train/<L>.json``; repair placeholder continent names (see module doc)."""
    if lang == "en":
        raise ConfigError("the fictional training files are per target language; 'en' is not one")
    places, translations = load_places(root, lang)
    path = fictional_dir(root) / "train" / f"{_code(lang)}.json"
    if not path.exists():
        raise DataError(path, f"missing training file for target language {lang!r}")
    raw = read_jsonl(path, required=("prompt", "input", "answer"))
    for r in raw:
        if not all(isinstance(r[k], str) for k in ("prompt", "input", "answer")):
            raise DataError(path, "prompt, input and answer must be strings", line=r["_line"])
    by_en = {p.names["en"]: p for p in places}
    by_l = {p.names[lang]: p for p in places}
    shared = {n for n, k in Counter(p.names[lang] for p in places).items() if k > 1}
    ambiguous = sorted(p.names["en"] for p in places if p.names[lang] in shared)
    continent_en = {p.continents["en"]: p.continents[lang] for p in places}
    known_en = set(by_en) | set(continent_en)
    en_names, l_names = sorted(by_en), sorted(by_l)
    rows, deferred = [], []
    for r in raw:
        if r["input"].strip():
            rows.append({"kind": "translation", "key": r["answer"], **_fields(r)})
            continue
        en_name, l_name = _longest_name(r["prompt"], en_names), _longest_name(r["prompt"], l_names)
        if en_name is None and l_name is None:
            raise DataError(path, f"question names no known place: {r['prompt']!r}; expected an English or "
                                  f"{lang} place name from the test files", line=r["_line"])
        if en_name is not None and en_name == l_name:   # same spelling in both languages ("Omniscape")
            deferred.append((r, en_name))
            continue
        if l_name is None or (en_name is not None and len(en_name) > len(l_name)):
            rows.append(_qa_row("en_qa", by_en[en_name].names["en"], r))
        elif l_name in shared:   # which of the places sharing this name? unknowable
            rows.append({"kind": "ambiguous", "key": None, **_fields(r)})
        else:
            rows.append(_qa_row("target_qa", by_l[l_name].names["en"], r))
    # a name spelled alike in both languages: the question's template tells the language
    en_templates = {r["prompt"].replace(r["key"], "{}") for r in rows if r["kind"] == "en_qa"}
    for r, name in deferred:
        kind = "en_qa" if r["prompt"].replace(name, "{}") in en_templates else "target_qa"
        rows.append(_qa_row(kind, by_en[name].names["en"], r))
    rows.sort(key=lambda r: r["_line"])
    placeholders = sorted({r["key"] for r in rows if r["kind"] == "translation"} - known_en)
    repairs = _repair(path, lang, rows, places, by_en, placeholders) if placeholders else {}
    unknown = [r for r in rows if r["kind"] == "translation" and r["key"] not in known_en]
    if unknown:
        raise DataError(path, f"translation pair {unknown[0]['input']!r} -> {unknown[0]['key']!r} names no test "
                              "place or continent", line=unknown[0]["_line"])
    for r in rows:
        if r["kind"] in ("en_qa", "target_qa"):
            p = by_en[r["key"]]
            want = p.continents["en" if r["kind"] == "en_qa" else lang]
            if want not in r["answer"]:
                raise DataError(path, f"answer {r['answer']!r} does not name {p.names['en']}'s continent "
                                      f"{want!r}; expected the test files' continent name", line=r["_line"])
    return Fictional(lang, places, translations, rows, repairs, ambiguous)


def _qa_row(kind: str, key: str, r: dict) -> dict:
    return {"kind": kind, "key": key, **_fields(r)}


def _fields(r: dict) -> dict:
    return {"prompt": r["prompt"], "input": r["input"], "answer": r["answer"], "_line": r["_line"]}


def _repair(path, lang, rows, places, by_en, placeholders) -> dict:
    """Replace placeholder continent names by the test names; the mapping is derived from the
    places each placeholder is attached to, and must be unanimous and one-to-one."""
    votes = defaultdict(Counter)
    word = {ph: re.compile(rf"\b{re.escape(ph)}\b") for ph in placeholders}
    for r in rows:
        if r["kind"] == "en_qa":
            p = by_en[r["key"]]
            for ph in placeholders:
                if word[ph].search(_masked(r["answer"], p.names["en"])):
                    votes[ph][p.continents["en"]] += 1
    mapping = {}
    for ph in placeholders:
        if len(votes[ph]) != 1:
            raise DataError(path, f"placeholder continent {ph!r} is attached to places of "
                                  f"{len(votes[ph])} continents {dict(votes[ph])}; cannot repair")
        mapping[ph] = next(iter(votes[ph]))
    if len(set(mapping.values())) != len(mapping):
        raise DataError(path, f"placeholders map to the same continent more than once: {mapping}; cannot repair")
    # placeholders are the English sides of translation pairs, so each has its target-language form
    target_of = {r["key"]: r["input"] for r in rows if r["kind"] == "translation" and r["key"] in mapping}
    cont_l = {p.continents["en"]: p.continents[lang] for p in places}
    # target-language forms, (form, continent): placeholder + suffix first, the bare placeholder last
    forms = [(target_of[ph] + suf, cont_l[t]) for ph, t in mapping.items() for suf in PLACEHOLDER_SUFFIX.get(lang, ())]
    forms += [(target_of[ph], cont_l[t]) for ph, t in mapping.items()]
    counts = Counter()
    for r in rows:
        before = r["answer"]
        if r["kind"] == "translation" and r["key"] in mapping:
            true_en = mapping[r["key"]]
            r["key"], r["answer"], r["input"] = true_en, true_en, cont_l[true_en]
        elif r["kind"] == "en_qa":   # one placeholder per answer: replace the first found, then stop
            name = by_en[r["key"]].names["en"]
            ph = next((ph for ph in mapping if word[ph].search(_masked(r["answer"], name))), None)
            if ph is not None:
                r["answer"] = _outside(r["answer"], name, lambda s, ph=ph: word[ph].sub(mapping[ph], s))
        elif r["kind"] == "target_qa":
            name = by_en[r["key"]].names[lang]
            hit = next(((f, t) for f, t in forms if f in _masked(r["answer"], name)), None)
            if hit is not None:
                r["answer"] = _outside(r["answer"], name, lambda s, f=hit[0], t=hit[1]: s.replace(f, t))
        if r["answer"] != before:
            counts[r["kind"]] += 1
    return {"file": str(path), "mapping": mapping, "rows_changed": dict(counts)}


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
    """Accuracy per (target_lang, split, asked, type) with bootstrap CIs over items."""
    rows = []
    for (tl, split, asked, t), g in items.groupby(["target_lang", "split", "asked", "type"], sort=True):
        c = g["correct"].to_numpy(float)
        w = bootstrap_weights(len(c), n_boot, seed, f"cd/{tl}/{split}/{asked}/{t}")
        lo, hi = percentile_ci((w @ c)[None, :] / len(c))
        rows.append({"target_lang": tl, "split": split, "asked": asked, "type": int(t), "n": len(c),
                     "correct": int(c.sum()), "accuracy": c.mean(), "accuracy_lo": lo[0], "accuracy_hi": hi[0]})
    return pd.DataFrame(rows)


def gates(acc: pd.DataFrame, threshold: float = GATE) -> pd.DataFrame:
    """The authors' four gate checks per target language, passed or not."""
    rows = []
    for tl, g in acc.groupby("target_lang", sort=True):
        def get(split, asked, types):
            sub = g[(g["split"] == split) & (g["asked"] == asked) & g["type"].isin(types)]
            return sub["correct"].sum() / sub["n"].sum() if sub["n"].sum() else float("nan")
        for name, value in (("Translate", get("translate", tl, (-1, 0, 1))), ("en type 0", get("qa", "en", (0,))),
                            ("en type 1", get("qa", "en", (1,))), (f"{tl} type 0", get("qa", tl, (0,)))):
            rows.append({"target_lang": tl, "check": name, "accuracy": value, "threshold": threshold,
                         "passed": bool(value >= threshold)})
    return pd.DataFrame(rows)


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


def xrr_table(items: pd.DataFrame, n_boot: int, seed: int, chance: float) -> pd.DataFrame:
    """Conductivity per target language L, with paired bootstrap CIs over places (the same resampled
    type-1 places in both languages) and the continent names' spelling similarity
    (:func:`name_similarity`). Three rows (``metric``):

    * ``xrr`` — the default, the authors' group's published transfer ratio
      (:func:`clika_utils.metrics.transfer`, s = en, t = L, over the type-1 places, A_r = ``chance``):
      (|C_en ∩ C_L| / |C_en| - A_r) / (1 - A_r). Undefined (NaN, reason in ``note``) when no type-1
      place is answered right in English; negative below chance.
    * ``xrr_ratio`` — this project's earlier variant: acc_L(type 1) / acc_en(type 1), neither
      item-conditioned nor chance-corrected.
    * ``type1_over_type0`` — acc_L(type 1) / acc_L(type 0): English-only facts relative to facts taught in L.
    """
    rows = []
    qa = items[items["split"] == "qa"]
    for tl, g in qa.groupby("target_lang", sort=True):
        def vec(asked, t):
            sub = g[(g["asked"] == asked) & (g["type"] == t)].sort_values("place")
            return sub["place"].tolist(), sub["correct"].to_numpy(float)
        p_en1, en1 = vec("en", 1)
        p_l1, l1 = vec(tl, 1)
        _, l0 = vec(tl, 0)
        if p_en1 != p_l1 or not len(l1) or not len(l0):
            raise ConfigError(f"{tl}: type-1 places differ between English and {tl}, or a type has no items")
        w1 = bootstrap_weights(len(l1), n_boot, seed, f"xrr/{tl}/1")
        w0 = bootstrap_weights(len(l0), n_boot, seed, f"xrr/{tl}/0")
        a_en1, a_l1, a_l0 = (w1 @ en1) / len(en1), (w1 @ l1) / len(l1), (w0 @ l0) / len(l0)
        with np.errstate(divide="ignore", invalid="ignore"):
            both_b = w1 @ (en1 * l1)
            transfer_b = chance_correct(np.where(a_en1 > 0, both_b / (w1 @ en1), np.nan), chance)
            ratio_b = np.where(a_en1 > 0, a_l1 / a_en1, np.nan)
            rel_b = np.where(a_l0 > 0, a_l1 / a_l0, np.nan)
        acc_en1, acc_l1, acc_l0 = en1.mean(), l1.mean(), l0.mean()
        n_en1 = int(en1.sum())
        for metric, value, boot, note in (
                ("xrr", float(transfer(en1, l1, chance)), transfer_b, transfer_note(n_en1)),
                ("xrr_ratio", acc_l1 / acc_en1 if acc_en1 else np.nan, ratio_b,
                 "" if acc_en1 else "undefined: English type-1 accuracy is 0"),
                ("type1_over_type0", acc_l1 / acc_l0 if acc_l0 else np.nan, rel_b,
                 "" if acc_l0 else f"undefined: {tl} type-0 accuracy is 0")):
            lo, hi = percentile_ci(boot[None, :])
            rows.append({"target_lang": tl, "metric": metric, "value": value, "lo": lo[0], "hi": hi[0],
                         "acc_en_type1": acc_en1, "acc_l_type1": acc_l1, "acc_l_type0": acc_l0,
                         "n_type1": len(l1), "n_type0": len(l0), "n_en_type1_correct": n_en1,
                         "n_both_type1_correct": int((en1 * l1).sum()), "chance": chance,
                         "name_similarity": name_similarity(items, tl), "note": note})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# the experiment


def run(model: str, data_dir, results_dir, models_dir, *, target_langs: list[str], n_continents: int,
        places_per_type: int, n_paraphrases: int, train_config: dict, max_new_tokens: int = 24,
        batch_size: int = 16, n_boot: int = 1000, seed: int = 0, num_processes: int = 1,
        parameters: dict | None = None, progress: bool = True) -> dict[str, Path]:
    """Per target language: build the training set, fine-tune (or reuse a finished adapter), generate
    answers, judge; then write items, accuracy, gates, XRR, training and repairs tables."""
    from .evaluate import Engine
    from .train import TrainConfig, load_trained, run_job, write_examples

    results_dir, models_dir = Path(results_dir), Path(models_dir)
    cfg = TrainConfig.from_dict({**train_config, "seed": seed})
    all_items, training, curves, repairs, inputs = [], [], [], [], []
    for lang in target_langs:
        _code(lang)
        if lang == "en":
            raise ConfigError("target_langs: 'en' is the teaching language, not a target")
        data = load_train(data_dir, lang)
        chosen = select_places(data.places, n_continents, places_per_type, exclude=data.ambiguous)
        examples = training_examples(data, chosen, n_paraphrases)
        data_file = write_examples(models_dir / f"{lang}.data.jsonl", examples)   # beside the job, as variants do
        inputs.append(fictional_dir(data_dir) / "train" / f"{_code(lang)}.json")
        job = models_dir / lang
        run_job(model, data_file, job, cfg, num_processes=num_processes, progress=progress)
        meta = json.loads((job / "train.json").read_text(encoding="utf-8"))
        training.append({"target_lang": lang, "examples": len(examples), "places": len(chosen),
                         "ambiguous_places_excluded": len(data.ambiguous),
                         "ambiguous_rows_dropped": sum(r["kind"] == "ambiguous" for r in data.train_rows),
                         "steps": int(meta["steps"]), "final_loss": float(meta["final_loss"]),
                         "global_batch": int(meta["reports"]["global_batch"]), "method": cfg.method})
        curves += [{"target_lang": lang, "step": int(m["step"]), "loss": m["loss"]}
                   for m in pd.read_csv(job / "metrics.csv").to_dict("records")]
        if data.repairs:
            for ph, true in data.repairs["mapping"].items():
                repairs.append({"target_lang": lang, "placeholder": ph, "continent": true,
                                **{f"rows_{k}": v for k, v in sorted(data.repairs["rows_changed"].items())}})
        lm = load_trained(job)
        engine = Engine(lm, batch_size=batch_size)
        items = eval_items(data, chosen)
        gens = engine.generate([it["prompt"] for it in items], max_new_tokens)
        for it, g in zip(items, gens):
            all_items.append({"target_lang": lang, **{k: v for k, v in it.items() if k != "prompt"},
                              "generation": g.strip(), "correct": judge(g, it["expected"])})
        inputs += [fictional_dir(data_dir) / "test" / "target" / f"test{_code(lang)}.jsonl",
                   fictional_dir(data_dir) / "test" / "Translate" / f"translate{_code(lang)}.jsonl"]
        del lm, engine
    inputs.append(fictional_dir(data_dir) / "test" / "target" / "testEN.jsonl")
    items = pd.DataFrame(all_items)
    acc = accuracy_table(items, n_boot, seed)
    tables = {"items.csv": items, "accuracy.csv": acc, "gates.csv": gates(acc), "xrr.csv": xrr_table(items, n_boot, seed, chance_level(n_continents)),
              "training.csv": pd.DataFrame(training), "curves.csv": pd.DataFrame(curves),
              "repairs.csv": pd.DataFrame(repairs, columns=["target_lang", "placeholder", "continent"]
                                          if not repairs else None)}
    params = {**(parameters or {}), "model": model, "target_langs": list(target_langs), "n_continents": n_continents,
              "places_per_type": places_per_type, "n_paraphrases": n_paraphrases, "train_config": train_config,
              "max_new_tokens": max_new_tokens, "n_boot": n_boot}
    hashes = input_hashes(inputs, root=data_dir)
    return write_result_set(results_dir, tables, parameters=params, seed=seed, inputs=hashes)


def load(results_dir) -> dict[str, pd.DataFrame]:
    results_dir = Path(results_dir)
    return {name.removesuffix(".csv"): pd.read_csv(results_dir / name) for name in RESULT_FILES}


def findings(tables: dict[str, pd.DataFrame], n_continents: int) -> list[str]:
    """Plain-language reading of the gates and XRR, computed from the tables."""
    out = []
    chance = chance_level(n_continents)
    g, x = tables["gates"], tables["xrr"]
    for tl, sub in g.groupby("target_lang", sort=True):
        failed = sub[~sub["passed"]]
        gate_txt = "all four gates passed" if failed.empty else \
            "gates NOT passed: " + ", ".join(f"{r.check} {r.accuracy:.0%}" for r in failed.itertuples())
        xr = x[(x["target_lang"] == tl) & (x["metric"] == "xrr")].iloc[0]
        ratio = x[(x["target_lang"] == tl) & (x["metric"] == "xrr_ratio")]
        verdict = (f"not measurable ({xr.note})" if not np.isfinite(xr.value) else
                   "low conductivity (upper 95% bound < 0.5)" if xr.hi < 0.5 else
                   "high conductivity (lower 95% bound >= 0.5)" if xr.lo >= 0.5 else "unclear (the CI spans 0.5)")
        value = (f"XRR = {xr.value:.2f} [{xr.lo:.2f}, {xr.hi:.2f}]" if np.isfinite(xr.value) else "XRR undefined")
        ratio_txt = (f" (ratio variant acc_{tl}/acc_en {ratio.value.iloc[0]:.2f})"
                     if len(ratio) and np.isfinite(ratio.value.iloc[0]) else "")
        out.append(f"**{tl}**: {gate_txt}. Type 1 (taught in English only): English {xr.acc_en_type1:.0%}, "
                   f"{tl} {xr.acc_l_type1:.0%} (a random trained continent: {chance:.0%}); of the "
                   f"{int(xr.n_en_type1_correct)} places answered right in English, {int(xr.n_both_type1_correct)} "
                   f"are also right in {tl}: {value}{ratio_txt} — {verdict}; {tl} type 0 (taught in {tl}) "
                   f"{xr.acc_l_type0:.0%}; continent names' spelling similarity en/{tl} {xr.name_similarity:.2f}.")
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
