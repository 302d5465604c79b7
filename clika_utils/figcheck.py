"""Do the figures on disk still follow from the cached results? ``python -m clika_utils.figcheck [profile]``

Each notebook with a ``figures_dir`` whose results are cached is executed with ``render_only`` (its
compute call replaced by reading the cached tables, so only the plotting runs) into a scratch folder,
and every PNG and PDF it draws is compared byte for byte with the file of the same name in the
profile's figures folder (``figures/`` for ``cpu``). Statuses: ``identical``, ``differs``, ``missing``
(drawn now, absent on disk), ``not checked`` (the notebook's results are not cached here). Exit status
1 when anything differs or is missing. Figures render deterministically (fixed fonts, no timestamps:
:func:`clika_utils.plots.figure_bytes`), so a difference means the figure on disk is stale or was
drawn from other results.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from .errors import ConfigError
from .config import parameters
from .runner import find_notebooks
from .settings import project_root, resolve


def check(profile: str, *, nb_dir: Path | None = None, params_dir: Path | None = None,
          scratch: Path | None = None, only: list[str] | None = None) -> pd.DataFrame:
    import papermill as pm

    root = project_root()
    nb_dir, params_dir = nb_dir or root / "notebooks", params_dir or root / "params"
    rows = []
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        for nb in find_notebooks(nb_dir, only):
            params = parameters(profile, nb, params_dir)
            if "figures_dir" not in params or "render_only" not in params:
                continue
            results = resolve(params["results_dir"])
            if not any(results.glob("*.csv")):
                rows.append({"notebook": nb.stem, "figure": "", "status": "not checked",
                             "note": f"no cached results in {results}"})
                continue
            target = resolve(params["figures_dir"])
            fresh = Path(tmp) / nb.stem
            pm.execute_notebook(str(nb), str(Path(tmp) / nb.name), cwd=str(resolve(".")), progress_bar=False,
                                parameters={**params, "render_only": True, "figures_dir": str(fresh)})
            drawn = sorted(p for p in fresh.glob("*") if p.suffix in (".png", ".pdf"))
            if not drawn:
                rows.append({"notebook": nb.stem, "figure": "", "status": "no figures", "note": ""})
            for p in drawn:
                old = target / p.name
                status = "missing" if not old.exists() else \
                    "identical" if old.read_bytes() == p.read_bytes() else "differs"
                rows.append({"notebook": nb.stem, "figure": p.name, "status": status, "note": str(old)})
    return pd.DataFrame(rows, columns=["notebook", "figure", "status", "note"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m clika_utils.figcheck", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", nargs="?", default="cpu")
    ap.add_argument("--only", action="append", help="check only notebooks whose name contains this (repeatable)")
    args = ap.parse_args(argv)
    try:
        table = check(args.profile, only=args.only)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 80):
        print(table.to_string(index=False))
    bad = table[table.status.isin(["differs", "missing"])]
    print(f"\n{(table.status == 'identical').sum()} identical, {len(bad)} differing or missing, "
          f"{(table.status == 'not checked').sum()} notebooks without cached results")
    return 1 if len(bad) else 0


if __name__ == "__main__":
    sys.exit(main())
