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


def test_the_setup_takes_torchs_cpu_build_where_no_nvidia_gpu_is(tmp_path):
    """PyPI's Linux torch wheel is the multi-GB CUDA build: on Linux without nvidia-smi the set-up chooses the CPU
    build (PyTorch's CPU index), with nvidia-smi the default wheel; CLIKA_TORCH overrides, a wrong value is exit 2."""
    import platform
    import shutil
    import subprocess
    import sys

    script = ROOT / "scripts" / "ensure_env.sh"
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python3").symlink_to(sys.executable)          # this interpreter (a pyenv shim would need bash on PATH)
    for tool in ("uname", "cat", "sha256sum", "cut", "dirname"):
        if shutil.which(tool):
            (bare / tool).symlink_to(shutil.which(tool))

    def choice(extra_env, gpu=False):
        if gpu:
            (bare / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
            (bare / "nvidia-smi").chmod(0o755)
        env = {"PATH": str(bare), "HOME": str(tmp_path), **extra_env}
        r = subprocess.run(["/bin/bash", str(script), "--which-torch"], capture_output=True, text=True, env=env)
        return r.returncode, r.stdout.strip(), r.stderr

    if platform.system() == "Linux":
        assert choice({})[:2] == (0, "cpu")
        assert choice({"CLIKA_TORCH": "cuda"})[:2] == (0, "cuda")
        assert choice({}, gpu=True)[:2] == (0, "cuda")
    code, _, err = choice({"CLIKA_TORCH": "gpu"})
    assert code == 2 and "CLIKA_TORCH must be cpu, cuda or auto" in err
