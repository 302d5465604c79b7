"""Batch execution of the notebooks with papermill (what ``./run_all.sh`` runs).

For each ``notebooks/NN_*.ipynb`` in order: parameters from ``params/<stem>/<profile>.yaml`` (plus
``profile``), execute with papermill into ``<out>/<stem>.ipynb``, render ``<stem>.html``, and go on
past a failure. At the end: ``index.html``, ``runs.csv`` and a summary table; exit status 1 if any
notebook failed.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .config import load_params
from .errors import ConfigError
from .io import write_text_atomic
from .settings import project_root, resolve

PROFILES = ("smoke", "cpu", "paper")
NOTEBOOK_RE = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")


@dataclass
class Run:
    notebook: str
    status: str
    seconds: float
    error: str = ""


def _selected(stem: str, pattern: str) -> bool:
    """``--only`` matches a notebook by its number (``3``, ``03``) or by a part of its name (``conduct``)."""
    if pattern.isdigit():
        return int(stem[:2]) == int(pattern)
    return pattern in stem


def find_notebooks(nb_dir: Path, only: list[str] | None = None) -> list[Path]:
    nbs = sorted(p for p in nb_dir.glob("*.ipynb") if NOTEBOOK_RE.match(p.name))
    if only:
        unmatched = [o for o in only if not any(_selected(p.stem, o) for p in nbs)]
        if unmatched:
            raise ConfigError(f"--only {unmatched[0]!r} matches no notebook; expected a number or part of a name "
                              f"among {[p.stem for p in nbs]}")
        nbs = [p for p in nbs if any(_selected(p.stem, o) for o in only)]
    return nbs


#: ``name: type = literal  # comment``, the one form of a line in a parameters cell.
PARAM_LINE = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*): (?P<type>str|int|float|bool|list|dict) = (?P<value>.+?)  # \S.*$")
def export_html(executed: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(executed, as_version=4))
    return write_text_atomic(executed.with_suffix(".html"), body)


def write_index(runs: list[Run], out_dir: Path, profile: str) -> Path:
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(r.notebook)}.html'>{html.escape(r.notebook)}</a></td>"
        f"<td class='{r.status}'>{r.status}</td><td>{r.seconds:.1f}</td>"
        f"<td><a href='{html.escape(r.notebook)}.ipynb'>ipynb</a></td><td><pre>{html.escape(r.error)}</pre></td></tr>"
        for r in runs)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>clika-repro: {profile} run</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:4px 10px;border-bottom:1px solid #ddd}}
.ok{{color:#060}} .failed{{color:#a00}} pre{{margin:0;white-space:pre-wrap}}</style></head>
<body><h1>clika-repro — executed notebooks ({profile} profile)</h1>
<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>source</th><th>error</th></tr>
{rows}
</table></body></html>
"""
    return write_text_atomic(out_dir / "index.html", page)


def summary_table(runs: list[Run]) -> str:
    width = max([len("notebook")] + [len(r.notebook) for r in runs])
    lines = [f"{'notebook':<{width}}  status   seconds", f"{'-' * width}  -------  -------"]
    lines += [f"{r.notebook:<{width}}  {r.status:<7}  {r.seconds:7.1f}" for r in runs]
    ok = sum(r.status == "ok" for r in runs)
    lines.append(f"notebooks: {ok} ok, {len(runs) - ok} failed")
    return "\n".join(lines)


def run_all(profile: str, *, only=None, nb_dir: Path | None = None, params_dir: Path | None = None,
            out_dir: Path | None = None, kernel: str | None = None, progress: bool = True) -> list[Run]:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    import papermill as pm

    root = project_root()
    nb_dir = nb_dir or root / "notebooks"
    params_dir = params_dir or root / "params"
    out_dir = out_dir or resolve(Path("outputs") / "executed" / profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    notebooks = find_notebooks(nb_dir, only)
    if not notebooks:
        raise ConfigError(f"no notebooks matching NN_*.ipynb{' and ' + str(only) if only else ''} in {nb_dir}")
    problems = []
    for nb in notebooks:                         # every notebook's parameters, before any work starts
        try:
            load_params(params_dir, nb, profile)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems) + f"\n{len(problems)} parameter file(s) wrong; nothing was run")
    runs = []
    for i, nb in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {nb.stem} ({profile})", flush=True)
        start = time.perf_counter()
        executed = out_dir / nb.name
        status, error = "ok", ""
        try:
            params = load_params(params_dir, nb, profile)
            pm.execute_notebook(str(nb), str(executed), parameters=params, kernel_name=kernel,
                                cwd=str(resolve(".")), progress_bar=progress, report_mode=False)
        except Exception as exc:  # keep going; the failure is reported in the table and the exit code
            status = "failed"
            error = _short_error(exc)
            print(f"    FAILED: {error}", file=sys.stderr, flush=True)
        if executed.exists():
            try:
                export_html(executed)
            except Exception as exc:  # an HTML failure must not hide the notebook's own status
                error = (error + "\n" if error else "") + f"HTML export failed: {exc}"
        runs.append(Run(nb.stem, status, time.perf_counter() - start, error))
    write_index(runs, out_dir, profile)
    write_text_atomic(out_dir / "runs.csv", "notebook,status,seconds\n" +
                      "".join(f"{r.notebook},{r.status},{r.seconds:.1f}\n" for r in runs))
    return runs


def _short_error(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "PapermillExecutionError":
        return f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
    text = str(exc).strip() or "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return f"{name}: {text}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m clika_utils.runner", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", nargs="?", default="cpu", choices=PROFILES)
    ap.add_argument("--only", action="append", help="run only notebooks whose name contains this (repeatable)")
    ap.add_argument("--out", type=Path, help="folder for executed notebooks (default outputs/executed/<profile>)")
    ap.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's own, python3)")
    ap.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    args = ap.parse_args(argv)
    try:
        runs = run_all(args.profile, only=args.only, out_dir=args.out, kernel=args.kernel,
                       progress=not args.no_progress)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(summary_table(runs))
    out = args.out or resolve(Path("outputs") / "executed" / args.profile)
    print(f"\nexecuted notebooks and HTML: {out}/index.html")
    from . import report
    try:
        page = report.build(args.profile, executed_dir=out, out_dir=report.default_out(args.profile))
        print(f"report (claims, figures with provenance, notebooks): {page}")
    except Exception as exc:  # the notebooks' results stand; a report failure is reported, and fails the run
        print(f"error: the report could not be built: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0 if all(r.status == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
