#!/usr/bin/env bash
# Create or update the project's virtual environment (.venv) from the pinned requirements.txt,
# install clika_utils into it (editable), register the Jupyter kernel, and make sure a CJK-capable
# font is installed. Idempotent: a stamp holding the hash of requirements.txt + pyproject.toml
# skips the pip step when nothing changed. Source it or run it; it prints the venv's python path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLIKA_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

log() { echo "[ensure_env] $*" >&2; }

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  log "need Python >= 3.10 (found: $("$PY" --version 2>&1 || echo none)); set PYTHON=/path/to/python3.11"
  exit 1
fi

# torch: PyPI's Linux x86-64 wheel is the multi-GB CUDA build. Where no NVIDIA GPU is, the CPU build comes from
# PyTorch's CPU wheel index instead (same version, "+cpu"). CLIKA_TORCH=cpu|cuda|auto (default auto: cpu on Linux
# without nvidia-smi; PyPI's macOS and Windows wheels are CPU builds already).
TORCH_KIND="${CLIKA_TORCH:-auto}"
case "$TORCH_KIND" in
  auto) if [ "$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null 2>&1; then TORCH_KIND=cpu; else TORCH_KIND=cuda; fi ;;
  cpu|cuda) ;;
  *) log "CLIKA_TORCH must be cpu, cuda or auto (got '$TORCH_KIND')"; exit 2 ;;
esac
TORCH_CPU_INDEX="${CLIKA_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
if [ "${1:-}" = "--which-torch" ]; then echo "$TORCH_KIND"; exit 0; fi     # the choice alone (tests, curious users)

stamp="$VENV/.clika-stamp"
want="$( (cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml"; echo "torch=$TORCH_KIND") | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "installing pinned requirements (first run: a few minutes; torch: $TORCH_KIND build)"
  if [ "$TORCH_KIND" = cpu ]; then
    # torch alone (--no-deps): its dependencies come with the requirements below, from the usual index
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --index-url "$TORCH_CPU_INDEX" \
      "$(grep -E '^torch==' "$ROOT/requirements.txt")"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.txt" 2> >(grep -v "is ignored: it is neither" >&2)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$ROOT"
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name clika-repro --display-name "Python (clika-repro)" >/dev/null
  echo "$want" > "$stamp"
fi

# CJK-capable font for figures (Chinese/Japanese text). Installed when missing and we may use apt.
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh family 2>/dev/null | head -n1)" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing fonts-noto-cjk (CJK-capable font for figures)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null) \
      || log "could not install fonts-noto-cjk; figures will fail with a clear error until a CJK font is installed"
  else
    log "no CJK-capable font found: install fonts-noto-cjk (sudo apt-get install fonts-noto-cjk) or Noto Sans CJK"
  fi
fi
echo "$VENV/bin/python"
