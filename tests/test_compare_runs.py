"""scripts/compare_runs.py: the byte-for-byte comparison behind the README's "byte-identical" statements."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("compare_runs", ROOT / "scripts" / "compare_runs.py")
compare_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_runs)


def _run(root: Path, value: bytes) -> Path:
    (root / "outputs/cpu/results/01_x").mkdir(parents=True)
    (root / "outputs/cpu/results/01_x/t.csv").write_bytes(b"a\n1\n")
    (root / "outputs/cpu/results/01_x/t.csv.provenance.json").write_bytes(value)   # sidecars are not compared
    (root / "figures").mkdir()
    (root / "figures/f.png").write_bytes(b"png")
    return root


def test_identical_runs_pass_and_any_difference_fails(tmp_path, capsys):
    a, b = _run(tmp_path / "a", b"commit 1"), _run(tmp_path / "b", b"commit 2")
    assert compare_runs.main([str(a), str(b)]) == 0
    assert "2 identical (1 CSV), 0 differ" in capsys.readouterr().out
    (b / "figures/f.png").write_bytes(b"pnG")
    (b / "outputs/cpu/results/01_x/extra.csv").write_bytes(b"x\n")
    assert compare_runs.main([str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "differs: figures/f.png" in out and "one side only: outputs/cpu/results/01_x/extra.csv" in out
    assert compare_runs.main([str(a), str(tmp_path / "none")]) == 2
