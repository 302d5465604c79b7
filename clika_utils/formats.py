"""Training examples and the prompt format they are written in: :class:`Example` (prompt, response),
the Stanford Alpaca template as x-LLaMA uses it (:func:`alpaca_prompt`), and the JSON Lines training
files ``clika train`` reads (:func:`read_examples`: prompt/response, Alpaca instruction/input/output,
or raw text) and the experiments write (:func:`write_examples`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DataError, warn
from .io import read_jsonl, write_text_atomic

ALPACA = {  # the Stanford Alpaca prompt template, as x-LLaMA uses it
    "with_input": ("Below is an instruction that describes a task, paired with an input that provides further "
                   "context. Write a response that appropriately completes the request.\n\n"
                   "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"),
    "no_input": ("Below is an instruction that describes a task. Write a response that appropriately completes "
                 "the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"),
}


def alpaca_prompt(instruction: str, input: str = "") -> str:
    """The Alpaca template with or without the input section (the response follows it directly)."""
    if input and input.strip():
        return ALPACA["with_input"].format(instruction=instruction, input=input)
    return ALPACA["no_input"].format(instruction=instruction)


@dataclass(frozen=True)
class Example:
    """One training example: the loss covers ``response`` (+ EOS) only. ``prompt == ""`` is raw text.
    ``source``: where it came from (``file:line``), for error messages only (not part of the data hash)."""
    prompt: str
    response: str
    source: str = field(default="", compare=False)


FORMATS = {"prompt": ("prompt", "response"), "instruction": ("instruction", "input", "output"), "text": ("text",)}


def read_examples(path: str | Path) -> list[Example]:
    """Training data from JSON Lines: each line ``{"prompt", "response"}``, Alpaca
    ``{"instruction", "input", "output"}`` (formatted with :func:`alpaca_prompt`) or raw ``{"text"}``.
    A line with the fields of two formats is an error (which one was meant?); a file that mixes
    formats across lines is used, with a warning that counts each format."""
    out, counts = [], {}
    for row in read_jsonl(path):
        line = row["_line"]
        kinds = [k for k, keys in FORMATS.items() if any(key in row for key in keys if key != "input")]
        if len(kinds) > 1:
            raise DataError(path, f"fields of {len(kinds)} record formats in one line ({', '.join(kinds)}): expected "
                                  "exactly one of {prompt, response}, {instruction, input, output} or {text}", line=line)
        if not kinds:
            raise DataError(path, "expected {prompt, response}, {instruction, input, output} or {text}", line=line)
        kind = kinds[0]
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "text":
            fields = {"text": row["text"]}
        elif kind == "instruction":
            fields = {"instruction": row["instruction"], "output": row.get("output"), "input": row.get("input", "")}
        else:
            fields = {"prompt": row.get("prompt"), "response": row.get("response")}
        bad = [k for k, v in fields.items() if not isinstance(v, str)]
        if bad:
            raise DataError(path, f"field(s) {bad} missing or not a string", line=line)
        where = f"{path}:{line}"
        if kind == "text":
            ex = Example("", fields["text"], where)
        elif kind == "instruction":
            ex = Example(alpaca_prompt(fields["instruction"], fields["input"]), fields["output"], where)
        else:
            ex = Example(fields["prompt"], fields["response"], where)
        if not ex.response.strip():
            raise DataError(path, "empty response/output/text: nothing to learn from this line", line=line)
        out.append(ex)
    if len(counts) > 1:
        warn(f"{path}: mixes record formats ({', '.join(f'{v} {k}' for k, v in counts.items())} lines); "
             "each is trained as its format says")
    return out


def write_examples(path: str | Path, examples: list[Example]) -> Path:
    return write_text_atomic(path, "".join(json.dumps({"prompt": e.prompt, "response": e.response},
                                                      ensure_ascii=False) + "\n" for e in examples))
