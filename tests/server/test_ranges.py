"""A range registration on the server (issue 10): every port of it is taken, on SQLite and
PostgreSQL, for assignments, the port view and a second registration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Run
from tests.server.conftest import StartServer, http

COMPOSE = """\
services:
  coturn:
    image: coturn/coturn
    ports:
      - "53000-53009:53000-53009"
      - "3478:3478"
      - "3478:3478/udp"
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_pushed_range_is_never_handed_out(
    backend: str,
    start_server: StartServer,
    run: Run,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    env = {}
    if backend == "postgresql":
        env["PORTREG_DATABASE_URL"] = request.getfixturevalue("pg_url")
    server = start_server(env=env)
    token = server.token()
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "docker-compose.yml").write_text(COMPOSE)
    assert run("import", "docker-compose.yml", cwd=proj).returncode == 0
    pushed = run("push", server.url, cwd=proj, env={"PORTREG_TOKEN": token})
    assert pushed.returncode == 0, pushed.stderr
    got = []
    for i in range(5):
        status, body = http("POST", server.api + "/assignments", {"service": f"s{i}"}, token=token)
        assert status == 201, body
        got.append(body["port"])
    assert got == [53010, 53011, 53012, 53013, 53014]  # the first free ports after the range
    status, info = http("GET", server.api + "/ports/53005")
    assert status == 200
    assert "coturn" in str(info)
    status, rows = http("GET", server.api + "/services")
    assert status == 200
    ranged = [r for r in rows if r.get("port_end") is not None]
    assert [(r["port"], r["port_end"]) for r in ranged] == [(53000, 53009)]
    assert {r["transport"] for r in rows if r["port"] == 3478} == {"tcp", "udp"}
