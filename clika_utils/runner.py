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
#: Progress bars off in batch (tqdm's switch, which ``settings.progress_bars`` also reads, and huggingface's):
#: an executed notebook holds results, not the residue of bars nobody watched.
QUIET_ENV = ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")
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
    empty = [o for o in only or [] if not str(o).strip()]
    if empty:                     # an unset shell variable: `--only ""` must not mean "every notebook"
        raise ConfigError(f"--only {empty[0]!r}: expected a notebook number or part of a name among "
                          f"{[p.stem for p in nbs]}")
    if only:
        unmatched = [o for o in only if not any(_selected(p.stem, o) for p in nbs)]
        if unmatched:
            raise ConfigError(f"--only {unmatched[0]!r} matches no notebook; expected a number or part of a name "
                              f"among {[p.stem for p in nbs]}")
        nbs = [p for p in nbs if any(_selected(p.stem, o) for o in only)]
    return nbs


def export_html(executed: Path) -> Path:
    import nbformat

    from .publish import export_html as html_of
    return write_text_atomic(executed.with_suffix(".html"), html_of(nbformat.read(executed, as_version=4), executed.stem))


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
            out_dir: Path | None = None, kernel: str | None = None, progress: bool = True, jobs: int = 1) -> list[Run]:
    """Execute the notebooks (``only``: a selection) — one after another, or ``jobs`` at a time along their
    dependency graph (:func:`run_parallel`) — and write the executed notebooks, their HTML, ``index.html``,
    ``runs.csv`` and (a whole run) ``run.json`` into ``out_dir``."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs {jobs!r}: expected a whole number of notebooks to run at once, at least 1")
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
    problems = [p for nb in notebooks for p in output_problems(profile, nb, params_dir)]
    if problems:
        raise ConfigError("\n".join(problems) + f"\n{len(problems)} output folder(s) hold files clika did not write; "
                          "nothing was run")
    kernel = kernel or kernel_name()
    wall = time.perf_counter()
    saved = {name: os.environ.get(name) for name in (*QUIET_ENV, *THREAD_ENV)}
    os.environ.update({name: "1" for name in QUIET_ENV})   # the kernels inherit these
    os.environ.update({name: str(kernel_threads(profile, jobs)) for name in THREAD_ENV})
    try:
        if jobs > 1 and len(notebooks) > 1:
            runs = run_parallel(notebooks, jobs, profile, params_dir, out_dir, kernel)
        else:
            runs = [_execute(pm, nb, i, len(notebooks), profile, params_dir, out_dir, kernel, progress)
                    for i, nb in enumerate(execution_order(notebooks), 1)]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    from .outdir import acquire_waiting
    lock = acquire_waiting(out_dir / ".runs.lock")     # jobs of one run finishing at once (``--plan``)
    try:
        everything = _with_earlier(runs, out_dir / "runs.csv")
        write_index(everything, out_dir, profile)
        write_text_atomic(out_dir / "runs.csv", "notebook,status,seconds\n" +
                          "".join(f"{r.notebook},{r.status},{r.seconds:.1f}\n" for r in everything))
    finally:
        lock.release()
    if not only:                              # a partial run's minutes are not the run's cost
        from .io import write_json_atomic
        write_json_atomic(out_dir / "run.json", cost(runs, profile, wall=time.perf_counter() - wall, jobs=jobs))
    return sorted(runs, key=lambda r: r.notebook)


def _checked_folders() -> dict:
    """{parameter: (writer, legacy adoption)} of the notebooks' output folders that :func:`output_problems` checks:
    those every file of which a clika writer records (results tables, figures, the hidden-state cache)."""
    from .experiments.representation_alignment import CACHE_WRITER, adopt_cache
    from .outdir import adopt_sidecars
    from .plots import FIGURES_WRITER, adopt_figures
    return {"results_dir": ("clika results", adopt_sidecars), "figures_dir": (FIGURES_WRITER, adopt_figures),
            "cache_dir": (CACHE_WRITER, adopt_cache)}


def output_problems(profile: str, notebook: Path, params_dir: Path) -> list[str]:
    """What is wrong with ``notebook``'s output folders before it runs (:func:`clika_utils.outdir.claim`, nothing
    changed): a file there that no clika command wrote, or one changed since — each named with the parameter
    file and line that chose the folder (or the parameter whose derived default it is)."""
    from .config import key_line, parameters
    from .outdir import claim
    values = parameters(profile, notebook, params_dir)
    path = params_dir / notebook.stem / f"{profile}.yaml"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    out = []
    for key, (writer, adopt) in _checked_folders().items():
        if not values.get(key):
            continue
        try:
            claim(resolve(values[key]), what=f"{notebook.stem}'s {writer}", adopt=adopt, flag=None)
        except ConfigError as exc:
            line = key_line(text, key)
            where = f"{path}:{line}: {key}" if line else f"{path}: {key} (not set: derived {values[key]})"
            out.append(f"{where}: {exc}")
    return out


#: A notebook's parameters that name where it writes; every other path parameter is an input.
OWN_OUTPUTS = ("results_dir", "models_dir", "jobs_dir", "cache_dir", "live_dir", "lm_eval_dir", "figures_dir")
#: Folders every notebook writes into, file by file (never the same file): no reason to keep two apart.
SHARED_OK = ("figures_dir",)


def _paths(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.rstrip("/") for v in values if isinstance(v, str) and v.startswith("outputs/")]


def graph(profile: str, notebooks: list[Path] | None = None, params_dir: Path | None = None) -> dict[str, dict]:
    """The run's dependency graph, read from the notebooks' own parameters (declared nowhere else): notebook N
    *needs* M when an input of N (a path parameter that is not one of N's :data:`OUTPUT_PATHS <OWN_OUTPUTS>`)
    lies in a folder M writes (04's ``items_csv`` in 01's results, 09's ``variant_dirs`` = 06's models, …); N and M
    may *not run alongside* when they write one folder (04 and 05 share the base model's evaluation folder). The
    tour (00) reads everything, so it needs every other notebook. ``{stem: {"needs": [...], "apart": [...]}}``."""
    from .config import parameters
    notebooks = notebooks or find_notebooks(project_root() / "notebooks")
    params = {nb.stem: parameters(profile, nb, params_dir) for nb in notebooks}
    outs = {n: {k: _paths(p[k]) for k in OWN_OUTPUTS if k in p} for n, p in params.items()}
    out = {}
    for n, p in params.items():
        inputs = [x for k, v in p.items() if k not in OWN_OUTPUTS for x in _paths(v)]
        needs = sorted(m for m in params if m != n and any(i == o or i.startswith(o + "/")
                                                           for i in inputs for os_ in outs[m].values() for o in os_))
        apart = sorted(m for m in params if m != n and any(set(outs[n].get(k, [])) & set(outs[m].get(k, []))
                                                           for k in OWN_OUTPUTS if k not in SHARED_OK))
        out[n] = {"needs": needs, "apart": apart}
    for n in out:
        if n.startswith("00_"):
            out[n]["needs"] = sorted(m for m in out if m != n)
    return out


def plan_text(profile: str, params_dir: Path | None = None) -> str:
    """What ``./run_all.sh <profile> --plan`` prints: the graph, then one command per notebook for a cluster
    scheduler (a Slurm job array with dependencies shown; any workflow engine reads the same graph), and the
    report as the last job."""
    g = graph(profile, params_dir=params_dir)
    order = [p.stem for p in execution_order([Path(f"{n}.ipynb") for n in g])]
    lines = [f"# the {profile} run's notebooks: what each needs first, and what must not run alongside it",
             f"# {'notebook':<38} {'needs':<40} not alongside"]
    for n in order:
        lines.append(f"# {n:<38} {', '.join(m[:2] for m in g[n]['needs']) or '-':<40} "
                     f"{', '.join(m[:2] for m in g[n]['apart']) or '-'}")
    lines += ["#", "# one notebook per job (Slurm; afterok: after its inputs; afterany: after a notebook sharing its "
              "folder), then the report; set up the environment once first, so that no two jobs race to create it:",
              "bash scripts/ensure_env.sh"]
    for n in order:
        deps = [f"afterok:$j{m[:2]}" for m in g[n]["needs"]] + \
               [f"afterany:$j{m[:2]}" for m in g[n]["apart"] if order.index(m) < order.index(n)]
        dep = f" --dependency={','.join(deps)}" if deps else ""
        lines.append(f'j{n[:2]}=$(sbatch --parsable{dep} --wrap "./run_all.sh {profile} --only {n[:2]} --no-report")')
    lines.append(f'sbatch --dependency=afterany:{":".join(f"$j{n[:2]}" for n in order)} '
                 f'--wrap ".venv/bin/python -m clika_utils.report {profile}"')
    return "\n".join(lines)


def execution_order(notebooks: list[Path]) -> list[Path]:
    """Notebook order, but the tour (00) last: its takeaways are read from the results of 01–09 of this run."""
    return sorted(notebooks, key=lambda p: (p.name.startswith("00_"), p.name))


def _with_earlier(runs: list[Run], csv: Path) -> list[Run]:
    """This run's rows, plus the earlier rows of notebooks it did not run (``--only``), in notebook order: the
    report publishes every notebook executed so far, not only the last one run."""
    import csv as _csv
    mine = {r.notebook for r in runs}
    earlier = []
    if csv.exists():
        with csv.open(encoding="utf-8") as f:
            earlier = [Run(row["notebook"], row["status"], float(row["seconds"])) for row in _csv.DictReader(f)
                       if row["notebook"] not in mine]
    return sorted(runs + earlier, key=lambda r: r.notebook)


def cost(runs: list[Run], profile: str, *, wall: float | None = None, jobs: int = 1) -> dict:
    """What the run cost on this machine — the README's time/RAM/disk lines are generated from it: minutes of
    notebooks (summed; with ``jobs`` > 1 they overlap, and ``wall_minutes`` is the run's own length), the largest
    resident memory of any notebook's kernel (``getrusage`` of finished children), the size of
    ``outputs/<profile>/`` (models, caches, results), the machine's cores and CPU."""
    import platform
    import resource
    outputs = resolve(Path("outputs") / profile)
    size = sum(p.stat().st_size for p in outputs.rglob("*") if p.is_file()) if outputs.is_dir() else 0
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    return {"profile": profile, "notebooks": len(runs), "ok": sum(r.status == "ok" for r in runs),
            "minutes": round(sum(r.seconds for r in runs) / 60, 1), "jobs": jobs,
            "threads_per_notebook": kernel_threads(profile, jobs),
            "wall_minutes": None if wall is None else round(wall / 60, 1),
            "peak_kernel_rss_gib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 1),
            "outputs_gib": round(size / 2**30, 1), "cores": os.cpu_count(), "cpu": cpu}


def kernel_name() -> str:
    """The kernel the notebooks name (:data:`publish.KERNEL`, registered by ``scripts/ensure_env.sh``); where it
    is not registered (an environment made another way), ``python3`` — ipykernel's own spec, which runs the
    Python running this command."""
    from jupyter_client.kernelspec import KernelSpecManager

    from .publish import KERNEL
    if KERNEL["name"] in KernelSpecManager().find_kernel_specs():
        return KERNEL["name"]
    print(f"note: Jupyter kernel {KERNEL['name']!r} is not registered; using python3 (register it with "
          f"`python -m ipykernel install --sys-prefix --name {KERNEL['name']} --display-name "
          f"\"{KERNEL['display_name']}\"`)", file=sys.stderr, flush=True)
    return "python3"


def _execute(pm, nb: Path, i: int, total: int, profile: str, params_dir: Path, out_dir: Path, kernel: str,
             progress: bool) -> Run:
    print(f"[{i}/{total}] {nb.stem} ({profile})", flush=True)
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
    return Run(nb.stem, status, time.perf_counter() - start, error)


#: The thread-count variables of the numeric libraries (torch's intra-op pool follows OMP_NUM_THREADS).
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def ready(order: list[str], g: dict[str, dict], done: set[str], running: set[str]) -> list[str]:
    """The notebooks of ``order`` (not yet started) that may start now: every notebook they need has finished,
    and every notebook that shares a folder with them (:func:`graph`'s *apart*) and comes earlier in the order has
    finished — so a shared folder sees its writers in the same order as a run of one job at a time."""
    started = done | running
    out = []
    for i, n in enumerate(order):
        if n in started:
            continue
        needs = [m for m in g[n]["needs"] if m in order]
        apart = [m for m in g[n]["apart"] if m in order and order.index(m) < i]
        if all(m in done for m in needs) and all(m in done for m in apart):   # (a later apart one cannot be
            out.append(n)                                                      # running: it waits for this one)
    return out


def _execute_in_worker(nb: Path, i: int, total: int, profile: str, params_dir: Path, out_dir: Path,
                       kernel: str) -> Run:
    import papermill as pm
    return _execute(pm, nb, i, total, profile, params_dir, out_dir, kernel, progress=False)


def kernel_threads(profile: str, jobs: int) -> int:
    """Threads of each notebook's kernel: the profile's fixed count where its numbers depend on it
    (:data:`clika_utils.settings.PROFILE_THREADS`), else the cores divided between the jobs."""
    from .settings import PROFILE_THREADS
    return PROFILE_THREADS.get(profile) or max(1, (os.cpu_count() or 1) // jobs)


def run_parallel(notebooks: list[Path], jobs: int, profile: str, params_dir: Path, out_dir: Path,
                 kernel: str) -> list[Run]:
    """Execute ``notebooks`` ``jobs`` at a time along :func:`graph` (a notebook starts once what it needs has
    finished; two that write one folder never run at once, and keep their order), each in a worker process of its
    own (a worker killed — out of memory — fails its notebook only) whose kernel gets :func:`kernel_threads`.
    Progress bars are off (lines of several notebooks would interleave); each start and end is printed. Returns
    the runs in notebook order."""
    import concurrent.futures as cf
    import multiprocessing as mp

    g = graph(profile, notebooks, params_dir)
    order = [nb.stem for nb in execution_order(notebooks)]
    by_stem = {nb.stem: nb for nb in notebooks}
    threads = kernel_threads(profile, jobs)
    print(f"{len(order)} notebooks, {jobs} at a time, {threads} thread(s) each", flush=True)
    cores = os.cpu_count() or 1
    if jobs * threads > cores:
        from .errors import warn
        warn(f"--jobs {jobs} with {threads} threads each on {cores} cores: the kernels share cores, and compute-bound "
             "notebooks then run slower than one at a time (docs/timings.md); the results are the same")
    done, running, runs, started = set(), {}, [], 0
    while len(done) < len(order):
        for n in ready(order, g, done, {n for n, _ in running.values()}):
            if len(running) >= jobs:
                break
            started += 1
            # a spawned worker, and the kernel it starts, inherit run_all's environment: THREAD_ENV set to threads
            worker = cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
            running[worker.submit(_execute_in_worker, by_stem[n], started, len(order), profile, params_dir, out_dir,
                                  kernel)] = (n, worker)
        if not running:
            raise ConfigError(f"notebooks {[n for n in order if n not in done]} wait on each other's results (a cycle "
                              "in their input parameters); nothing more was run")
        finished, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
        for f in finished:
            n, worker = running.pop(f)
            try:
                run = f.result()
            except Exception as exc:  # noqa: BLE001 — its worker was killed mid-notebook: that notebook failed
                run = Run(n, "failed", 0.0, f"its worker process died: {type(exc).__name__}: {exc}")
            worker.shutdown()
            runs.append(run)
            done.add(n)
            print(f"    {n}: {run.status} in {run.seconds:.0f} s", flush=True)
    return sorted(runs, key=lambda r: order.index(r.notebook))


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
    ap.add_argument("--kernel", help="Jupyter kernel name (default: clika-repro, which the setup "
                                                 "registers; python3 where it is not registered)")
    ap.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    ap.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="run N notebooks at a time along their dependency graph (--plan shows it), the cores "
                         "divided between them; results are those of one at a time")
    ap.add_argument("--plan", action="store_true", help="print the notebooks' dependency graph and one command per "
                                                        "notebook for a cluster scheduler, and run nothing")
    ap.add_argument("--no-report", action="store_true", help="run the notebooks only; publish later with "
                                                             "python -m clika_utils.report <profile> (one job per "
                                                             "notebook on a cluster: --plan)")
    from . import report
    ap.add_argument(report.OVERWRITE_FLAG, dest="overwrite_published", action="store_true",
                    help="publish even where the report's folder holds files it did not write (kept, untouched, in "
                         "a .clika-backup-<n> folder of the publication)")
    args = ap.parse_args(argv)
    try:
        if args.plan:
            print(plan_text(args.profile))
            return 0
        if args.only is not None:
            find_notebooks(project_root() / "notebooks", args.only)      # before anything else
        if not (args.overwrite_published or args.no_report):   # the report's folder: before the work, not after
            report.check_folder(report.default_out(args.profile))
        runs = run_all(args.profile, only=args.only, out_dir=args.out, kernel=args.kernel,
                       progress=not args.no_progress, jobs=args.jobs)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(summary_table(runs))
    out = args.out or resolve(Path("outputs") / "executed" / args.profile)
    print(f"\nexecuted notebooks and HTML: {out}/index.html")
    if args.no_report:
        return 0 if all(r.status == "ok" for r in runs) else 1
    try:
        page = report.build(args.profile, executed_dir=out, out_dir=report.default_out(args.profile),
                            overwrite=args.overwrite_published)
        print(f"report (claims, figures with provenance, notebooks): {page}")
        if args.profile == "cpu" and not args.only:
            for f in report.update_docs(args.profile):
                print(f"numbers regenerated in {f}")
    except Exception as exc:  # the notebooks' results stand; a report failure is reported, and fails the run
        print(f"error: the report could not be built: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0 if all(r.status == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
