"""Loaders for the official CLiKA data layout (github.com/RiverGao/CLiKA, commit 51059fe).

Layout: ``<clika>/<task>/<lang folder>/<system>_res[_<variant>].jsonl`` result files, one per
evaluated system; ``<clika>/<task>/<task>_<lang folder>_model_input.jsonl`` prompts for open models.

Result lines: ``{"id": int, "res": str, "label": "A".."E", "uuid": ..., "input": str (optional)}``.
Open-model files carry the variant ``bf16_add_simple_example``; ChatGPT's ``chatgpt_res.jsonl`` has
no variant and is the file the official scripts read. Other ChatGPT variants (``without_uuid``,
``fixed_en_prompt``) are alternatives, and ``chatgpt_res_visual.jsonl`` is a human-readable dump
(not JSON Lines); none of them is scored unless asked for.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, DataError
from .io import read_jsonl
from .langs import LANGS, lang_from_folder


@dataclass(frozen=True)
class TaskSpec:
    """One CLiKA test stream."""

    name: str
    letters: str          #: option letters, in order
    level: str            #: "basic" (commonsense) or "factual"
    official_ref: float   #: ChatGPT's English accuracy used by the official normalisation script
    description: str

    @property
    def chance(self) -> float:
        """Accuracy of uniform guessing (the official script's chance constant)."""
        return 1.0 / len(self.letters)


TASKS: dict[str, TaskSpec] = {
    "x_csqa": TaskSpec("x_csqa", "ABCDE", "basic", 0.746, "X-CSQA: 1,000 five-option commonsense questions"),
    "x_copa": TaskSpec("x_copa", "AB", "basic", 0.964, "X-COPA: 500 two-option cause/effect questions"),
    "x_geo": TaskSpec("x_geo", "ABCD", "factual", 0.970, "X-Geo: 200 four-option 'which region is city X in'"),
    "x_name": TaskSpec("x_name", "ABCD", "factual", 0.922, "X-Name: 180 four-option birth/death-year questions"),
}

PRIMARY_VARIANTS = ("", "bf16_add_simple_example")
NOT_JSONL_VARIANTS = ("visual",)
_RESULT_RE = re.compile(r"^(?P<system>.+?)_res(?:_(?P<variant>.+))?\.jsonl$")


def check_tasks(tasks) -> tuple[str, ...]:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ConfigError(f"unknown task(s) {unknown}; expected some of {list(TASKS)}")
    return tuple(t for t in TASKS if t in set(tasks))


@dataclass(frozen=True)
class ResultFile:
    task: str
    lang: str
    system: str
    variant: str
    path: Path


@dataclass
class Inventory:
    """What :func:`discover` found under a CLiKA folder."""

    root: Path
    lang_folders: dict[str, dict[str, Path]]   #: task -> lang -> folder
    files: list[ResultFile]                     #: the primary result file of each (task, lang, system)
    alternatives: list[ResultFile] = field(default_factory=list)  #: other variants, not scored
    other_files: list[Path] = field(default_factory=list)         #: inputs and source items

    @property
    def systems(self) -> list[str]:
        return sorted({f.system for f in self.files})

    def incomplete_systems(self) -> dict[str, list[tuple[str, str]]]:
        """system -> the (task, lang) folders where it has no result file."""
        have = {(f.system, f.task, f.lang) for f in self.files}
        missing: dict[str, list[tuple[str, str]]] = {}
        for system in self.systems:
            for task, folders in self.lang_folders.items():
                for lang in folders:
                    if (system, task, lang) not in have:
                        missing.setdefault(system, []).append((task, lang))
        return missing


def parse_result_name(name: str) -> tuple[str, str] | None:
    """``llama2_13b_res_bf16_add_simple_example.jsonl`` -> ("llama2_13b", "bf16_add_simple_example")."""
    m = _RESULT_RE.match(name)
    if not m:
        return None
    return m.group("system"), m.group("variant") or ""


def lang_folders(task_dir: Path, langs) -> dict[str, Path]:
    """Map each wanted language to its folder in ``task_dir``; a missing or doubled one is an error."""
    found: dict[str, Path] = {}
    for child in sorted(task_dir.iterdir()):
        if not child.is_dir():
            continue
        lang = lang_from_folder(child.name)
        if lang is None:
            raise DataError(child, f"unexpected folder in {task_dir.name}/; expected language folders "
                                   f"such as en, zh, DE or ZH_trans (languages {list(LANGS)})")
        if lang in found:
            raise DataError(child, f"two folders for language {lang!r}: {found[lang].name} and {child.name}")
        found[lang] = child
    missing = [lang for lang in langs if lang not in found]
    if missing:
        raise DataError(task_dir, f"missing language folder(s) for {missing}; expected one folder per "
                                  f"language, named like {missing[0]}, {missing[0].upper()} or "
                                  f"{missing[0].upper()}_trans")
    return {lang: found[lang] for lang in LANGS if lang in langs}


def discover(root: str | Path, tasks=None, langs=None, systems=None) -> Inventory:
    """Find the result files under a CLiKA folder (only the given tasks/langs/systems when set)."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"CLiKA data folder {root} does not exist")
    tasks = check_tasks(tasks) if tasks else tuple(TASKS)
    langs = tuple(langs) if langs else LANGS
    wanted = set(systems) if systems else None
    folders: dict[str, dict[str, Path]] = {}
    files, alternatives, others = [], [], []
    for task in tasks:
        task_dir = root / task
        if not task_dir.is_dir():
            raise DataError(task_dir, f"missing task folder; expected {task}/ under {root}")
        folders[task] = lang_folders(task_dir, langs)
        for lang, folder in folders[task].items():
            primary: dict[str, ResultFile] = {}
            for path in sorted(folder.iterdir()):
                parsed = parse_result_name(path.name) if path.is_file() else None
                if parsed is None:
                    others.append(path)
                    continue
                system, variant = parsed
                if wanted is not None and system not in wanted:
                    continue
                rf = ResultFile(task, lang, system, variant, path)
                if variant not in PRIMARY_VARIANTS:
                    alternatives.append(rf)
                    continue
                if system in primary:
                    raise DataError(path, f"two result files for system {system!r} in {folder}: "
                                          f"{primary[system].path.name} and {path.name}; keep one")
                primary[system] = rf
            files.extend(primary[s] for s in sorted(primary))
    if wanted is not None:
        absent = sorted(wanted - {f.system for f in files})
        if absent:
            raise ConfigError(f"system(s) {absent} have no result file under {root}")
    return Inventory(root, folders, files, alternatives, others)


@dataclass
class ResultTable:
    """One result file, validated: parallel lists ordered by item id."""

    file: ResultFile
    ids: list[int]
    labels: list[str]
    res: list[str]
    uuids: list  # None where the file has no uuid
    scores: list | None = None  #: per item, one score per option (live letter/text runs); None when any item lacks them


def load_result_file(rf: ResultFile) -> ResultTable:
    """Read and validate one result file (see module docstring for the format)."""
    if rf.variant in NOT_JSONL_VARIANTS:
        raise DataError(rf.path, "this is a human-readable dump, not JSON Lines; use chatgpt_res.jsonl")
    letters = TASKS[rf.task].letters
    rows = read_jsonl(rf.path, required=("id", "res", "label"))
    seen: dict[int, int] = {}
    for row in rows:
        line, item_id, res, label = row["_line"], row["id"], row["res"], row["label"]
        if not isinstance(item_id, int) or isinstance(item_id, bool):
            raise DataError(rf.path, f"'id' is {item_id!r}; expected an integer item id", line=line)
        if item_id in seen:
            raise DataError(rf.path, f"item id {item_id} repeats line {seen[item_id]}; expected unique ids",
                            line=line)
        seen[item_id] = line
        if not isinstance(res, str):
            raise DataError(rf.path, f"'res' is {type(res).__name__}; expected the generated text as a "
                                     "string (an empty string is a valid, wrong answer)", line=line)
        if not isinstance(label, str) or label not in letters:
            raise DataError(rf.path, f"label {label!r} is not one of the options {', '.join(letters)} "
                                     f"of {rf.task}", line=line)
        sc = row.get("scores")
        if sc is not None and not (isinstance(sc, list) and len(sc) == len(letters)
                                   and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           and math.isfinite(v) for v in sc)):
            raise DataError(rf.path, f"'scores' is {sc!r}; expected {len(letters)} finite numbers, one per option "
                                     f"{', '.join(letters)}", line=line)
    rows.sort(key=lambda r: r["id"])
    scores = [r["scores"] for r in rows] if rows and all(r.get("scores") is not None for r in rows) else None
    return ResultTable(rf, [r["id"] for r in rows], [r["label"] for r in rows],
                       [r["res"] for r in rows], [r.get("uuid") for r in rows], scores)


def check_aligned(ref: ResultTable, other: ResultTable) -> None:
    """Items align across files of one task iff they have the same ids, and per id the same gold
    label and (where both files carry one) the same uuid. Raises DataError naming both files."""
    if ref.ids != other.ids:
        a, b = set(ref.ids), set(other.ids)
        extra, missing = sorted(b - a)[:5], sorted(a - b)[:5]
        raise DataError(other.file.path, f"item ids do not align with {ref.file.path}: "
                                         f"extra ids {extra}, missing ids {missing}; expected the same items "
                                         "in every language and system")
    for i, item_id in enumerate(ref.ids):
        if ref.labels[i] != other.labels[i]:
            raise DataError(other.file.path, f"item {item_id} has label {other.labels[i]!r} but "
                                             f"{ref.file.path} has {ref.labels[i]!r}; expected aligned items")
        u, v = ref.uuids[i], other.uuids[i]
        if u is not None and v is not None and u != v:
            raise DataError(other.file.path, f"item {item_id} has uuid {v!r} but {ref.file.path} has {u!r}; "
                                             "expected aligned items")


def model_input_path(root: str | Path, task: str, folder: Path) -> Path:
    return Path(root) / task / f"{task}_{folder.name}_model_input.jsonl"


def load_model_inputs(root: str | Path, task: str, lang: str) -> list[dict]:
    """The official open-model prompts of one task and language: ``[{"input", "label"}, ...]`` in item order."""
    root = Path(root)
    folder = lang_folders(root / task, (lang,))[lang]
    rows = read_jsonl(model_input_path(root, task, folder), required=("input", "label"))
    letters = TASKS[task].letters
    for row in rows:
        if row["label"] not in letters:
            raise DataError(model_input_path(root, task, folder),
                            f"label {row['label']!r} is not one of {', '.join(letters)}", line=row["_line"])
    return rows
