"""Two registries on one Redis with the default channel prefix (issue 11, item 10): each reads
only its own events, so a worker never takes another registry's event ids for its own."""

from __future__ import annotations

import json
import subprocess
import time
from http.client import HTTPConnection
from pathlib import Path

import pytest

from tests.server.conftest import REDIS_URL, Server, StartServer, http, redis_up


def fresh_get(server: Server, path: str) -> dict[str, object]:
    """GET on a new connection, so requests spread over the workers."""
    host, port = server.url.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/api/v1" + path)
        data: dict[str, object] = json.loads(conn.getresponse().read())
        return data
    finally:
        conn.close()


def test_two_registries_on_one_redis_never_mix(start_server: StartServer, tmp_path: Path) -> None:
    if not redis_up():
        pytest.skip("no Redis at 127.0.0.1:6379")
    common = {"PORTREG_REDIS_URL": REDIS_URL, "PORTREG_POLL_SECONDS": "30"}  # default prefix
    a = start_server(
        workers=2,
        env={**common, "PORTREG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"},
    )
    b = start_server(
        workers=2,
        env={**common, "PORTREG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"},
    )
    ta, tb = a.token(), b.token()
    status, _ = http("POST", b.api + "/assignments", {"service": "shared"}, token=tb)
    assert status == 201
    for _ in range(20):  # every worker of B has the service cached
        assert fresh_get(b, "/services/shared")["service"] == "shared"
    for i in range(40):  # A's event ids run far ahead of B's
        status, _ = http("POST", a.api + "/assignments", {"service": f"a{i}"}, token=ta)
        assert status == 201
    time.sleep(0.5)
    status, _ = http("PATCH", b.api + "/services/shared", {"notes": "v2"}, token=tb)
    assert status == 200
    deadline = time.monotonic() + 5
    stale = 20
    while time.monotonic() < deadline and stale:
        stale = sum(fresh_get(b, "/services/shared")["notes"] != "v2" for _ in range(20))
        time.sleep(0.2)
    assert stale == 0, f"{stale} of 20 reads of B still stale 5 s after its write"
    # The channels are distinct and named by each registry's identity.
    channels = subprocess.run(
        ["redis-cli", "pubsub", "channels", "portreg:*"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    ours = [c for c in channels if c.endswith(":events")]
    assert len(set(ours)) >= 2, channels
    assert "portreg:events" not in channels
