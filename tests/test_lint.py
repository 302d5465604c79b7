"""The linter (ruff, pinned in requirements.txt, configured in pyproject.toml) passes on the package, the tests, the
scripts and the benchmarks: an unused import or an undefined name fails the suite, not a reader's run."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_code_passes_the_linter(tmp_path):
    ruff = [sys.executable, "-m", "ruff", "check", "--no-cache"]
    run = subprocess.run(ruff + ["clika_utils", "tests", "scripts", "benchmarks"], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n", encoding="utf-8")                  # the check can fail
    run = subprocess.run(ruff + ["--config", str(ROOT / "pyproject.toml"), str(bad)], capture_output=True,
                         text=True, check=False)
    assert run.returncode == 1 and "F401" in run.stdout
