"""CLiKA's fictional data (the Conductivity level): reading, aligning and checking it.

Data (``<clika>/fictional/``): 20 invented continents x 20 invented places. For a target language L,
``train/<L>.json`` (JSON Lines despite the name) teaches, 10 paraphrases each:

* English QA for all 400 places ("Which continent is X located in?" -> "... Mythosia."),
* L-language QA for the 200 **type 0** places only,
* name-translation pairs L -> English for the 400 places and 20 continents.

``test/target/test<L>.jsonl`` asks every place in L (tags ``[[continent:…]][[city:…]][[type:…]]``),
``test/Translate/translate<L>.jsonl`` asks for the 420 names in L. The authors' protocol: after
fine-tuning, the model must reach >= 90 % on Translate, English type 0 and type 1, and L type 0 (the
**gates**); only then is L **type 1** — facts taught in English only — the conductivity test.

**train/ZH.json is broken** (as the data README says): it names the continents with 20 placeholders
(English "mountain", "river", …; Chinese "山洲", "江洲", …; translation pairs 山 -> mountain) instead
of the names the tests ask for (Mythosia / 神话之地, …). :func:`load_train` detects such
placeholders (translation pairs whose English side is no test name), derives each placeholder's
continent from the places it is attached to (unanimous and one-to-one, else an error), and replaces
it — English word, Chinese placeholder + 洲, and the translation pair — with the test files' names.
The counts of rows changed are returned and written to the results.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, DataError
from .io import read_jsonl

TARGET_LANGS = ("ar", "de", "fr", "he", "it", "ja", "pl", "ru", "zh")
TAG_RE = re.compile(r"\[\[(continent|city|type):(.*?)\]\]")
PLACEHOLDER_SUFFIX = {"zh": ("洲",)}   #: the broken ZH file writes a Chinese placeholder + 洲 ("山洲")


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


def file_code(lang: str) -> str:
    """The upper-case language code the fictional files are named by (``ZH`` for zh)."""
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
    path = fictional_dir(root) / "test" / "target" / f"test{file_code(lang)}.jsonl"
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
    tr_path = fictional_dir(root) / "test" / "Translate" / f"translate{file_code(lang)}.jsonl"
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
    path = fictional_dir(root) / "train" / f"{file_code(lang)}.json"
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
