#!/usr/bin/env bash
# Run every notebook in order with papermill: ./run_all.sh [smoke|cpu|paper] [--only NN]
# Creates the environment if missing. Executed notebooks + HTML + index.html land in
# outputs/executed/<profile>/; results in outputs/<profile>/results/; cpu figures in figures/.
# Data: $CLIKA_DATA_HOME (default ./data; `clika data fetch` downloads it).
set -euo pipefail
cd "$(dirname "$0")"
profile="${1:-cpu}"
[ $# -gt 0 ] && shift
py="$(bash scripts/ensure_env.sh)"
# glibc malloc settings: 1.2-2.2x faster CPU training on this class of machine (harmless elsewhere).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4294967296}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-68719476736}"
export MALLOC_TOP_PAD_="${MALLOC_TOP_PAD_:-1073741824}"
export PYTHONHASHSEED=0
exec "$py" -m clika_utils.runner "$profile" "$@"
