#!/usr/bin/env bash
# The whole suite: lint, types, tests. Called by `make test` (which builds .venv first) and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
"$BIN/ruff" check src tests benchmarks
"$BIN/ruff" format --check src tests benchmarks
"$BIN/mypy"
exec "$BIN/pytest" "$@"
