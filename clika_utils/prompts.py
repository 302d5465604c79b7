"""Prompts for live evaluation.

The official open-model prompts are ``<task>/<task>_<folder>_model_input.jsonl`` (English instruction,
one worked example, the question, "Answer:"); :func:`official_prompts` reads them. :func:`build_prompt`
builds the same prompt from a source item (question + options) so that custom item sets get exactly
the protocol of the stored runs; tests check it reproduces every official prompt byte for byte.
Source items: X-CSQA ``validation.jsonl``, X-COPA ``test.jsonl``, X-Geo ``<lang>_geo_data.jsonl``,
X-Name ``<lang>_name_data_generate.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .data import TASKS, lang_folders, load_model_inputs
from .errors import DataError
from .io import read_jsonl

MC_HEADER = ("The following are multiple choice questions. Please choose the most reasonable one from the "
             "following options.\n")
COPA_HEADER = ("Answer the following multiple choice questions by selecting the correct option according to "
               "the Premise.Please choose the correct one from the two options A and B.\n")
COPA_QUESTION = {"cause": "What was the cause of this?", "effect": "What happened as a result?"}


@dataclass(frozen=True)
class Item:
    """One multiple-choice item: question text (for X-COPA: the premise), options, gold letter."""

    item_id: int
    question: str
    options: tuple[str, ...]
    label: str
    kind: str = ""  # X-COPA: "cause" or "effect"


def _options(letters: str, options) -> str:
    return "".join(f"{letter}. {text}\n" for letter, text in zip(letters, options))


def example_block(task: str) -> str:
    """The worked example that precedes every question (the "2+3=?" one; X-COPA: the dark sky)."""
    if task == "x_copa":
        return ("Premise:The sky turns dark.\nQuestion:What was the cause of this?\nA. It's night.\n"
                "B. It's noon.\nAnswer:A. It's night.\n\n")
    letters = TASKS[task].letters
    opts = ("1", "2", "3", "5", "6")[: len(letters)]
    return f"Question:2+3=?\n{_options(letters, opts)}Answer:D. 5\n"


def build_prompt(task: str, item: Item) -> str:
    """The official open-model prompt of ``item`` (instruction + example + question + "Answer:")."""
    letters = TASKS[task].letters
    if len(item.options) != len(letters):
        raise DataError(None, f"{task} item {item.item_id} has {len(item.options)} options; expected {len(letters)}")
    if task == "x_copa":
        if item.kind not in COPA_QUESTION:
            raise DataError(None, f"x_copa item {item.item_id}: question kind {item.kind!r}; expected cause/effect")
        body = f"Premise:{item.question}\nQuestion:{COPA_QUESTION[item.kind]}\n"
        return COPA_HEADER + example_block(task) + body + _options(letters, item.options) + "Answer:"
    return MC_HEADER + example_block(task) + f"Question:{item.question}\n" + _options(letters, item.options) + "Answer:"


def load_items(root: str | Path, task: str, lang: str) -> list[Item]:
    """The source items of one task and language, in item-id order."""
    root = Path(root)
    folder = lang_folders(root / task, (lang,))[lang]
    letters = TASKS[task].letters
    items = []
    def label(row, path) -> str:
        v = row["label"]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(letters):
            raise DataError(path, f"label {v!r} is not an option index 0..{len(letters) - 1} of {task}", line=row["_line"])
        return letters[v]

    def options(row, path, values) -> tuple:
        if not (isinstance(values, list) and len(values) == len(letters) and all(isinstance(v, str) for v in values)):
            raise DataError(path, f"expected {len(letters)} option strings, got {values!r}", line=row["_line"])
        return tuple(values)

    if task == "x_csqa":
        path = folder / "validation.jsonl"
        for i, row in enumerate(read_jsonl(path, required=("question", "answerKey"))):
            q = row["question"]
            if not (isinstance(q, dict) and isinstance(q.get("stem"), str) and isinstance(q.get("choices"), dict)):
                raise DataError(path, "expected question = {stem, choices: {text: [...]}}", line=row["_line"])
            items.append(Item(i, q["stem"], options(row, path, q["choices"].get("text")), row["answerKey"]))
            if row["answerKey"] not in letters:
                raise DataError(path, f"answerKey {row['answerKey']!r} not among {letters}", line=row["_line"])
    elif task == "x_copa":
        path = folder / "test.jsonl"
        for i, row in enumerate(read_jsonl(path, required=("premise", "question", "choice1", "choice2", "label"))):
            items.append(Item(i, row["premise"], options(row, path, [row["choice1"], row["choice2"]]), label(row, path),
                              row["question"]))
    else:
        stem = "geo_data" if task == "x_geo" else "name_data_generate"
        path = folder / f"{lang}_{stem}.jsonl"
        for i, row in enumerate(read_jsonl(path, required=("questions", "answers", "label"))):
            items.append(Item(i, row["questions"], options(row, path, row["answers"]), label(row, path)))
    return items


def official_prompts(root: str | Path, task: str, lang: str) -> list[tuple[str, str]]:
    """[(prompt, gold letter)] from the official model-input file, in item order."""
    return [(r["input"], r["label"]) for r in load_model_inputs(root, task, lang)]
