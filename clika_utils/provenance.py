"""Provenance sidecars: ``<output>.provenance.json`` beside every results file and figure.

A sidecar holds the git commit and dirty flag, the parameters, the seed, the versions of the
packages that shape the numbers, the sha256 of every input file and of the output itself. It holds
no timestamp, so an identical rerun writes identical bytes.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Iterable

from . import __version__
from .io import _UMASK, Table, sha256_file, write_json_atomic
from .settings import portable, project_root, workdir

PACKAGES = ("numpy", "pandas", "scipy", "matplotlib", "seaborn", "pillow", "torch", "transformers", "peft",
            "accelerate", "sacrebleu", "papermill")


OUTPUT_PATHS = ("figures", "benchmarks/results")


def git_state(root: Path | None = None) -> dict:
    """{"commit": sha or None, "dirty": bool or None} of the repository holding the code. "dirty"
    means uncommitted changes to tracked files other than the outputs the runs themselves rewrite
    (``figures/``, ``benchmarks/results/``): a fresh clone running ./run_all.sh stays clean."""
    root = root or project_root()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                 *(f":(exclude){p}" for p in OUTPUT_PATHS)], cwd=root,
                                capture_output=True, text=True, timeout=10, check=True).stdout
        return {"commit": commit, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions(names: Iterable[str] = PACKAGES) -> dict:
    out = {"python": platform.python_version(), "clika_utils": __version__}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def sidecar_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".provenance.json")


def input_hashes(inputs: Iterable[str | Path], root: str | Path | None = None) -> dict:
    """{path: sha256}, the path relative to ``root`` when under it, else as :func:`settings.portable` names it (an
    absolute path as ``$CLIKA_DATA_HOME/...`` or relative to the work folder: a record names no machine's folders)."""
    out = {}
    for p in inputs:
        p = Path(p)
        key = portable(p) if p.is_absolute() else str(p)
        if root is not None:
            try:
                key = str(p.resolve().relative_to(Path(root).resolve()))
            except ValueError:
                pass
        out[key] = sha256_file(p)
    return dict(sorted(out.items()))


def write_sidecar(output: str | Path, *, kind: str, parameters: dict, seed: int | None,
                  inputs: dict, extra: dict | None = None) -> Path:
    """Write the sidecar of ``output`` (which must already be written). ``inputs``: from
    :func:`input_hashes`. Returns the sidecar path."""
    output = Path(output)
    record = _record(output.name, sha256_file(output), kind=kind, parameters=parameters, seed=seed, inputs=inputs,
                     extra=extra, git=git_state(), packages=package_versions())
    return write_json_atomic(sidecar_path(output), record)


def _record(name: str, sha: str, *, kind: str, parameters: dict, seed, inputs: dict, extra: dict | None,
            git: dict, packages: dict) -> dict:
    """The sidecar's content (one definition for :func:`write_sidecar` and :func:`write_result_set`)."""
    return {"output": {"file": name, "sha256": sha}, "kind": kind, "git": git, "parameters": parameters,
            "seed": seed, "packages": packages, "inputs": inputs, **(extra or {})}


def write_result_set(results_dir: str | Path, tables: dict, *, parameters: dict, seed: int | None, inputs: dict,
                     extra: dict | None = None, writer: str = "clika results") -> dict[str, Path]:
    """Write a set of results tables ({file name: DataFrame}) with their sidecars, all or nothing:
    every CSV and sidecar is first written to a temporary file beside its place (a full disk or any
    other failure there removes the temporaries and leaves the previous set whole); only then are they
    moved into place, each CSV before its sidecar. Bytes are those of ``write_csv_atomic`` +
    :func:`write_sidecar`. The folder must be clika's (:func:`clika_utils.outdir.claim`: a file there that no
    clika command wrote refuses it, before anything is written); the tables are recorded in its ledger."""
    from .outdir import adopt_sidecars, claim
    import contextlib
    import hashlib
    import io as _io
    import json
    import os
    import tempfile

    results_dir = Path(results_dir)
    ledger = claim(results_dir, what=writer, adopt=adopt_sidecars)
    results_dir.mkdir(parents=True, exist_ok=True)
    git, packages = git_state(), package_versions()
    payloads = []
    for name, df in tables.items():
        buf = _io.StringIO()
        df.to_csv(buf, index=False, lineterminator="\n")
        data = buf.getvalue().encode("utf-8")
        record = _record(name, hashlib.sha256(data).hexdigest(), kind="results", parameters=parameters, seed=seed,
                         inputs=inputs, extra=extra, git=git, packages=packages)
        side = (json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        payloads += [(results_dir / name, data), (sidecar_path(results_dir / name), side)]
    temps, before = [], dict(ledger.files)
    ledger.pending([final for final, _ in payloads], writer=writer)   # a killed run's files stay this writer's
    try:
        for final, data in payloads:
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=results_dir)
            temps.append((tmp, final))
            os.chmod(tmp, 0o666 & ~_UMASK)     # mkstemp makes 0600; the mode a plain open() would give
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        ledger.files = before
        with contextlib.suppress(OSError):
            ledger.save()
        raise
    finals = [final for _, final in temps]
    for tmp, final in temps:
        os.replace(tmp, final)
    ledger.record(finals, writer=writer)
    return {name: results_dir / name for name in tables}


def run_config(arguments: dict, drop=("progress", "parameters")) -> dict:
    """An experiment's whole configuration from its ``run()`` arguments (``locals()`` at the top of the
    function), for the sidecars: paths inside the work folder relative to it (so the same run in another
    work folder writes the same bytes), other paths as strings, everything else as given."""
    import os

    root = workdir().resolve()

    def plain(v):
        if isinstance(v, Path) or (isinstance(v, str) and os.path.isabs(v)):
            try:
                return str(Path(v).resolve().relative_to(root))
            except ValueError:
                return str(v)
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v
    return {k: plain(v) for k, v in arguments.items() if k not in drop}


def read_sidecar(output: str | Path) -> dict:
    import json
    return json.loads(sidecar_path(output).read_text(encoding="utf-8"))


def results_manifest(results_dir: str | Path):
    """What a notebook shows last (a :class:`~clika_utils.io.Table`): every results table it wrote (``file`` relative to ``results_dir``), its rows
    and its SHA-256 (first 16 hex digits) — the same hashes the figures' sidecars record, so a reader (and a
    test) can tell that the published notebook, its figures and the published results come from one run."""
    import csv as _csv

    import pandas as pd
    folder = Path(results_dir)
    rows = []
    for csv in sorted(folder.rglob("*.csv")):
        with csv.open(encoding="utf-8", newline="") as f:
            n = sum(1 for _ in _csv.reader(f)) - 1           # records, not lines: quoted texts hold newlines
        rows.append({"file": csv.relative_to(folder).as_posix(), "rows": n, "sha256": sha256_file(csv)[:16]})
    return Table(pd.DataFrame(rows, columns=["file", "rows", "sha256"]))
