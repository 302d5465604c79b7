"""Which verdicts a change flipped: compare two claims tables (``figures/claims.csv`` before and after).

    python scripts/compare_claims.py OLD.csv NEW.csv
    python scripts/compare_claims.py --git REV [NEW.csv]     # OLD = figures/claims.csv at git revision REV

Prints one Markdown line per row whose verdict differs (rows matched on notebook, source, claim, metric; a
row on one side only shows as "—"), the list the analysis plan's change log (docs/analysis-plan.md) records.
Exit status 0; 2 with ``error: <file>: <what was expected>`` for a missing or malformed table.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clika_utils import claims


def _read(text_or_path, where: str) -> pd.DataFrame:
    try:
        t = pd.read_csv(text_or_path, keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        print(f"error: {where}:1: a claims table (CSV) was expected ({e.__class__.__name__})", file=sys.stderr)
        raise SystemExit(2) from None
    missing = [c for c in (*claims.ROW_KEY, "verdict", "measured", "ci") if c not in t.columns]
    if missing:
        print(f"error: {where}:1: the claims table's columns were expected; missing {missing}", file=sys.stderr)
        raise SystemExit(2)
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", nargs="?", help="the claims table before")
    ap.add_argument("new", nargs="?", default=str(ROOT / "figures" / "claims.csv"), help="the claims table after")
    ap.add_argument("--git", metavar="REV", help="take OLD from figures/claims.csv at this git revision")
    a = ap.parse_args(argv)
    if a.git:
        if a.old:
            a.new = a.old
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{a.git}:figures/claims.csv"], capture_output=True,
                               text=True, check=False)
        if shown.returncode:
            print(f"error: {a.git}:figures/claims.csv: a git revision holding the claims table was expected",
                  file=sys.stderr)
            return 2
        old = _read(io.StringIO(shown.stdout), f"{a.git}:figures/claims.csv")
    elif a.old:
        if not Path(a.old).is_file():
            print(f"error: {a.old}: an existing claims table was expected", file=sys.stderr)
            return 2
        old = _read(a.old, a.old)
    else:
        ap.print_usage(sys.stderr)
        print("error: give OLD.csv or --git REV", file=sys.stderr)
        return 2
    if not Path(a.new).is_file():
        print(f"error: {a.new}: an existing claims table was expected", file=sys.stderr)
        return 2
    print(claims.changes_markdown(claims.changes(old, _read(a.new, a.new))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
