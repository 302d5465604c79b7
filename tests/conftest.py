"""Shared fixtures: a tiny CLiKA tree with the real layout's quirks, and the real data home."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clika_utils.models import build_tiny_model, load_model
from clika_utils.prompts import Item, build_prompt

# Folder names as the official tree spells them: x_csqa uses <LANG>_trans (lower case for ar/he),
# x_copa upper case for some, lower case for others; x_geo / x_name plain lower case.
FOLDER = {
    "x_csqa": {"en": "en", "zh": "ZH_trans", "de": "DE_trans", "he": "he_trans"},
    "x_copa": {"en": "en", "zh": "zh", "de": "DE", "he": "he"},
    "x_geo": {"en": "en", "zh": "zh", "de": "de", "he": "he"},
    "x_name": {"en": "en", "zh": "zh", "de": "de", "he": "he"},
}
LETTERS = {"x_csqa": "ABCDE", "x_copa": "AB", "x_geo": "ABCD", "x_name": "ABCD"}


def write_jsonl(path: Path, rows, ascii_escapes: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=ascii_escapes) + "\n" for r in rows), encoding="utf-8")
    return path


def result_name(system: str) -> str:
    return "chatgpt_res.jsonl" if system == "chatgpt" else f"{system}_res_bf16_add_simple_example.jsonl"


def make_tree(root: Path, answers: dict, labels: dict, langs=("en", "zh", "de", "he"), with_input=False) -> Path:
    """answers[system][task][lang] = list of res strings; labels[task] = gold letters.

    Writes every task folder (even for languages absent from ``answers``), model-input files and a
    ``chatgpt_res_visual.jsonl`` dump that must be ignored."""
    for task, gold in labels.items():
        for lang in langs:
            folder = root / task / FOLDER[task][lang]
            folder.mkdir(parents=True, exist_ok=True)
            write_jsonl(root / task / f"{task}_{FOLDER[task][lang]}_model_input.jsonl",
                        [{"input": f"Q{i} ({lang}) 问题\nAnswer:", "label": g} for i, g in enumerate(gold)],
                        ascii_escapes=True)
            (folder / "chatgpt_res_visual.jsonl").write_text("id: 0 ; input: not json\n", encoding="utf-8")
    for system, tasks in answers.items():
        for task, by_lang in tasks.items():
            for lang, res in by_lang.items():
                rows = [{"id": i, "res": r, "label": labels[task][i], "uuid": 100 + i}
                        | ({"input": f"Q{i} 问题"} if with_input else {}) for i, r in enumerate(res)]
                write_jsonl(root / task / FOLDER[task][lang] / result_name(system), rows)
    return root


@pytest.fixture
def tiny_labels():
    return {"x_csqa": list("ABCDE"), "x_copa": list("ABAB"), "x_geo": list("ABCD"), "x_name": list("DCBA")}


@pytest.fixture
def tiny_tree(tmp_path, tiny_labels):
    """Two systems, four tasks, four languages; hand-checkable answers."""
    def sys_answers(right_en, right_other):
        out = {}
        for task, gold in tiny_labels.items():
            out[task] = {}
            for lang in ("en", "zh", "de", "he"):
                right = right_en if lang == "en" else right_other
                out[task][lang] = [g + "." if i in right else "" for i, g in enumerate(gold)]
        return out
    answers = {"sysA": sys_answers({0, 1, 2}, {0, 3}), "chatgpt": sys_answers({0, 1, 2, 3}, {0, 1, 2, 3})}
    return make_tree(tmp_path / "clika", answers, tiny_labels)


def _real_data_home() -> Path | None:
    raw = os.environ.get("CLIKA_DATA_HOME")
    return Path(raw) if raw and (Path(raw) / "clika").is_dir() else None


@pytest.fixture(scope="session")
def real_clika() -> Path:
    home = _real_data_home()
    if home is None:
        msg = "real data not found: set CLIKA_DATA_HOME to a folder holding clika/"
        if os.environ.get("CLIKA_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return home / "clika"


# --- a tiny from-config model and a CLiKA tree with source items (live evaluation, bad-input tests) ---

@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", seed=1)


@pytest.fixture(scope="module")
def tiny(tiny_path):
    return load_model(str(tiny_path), dtype="float32")


@pytest.fixture
def item_tree(tmp_path):
    """A CLiKA tree with source items and model inputs for x_geo and x_copa in en and zh."""
    root = tmp_path / "clika"
    geo = [Item(i, q, opts, lab) for i, (q, opts, lab) in enumerate([
        ("What administrative division of Egypt is Alexandria in?", ("Red Sea", "Alexandria", "Cairo", "Dubai"), "B"),
        ("亚历山大港位于埃及的哪个行政区划？", ("红海省", "亚历山大省", "开罗省", "迪拜酋长国"), "B"),
        ("In what year was Cleopatra born?", ("1799", "1523", "1876", "69 BC"), "D"),
        ("Where is Dammam?", ("Eastern Province", "Abu Dhabi", "North Sinai", "Al-Jowf"), "A"),
        ("Which one?", ("x", "y", "z", "w"), "C")])]
    copa = [Item(i, p, opts, lab, kind) for i, (p, opts, lab, kind) in enumerate([
        ("The item was packaged in bubble wrap.", ("It was fragile.", "It was small."), "A", "cause"),
        ("I emptied my pockets.", ("I retrieved a ticket stub.", "I found a weapon."), "A", "effect"),
        ("该物品用气泡包装纸包着。", ("它很易碎。", "它很小。"), "A", "cause")])]
    for lang, folder in (("en", "en"), ("zh", "zh")):
        d = root / "x_geo" / folder
        d.mkdir(parents=True)
        (d / f"{lang}_geo_data.jsonl").write_text("".join(json.dumps(
            {"id": it.item_id, "questions": it.question, "answers": list(it.options), "label": "ABCD".index(it.label)},
            ensure_ascii=False) + "\n" for it in geo), encoding="utf-8")
        (root / "x_geo" / f"x_geo_{folder}_model_input.jsonl").write_text("".join(json.dumps(
            {"input": build_prompt("x_geo", it), "label": it.label}) + "\n" for it in geo), encoding="utf-8")
        d = root / "x_copa" / folder
        d.mkdir(parents=True)
        (d / "test.jsonl").write_text("".join(json.dumps(
            {"id": 501 + it.item_id, "premise": it.question, "question": it.kind, "choice1": it.options[0],
             "choice2": it.options[1], "label": "AB".index(it.label)}, ensure_ascii=False) + "\n" for it in copa),
            encoding="utf-8")
        (root / "x_copa" / f"x_copa_{folder}_model_input.jsonl").write_text("".join(json.dumps(
            {"input": build_prompt("x_copa", it), "label": it.label}) + "\n" for it in copa), encoding="utf-8")
    return root
