"""Recompute a cpu run's CLDR probe tables with this version's probe and compare them, item for item, with the
tables that run cached (``outputs/cpu/live/variants-probe/<system>.csv``): the check that a change to the probe's
scoring path (issue 30's batched path) leaves every published probe answer as it was.

Run: python benchmarks/check_probe_run.py <a work folder holding a finished cpu run>
Prints one line per system (identical / how many items differ, seconds); exit status 1 when any differs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

from clika_utils import config
from clika_utils.experiments.shared import loader, probe, probe_questions
from clika_utils.langs import LANGS


def main(argv=None) -> int:
    run = Path((argv or sys.argv[1:])[0])
    p = config.parameters("cpu", "04_pretraining_variants")
    qa = probe_questions(p["eval_langs"] or list(LANGS), heldout_fraction=p["probe_heldout_fraction"],
                         probe_items=p["probe_items"], seed=p.get("seed", 0))
    differ = 0
    for csv in sorted((run / "outputs/cpu/live/variants-probe").glob("*.csv")):
        key = json.loads(csv.with_suffix(".key.json").read_text(encoding="utf-8"))["key"]
        variant = key["system"].split("_", 1)[1]
        job = None if variant == "base" else next(
            d for nb in ("04_pretraining_variants", "05_instruction_tuning")
            for d in [run / "outputs/cpu/models" / nb / variant] if d.exists())
        t0 = time.perf_counter()
        new = probe(loader(key["model"], job)(), qa, key["system"])
        old = pd.read_csv(csv, keep_default_na=False, na_values=[""], dtype={"item_id": str})
        n = int((new["correct"].to_numpy() != old["correct"].to_numpy()).sum()) if len(new) == len(old) else len(new)
        differ += n
        print(f"{key['system']}: {len(new)} items, {'identical' if n == 0 else f'{n} differ'}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
