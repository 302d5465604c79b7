"""requirements.txt (pip) and environment.yml (conda) must pin the same packages."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line)
        assert m, f"not an exact pin: {line!r}"
        out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_requirements_and_environment_agree():
    req = _pins((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert _pins(pip_section) == req
    py = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert py == "python=3.11"


def test_torch_is_pinned_to_the_cpu_wheel_version():
    req = _pins((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    assert req["torch"] == "2.13.0"
    for pkg in ("jupyterlab", "papermill", "torch", "transformers", "matplotlib", "seaborn"):
        assert pkg in req
