"""Compare two runs byte for byte: every results file (sidecars excluded: they hold commit and config)
under ``outputs/<profile>/results/`` and every figure (PNG, PDF) of the profile's figure folder.

    python scripts/compare_runs.py RUN_A RUN_B [--profile cpu]

RUN_A / RUN_B are work folders (a clone's root, or a ``$CLIKA_WORKDIR``). Prints the counts and every
file that differs or exists on one side only; exit status 1 if any does. This is how the README's
"byte-identical" statements were checked (e.g. fresh clones before and after a restructuring, or the
same commit on two machines).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def files(root: Path, profile: str) -> dict[str, bytes]:
    out = {}
    for p in sorted((root / "outputs" / profile / "results").rglob("*")):
        if p.is_file() and not p.name.endswith(".provenance.json"):
            out[str(p.relative_to(root))] = p.read_bytes()
    figures = root / ("figures" if profile == "cpu" else f"outputs/{profile}/figures")
    for p in sorted(figures.glob("*")):
        if p.suffix in (".png", ".pdf"):
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    ap.add_argument("--profile", default="cpu")
    args = ap.parse_args(argv)
    a, b = files(args.run_a, args.profile), files(args.run_b, args.profile)
    if not a or not b:
        print(f"error: no results under {args.run_a if not a else args.run_b}/outputs/{args.profile}/results",
              file=sys.stderr)
        return 2
    differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
    same = len(a.keys() & b.keys()) - len(differ)
    csv = sum(k.endswith(".csv") for k in a.keys() & b.keys() if k not in differ)
    print(f"{same} identical ({csv} CSV), {len(differ)} differ, {len(only_a)} only in {args.run_a}, "
          f"{len(only_b)} only in {args.run_b}")
    for k in differ:
        print(f"  differs: {k}")
    for k in only_a + only_b:
        print(f"  one side only: {k}")
    return 1 if differ or only_a or only_b else 0


if __name__ == "__main__":
    sys.exit(main())
