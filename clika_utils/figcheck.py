"""Do the figures on disk still follow from the cached results? ``python -m clika_utils.figcheck [profile]``

Each notebook with a ``figures_dir`` whose results are cached is executed with ``render_only`` (its
compute call replaced by reading the cached tables, so only the plotting runs) into a scratch folder,
and every PNG and PDF it draws is compared byte for byte with the file of the same name in the
profile's figures folder (``figures/`` for ``cpu``). Statuses: ``identical``, ``differs``, ``missing``
(drawn now, absent on disk), ``not checked`` (the notebook's results are not cached here); ``lint``:
how many layout problems :func:`clika_utils.plots.lint` found in the figure (text outside the canvas or
over other text, a heatmap coloured in another unit than it prints, a language off its colour). Exit
status 1 when anything differs, is missing or has a layout problem. Notebooks render two at a time. Figures render deterministically (fixed fonts, no timestamps:
:func:`clika_utils.plots.figure_bytes`), so a difference means the figure on disk is stale or was
drawn from other results.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from .config import parameters
from .errors import ConfigError
from .runner import find_notebooks, kernel_name
from .settings import project_root, resolve


def _render(nb: str, out: str, params: dict, cwd: str, kernel: str) -> None:
    """Execute notebook ``nb`` with ``params`` (one worker process: notebooks render side by side)."""
    import papermill as pm

    pm.execute_notebook(nb, out, cwd=cwd, progress_bar=False, parameters=params, kernel_name=kernel)


def check(profile: str, *, nb_dir: Path | None = None, params_dir: Path | None = None,
          scratch: Path | None = None, only: list[str] | None = None, keep: Path | None = None,
          workers: int = 2) -> pd.DataFrame:
    """The status of every figure (see the module doc) and its :func:`clika_utils.plots.lint` problems
    (``lint``: how many; ``note``: the first). ``keep``: also copy the drawn figures there (to look at them)."""
    from concurrent.futures import ProcessPoolExecutor

    from .provenance import read_sidecar

    root = project_root()
    nb_dir, params_dir = nb_dir or root / "notebooks", params_dir or root / "params"
    rows, jobs = [], []
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        for nb in find_notebooks(nb_dir, only):
            params = parameters(profile, nb, params_dir)
            if "figures_dir" not in params or "render_only" not in params:
                continue
            results = resolve(params["results_dir"])
            if not any(results.glob("*.csv")):
                rows.append({"notebook": nb.stem, "figure": "", "status": "not checked", "lint": 0,
                             "note": f"no cached results in {results}"})
                continue
            jobs.append((nb, resolve(params["figures_dir"]), Path(tmp) / nb.stem, params))
        kernel = kernel_name() if jobs else None
        with ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs) or 1))) as pool:
            futures = [pool.submit(_render, str(nb), str(Path(tmp) / nb.name),
                                   {**params, "render_only": True, "figures_dir": str(fresh)}, str(resolve(".")), kernel)
                       for nb, _, fresh, params in jobs]
            for f in futures:
                f.result()
        for nb, target, fresh, _ in jobs:
            drawn = sorted(p for p in fresh.glob("*") if p.suffix in (".png", ".pdf"))
            if not drawn:
                rows.append({"notebook": nb.stem, "figure": "", "status": "no figures", "lint": 0, "note": ""})
            for p in drawn:
                old = target / p.name
                status = "missing" if not old.exists() else \
                    "identical" if old.read_bytes() == p.read_bytes() else "differs"
                problems = read_sidecar(p).get("lint", [])
                rows.append({"notebook": nb.stem, "figure": p.name, "status": status, "lint": len(problems),
                             "note": problems[0] if problems else str(old)})
        if keep is not None:
            import shutil
            for _, _, fresh, _ in jobs:
                if fresh.exists():
                    shutil.copytree(fresh, Path(keep), dirs_exist_ok=True)
    return pd.DataFrame(rows, columns=["notebook", "figure", "status", "lint", "note"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m clika_utils.figcheck", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", nargs="?", default="cpu")
    ap.add_argument("--only", action="append", help="check only notebooks whose name contains this (repeatable)")
    ap.add_argument("--keep", type=Path, help="also copy the figures drawn now into this folder (to look at them)")
    args = ap.parse_args(argv)
    try:
        table = check(args.profile, only=args.only, keep=args.keep)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 80):
        print(table.to_string(index=False))
    bad = table[table.status.isin(["differs", "missing"])]
    print(f"\n{(table.status == 'identical').sum()} identical, {len(bad)} differing or missing, "
          f"{(table.status == 'not checked').sum()} notebooks without cached results, "
          f"{int((table.lint > 0).sum())} with layout problems (plots.lint)")
    return 1 if len(bad) or (table.lint > 0).any() else 0


if __name__ == "__main__":
    sys.exit(main())
