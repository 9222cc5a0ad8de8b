#!/usr/bin/env bash
# The whole suite: lint, types, the project's own `portreg sync --check`, then pytest.
# Called by `make test` (which builds .venv first) and by CI's .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
if [ ! -x /usr/bin/chromium ]; then
    echo "test: installing Debian's chromium for the browser tests"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
fi

"$BIN/ruff" check src tests benchmarks
"$BIN/ruff" format --check src tests benchmarks
"$BIN/mypy"
"$BIN/lint-imports" --no-cache >/dev/null || "$BIN/lint-imports" --no-cache  # the layering
"$BIN/portreg" sync --check
# Two workers: the suite stays under ten minutes on this two-core machine. Work stealing: the
# long tests (schemathesis, 1,000 concurrent assignments, axe in Chromium) would otherwise
# leave one worker idle at the end while the other finishes its fixed share.
exec "$BIN/pytest" -n 2 --dist worksteal "$@"
