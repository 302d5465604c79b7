#!/usr/bin/env bash
# Run the test suite: ./run_tests.sh [pytest args]
# Creates the environment if missing. Tests that need the real data use $CLIKA_DATA_HOME; they are
# skipped with a reason when it is absent, and fail instead when CLIKA_REQUIRE_DATA=1 (as in CI).
set -euo pipefail
cd "$(dirname "$0")"
py="$(bash scripts/ensure_env.sh)"
export PYTHONHASHSEED=0
exec "$py" -m pytest "$@"
