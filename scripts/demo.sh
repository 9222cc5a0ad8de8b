#!/usr/bin/env bash
# The README's run command: import the seed page into demo/ports.toml, show it, assign a port,
# render the page, then serve it (SQLite, no other service) until Ctrl-C. PORT=N picks the port.
set -euo pipefail
cd "$(dirname "$0")/.."
P="$PWD/.venv/bin/portreg"
mkdir -p demo && cd demo
rm -f ports.toml portreg.db
export PORTREG_REGISTRY="$PWD/ports.toml"

echo "== portreg import examples/SERVICES.md (the hand-kept page this project replaces)"
"$P" import ../examples/SERVICES.md
echo "== portreg list"
"$P" list
echo "== portreg assign billing-worker (next free port by the seed's rules, host checked)"
"$P" assign billing-worker
echo "== portreg check 54000"
"$P" check 54000 || true
"$P" render > SERVICES.md
echo "== portreg render > demo/SERVICES.md ($(wc -l < SERVICES.md) lines)"

PORT="${PORT:-54000}"
if ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', $PORT))" 2>/dev/null; then
    echo "== $PORT is taken here; who holds it:"
    "$P" who "$PORT" || true
    # The fallback comes from the registry's own rules (range, avoid list, live host), recorded in
    # the demo's ports.toml like any other service, not a random ephemeral port.
    PORT=$("$P" assign portreg-server --protocol http)
    echo "   portreg assign portreg-server chose $PORT: serving on $PORT instead (or run PORT=N make demo)"
fi
echo "== portreg serve: page http://127.0.0.1:$PORT/  API http://127.0.0.1:$PORT/api/v1/services  (Ctrl-C stops)"
PORTREG_SEED="$PWD/ports.toml" exec "$P" serve --host 127.0.0.1 --port "$PORT"
