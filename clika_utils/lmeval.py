"""CLiKA for lm-evaluation-harness: export the streams as an lm-eval task folder, import its samples.

:func:`export` writes, for every (task, language), a JSON Lines file of documents (the official CLiKA
prompt, the choices, the gold index, the item id, the export version and the prompt's hash) and an
lm-eval ``multiple_choice`` task YAML ``clika_<task>_<lang>``, plus one group per task
(``clika_<task>``) and one for all of CLiKA (``clika``). Data + YAML only: lm-eval needs nothing from
this project to run them (``lm_eval … --include_path DIR --tasks clika_x_geo --log_samples``).

* ``method="letter"`` (default): the choices are the option letters with an empty target delimiter,
  so lm-eval compares log P(letter | prompt ending in "Answer:") — the question ``clika evaluate
  --method letter`` asks.
* ``method="text"``: the choices are the full options ``"B. <text>"``, as ``clika evaluate --method
  text`` scores them (its raw log-likelihood; lm-eval's ``acc``).

:func:`import_samples` reads lm-eval's ``--log_samples`` files (``samples_clika_<task>_<lang>_*.jsonl``
anywhere under a folder) and writes the official result layout (``<out>/<task>/<lang folder>/<system>_res.jsonl``
with the per-option log-likelihoods as ``scores``, and ``<system>.eval.json``), so ``clika score``, the
RankC, the notebooks and the report treat an lm-eval run like any live system. Documents carry the
export version and the prompt's hash; a sample whose prompt differs from the data it is imported
against, a duplicated or missing document, or a samples file cut mid-line is an error naming the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .data import TASKS, check_tasks, lang_folders
from .errors import ConfigError, DataError
from .evaluate import adopt_eval_folder, task_items
from .io import read_jsonl, write_json_atomic, write_text_atomic
from .langs import LANGS, check_langs
from .outdir import claim, locked, safe_name

EXPORT_VERSION = 1
METHODS = ("letter", "text")
SAMPLES_RE = re.compile(r"^samples_clika_(?P<task>x_[a-z]+)_(?P<lang>[a-z]{2})_.*\.jsonl$")


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def _choices(task: str, item, method: str) -> list[str]:
    letters = TASKS[task].letters
    return list(letters) if method == "letter" else [f"{L}. {t}" for L, t in zip(letters, item.options)]


def export(root, out_dir, *, tasks=None, langs=None, limit: int | None = None, method: str = "letter",
           overwrite: bool = False) -> dict:
    """Write the lm-eval task folder; returns {task name: document count}."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; expected one of {METHODS}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    tasks, langs = check_tasks(tasks or list(TASKS)), check_langs(langs or list(LANGS))
    out_dir = Path(out_dir).resolve()
    ledger = claim(out_dir, what=EXPORT_WRITER, overwrite=overwrite, adopt=_adopt_export)
    counts = {}
    streams = [f"{task}/{lang}" for task in tasks for lang in langs]
    with locked(out_dir, "clika lm-eval export"):
        for task in tasks:
            names = []
            for lang in langs:
                name = f"clika_{task}_{lang}"
                docs = [{"item_id": it.item_id, "prompt": it.prompt, "choices": _choices(task, it, method),
                         "gold": TASKS[task].letters.index(it.label), "label": it.label, "task": task, "lang": lang,
                         "method": method, "export": EXPORT_VERSION, "prompt_sha": prompt_hash(it.prompt)}
                        for it in task_items(root, task, lang, limit)]
                for d in docs:
                    d["n_docs"] = len(docs)       # lets an import tell a complete stream from a cut one
                    d["streams"] = streams        # ... and a complete export from one missing languages
                    d["limit"] = limit            # ... and samples of one export from a mix of several
                data = write_text_atomic(out_dir / task / f"{lang}.jsonl",
                                         "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
                write_text_atomic(out_dir / task / f"{name}.yaml", _task_yaml(name, task, data))
                names.append(name)
                counts[name] = len(docs)
            write_text_atomic(out_dir / task / f"clika_{task}.yaml", _group_yaml(f"clika_{task}", names))
        write_text_atomic(out_dir / "clika.yaml", _group_yaml("clika", [f"clika_{t}" for t in tasks]))
        write_json_atomic(out_dir / "clika_export.json", {"export": EXPORT_VERSION, "method": method, "limit": limit,
                                                          "tasks": list(tasks), "langs": list(langs), "documents": counts})
        ledger.record([out_dir / "clika.yaml", out_dir / "clika_export.json",
                       *(out_dir / task / name for task in tasks for name in
                         [f"clika_{task}.yaml", *(f for lang in langs for f in (f"{lang}.jsonl",
                                                                                 f"clika_{task}_{lang}.yaml"))])],
                      writer=EXPORT_WRITER)
    return counts


EXPORT_WRITER = "clika lm-eval export"


def _adopt_export(root: Path) -> dict[str, tuple]:
    """Legacy adoption of an export folder written before ledgers: when ``clika_export.json`` says so, the task
    folders and ``clika*`` files it lists."""
    try:
        meta = json.loads((root / "clika_export.json").read_text(encoding="utf-8"))
        tasks = [t for t in meta["tasks"] if t in TASKS]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {p.relative_to(root).as_posix(): (None, "") for p in [*root.glob("clika*"), *(root / t for t in tasks)]
            if p.exists()}


def _task_yaml(name: str, task: str, data: Path) -> str:
    return (f"task: {name}\n"
            f"dataset_path: json\n"
            f"dataset_kwargs:\n  data_files:\n    test: {json.dumps(str(data))}\n"
            f"test_split: test\n"
            f"output_type: multiple_choice\n"
            f"doc_to_text: prompt\n"
            f"doc_to_choice: choices\n"
            f"doc_to_target: gold\n"
            f"target_delimiter: \"\"\n"
            f"metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
            f"metadata:\n  version: {EXPORT_VERSION}\n  clika_task: {task}\n")


def _group_yaml(group: str, members: list[str]) -> str:
    return (f"group: {group}\n" f"task:\n" + "".join(f"  - {m}\n" for m in members)
            + "aggregate_metric_list:\n  - metric: acc\n    aggregation: mean\n    weight_by_size: true\n"
            + f"metadata:\n  version: {EXPORT_VERSION}\n")


def import_samples(samples_dir, root, out_dir, *, system: str, model: str = "lm-eval",
                   overwrite: bool = False) -> dict:
    """lm-eval ``--log_samples`` files under ``samples_dir`` -> the official result layout in ``out_dir``
    (checked against the CLiKA data at ``root``). Returns {(task, lang): items}."""
    safe_name(system, "--system")
    files = sorted(p for p in Path(samples_dir).rglob("samples_clika_*.jsonl") if SAMPLES_RE.match(p.name))
    if not files:
        raise DataError(samples_dir, "no lm-eval samples files named samples_clika_<task>_<lang>_*.jsonl here; "
                                     "run lm_eval with --log_samples on the exported tasks first")
    by_key: dict[tuple[str, str], Path] = {}
    for f in files:
        m = SAMPLES_RE.match(f.name)
        key = (m["task"], m["lang"])
        if key in by_key:
            raise DataError(f, f"a second samples file for clika_{key[0]}_{key[1]} (also {by_key[key]}); "
                               "import one lm-eval run at a time")
        by_key[key] = f
    check_tasks(sorted({t for t, _ in by_key}))
    check_langs(sorted({lang for _, lang in by_key}))
    methods, exported, exports = set(), set(), {}
    tables = {}
    for (task, lang), f in sorted(by_key.items()):
        rows = read_jsonl(f, required=("doc_id", "doc", "filtered_resps"))
        first = rows[0]["doc"] if isinstance(rows[0]["doc"], dict) else {}
        exported |= set(first.get("streams") or [])
        exports.setdefault(json.dumps([first.get("limit", "?"), first.get("streams")]), f)
        items = {it.item_id: it for it in task_items(root, task, lang)}
        seen = set()
        out = []
        letters = TASKS[task].letters
        for r in rows:
            doc, line = r["doc"], r["_line"]
            if not isinstance(doc, dict) or doc.get("export") != EXPORT_VERSION:
                raise DataError(f, f"document of export version {doc.get('export') if isinstance(doc, dict) else None!r}"
                                   f", expected {EXPORT_VERSION}: export the tasks again with this version", line=line)
            iid = doc.get("item_id")
            if iid in seen:
                raise DataError(f, f"item {iid} appears twice", line=line)
            seen.add(iid)
            it = items.get(iid)
            if it is None or prompt_hash(it.prompt) != doc.get("prompt_sha") or doc.get("label") != it.label:
                raise DataError(f, f"item {iid}: its prompt or label differs from the CLiKA data at {root}; these "
                                   "samples come from another export or data version", line=line)
            lls = [float(x[0]) if isinstance(x, list) else float(x) for x in r["filtered_resps"]]
            if len(lls) != len(letters):
                raise DataError(f, f"item {iid}: {len(lls)} log-likelihoods, expected {len(letters)}", line=line)
            methods.add(doc.get("method"))
            best = max(range(len(lls)), key=lambda k: lls[k])
            out.append({"id": iid, "res": letters[best], "label": it.label, "method": f"lm-eval {doc.get('method')}",
                        "scores": [round(v, 6) for v in lls]})
        if not seen:
            raise DataError(f, f"no documents of clika_{task}_{lang}")
        n_docs = {r["doc"].get("n_docs") for r in rows}
        if len(n_docs) != 1 or not isinstance(next(iter(n_docs)), int):
            raise DataError(f, f"documents disagree on the export's document count ({sorted(map(str, n_docs))})")
        expected = sorted(items)[: n_docs.pop()]                    # an export with --limit holds a prefix
        missing = sorted(set(expected) - seen)
        if missing:
            raise DataError(f, f"{len(missing)} item(s) of clika_{task}_{lang} missing (first: {missing[:5]})")
        tables[(task, lang)] = sorted(out, key=lambda r: r["id"])
    if len(methods) != 1:
        raise DataError(samples_dir, f"samples of several export methods mixed: {sorted(map(str, methods))}")
    if len(exports) > 1:
        (a, fa), (b, fb) = list(exports.items())[:2]
        raise DataError(samples_dir, f"samples of several exports mixed: {fa.name} comes from an export with "
                                     f"[limit, streams] {a}, {fb.name} from one with {b}; export once and run "
                                     "lm_eval on that export only")
    missing_streams = sorted(exported - {f"{t}/{lang}" for t, lang in by_key})
    if missing_streams:
        raise DataError(samples_dir, f"no samples for {len(missing_streams)} exported stream(s) "
                                     f"({', '.join(missing_streams[:6])}): run lm_eval on every exported task "
                                     "(--tasks clika), or export only the streams you run")
    out_dir = Path(out_dir)
    ledger = claim(out_dir, what=IMPORT_WRITER, owner=system, overwrite=overwrite, adopt=adopt_eval_folder)
    with locked(out_dir, "clika lm-eval import"):
        written = []
        for (task, lang), rows in tables.items():
            folder = lang_folders(Path(root) / task, (lang,))[lang].name
            written.append(out_dir / task / folder / f"{system}_res.jsonl")
        ledger.pending([*written, out_dir / f"{system}.eval.json"], writer=IMPORT_WRITER, owner=system)
        for path, rows in zip(written, tables.values()):
            write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        write_json_atomic(out_dir / f"{system}.eval.json",
                          {"model": model, "source": "lm-evaluation-harness", "method": f"lm-eval {methods.pop()}",
                           "fingerprint": None, "dtype": None, "status": "complete",
                           "settings": {"imported_from": str(Path(samples_dir).resolve())},
                           "reports": {"streams": {f"{t}/{l_}": len(r) for (t, l_), r in tables.items()}}})
        ledger.record([*written, out_dir / f"{system}.eval.json"], writer=IMPORT_WRITER, owner=system)
    return {k: len(v) for k, v in tables.items()}


IMPORT_WRITER = "clika lm-eval import"
