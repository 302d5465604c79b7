#!/usr/bin/env bash
# Run the benchmarks in their own environment (benchmarks/.venv: the project's pins + lm_eval 0.4.13).
# Needs $CLIKA_DATA_HOME (or ./data). Writes benchmarks/results/.
#   bash benchmarks/run.sh [eval] [args]   evaluation engine vs lm-evaluation-harness
#   bash benchmarks/run.sh train [args]    supervised-positions LM head vs transformers' standard loss
#   bash benchmarks/run.sh probe [args]    the CLDR probe: per question vs batched vs lm-eval loglikelihood
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.stamp 2>/dev/null)" != "$(cat requirements.txt ../requirements.txt | sha256sum)" ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps -e ..
  cat requirements.txt ../requirements.txt | sha256sum > .venv/.stamp
fi
export MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824
case "${1:-eval}" in
  train) shift; exec .venv/bin/python bench_train_head.py "$@" ;;
  probe) shift; exec .venv/bin/python bench_probe.py "$@" ;;
  eval) [ $# -gt 0 ] && shift; exec .venv/bin/python bench_eval_vs_lmeval.py "$@" ;;
  *) exec .venv/bin/python bench_eval_vs_lmeval.py "$@" ;;
esac
