"""200 hosts x 500 listeners reporting at once, against a real server: every report answered
2xx, every host listed with its 500 listeners."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server.conftest import Server, StartServer, http

HOSTS, LISTENERS = 200, 500


def rows(seed: int) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    ports = rnd.sample(range(1024, 65536), LISTENERS)
    return [
        {
            "port": p,
            "protocol": "tcp" if i % 3 else "udp",
            "address": "0.0.0.0",
            "family": "ipv4",
            "pid": 1000 + i,
            "process": f"svc{i}",
            "cmdline": f"/usr/bin/svc{i} --port {p}",
            "user": "app",
            "namespace": None,
            "uid": 1000,
            "dual_stack": False,
            "pids": [1000 + i],
        }
        for i, p in enumerate(ports)
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, start_server: StartServer) -> Server:
    env = {"PORTREG_CHECK_HOST": "false", "PORTREG_REPAIR_SECONDS": "3600"}
    if request.param == "postgresql":
        env["PORTREG_DATABASE_URL"] = request.getfixturevalue("pg_url")
    return start_server(env=env, workers=2)


def test_200_hosts_of_500_listeners_at_once(server: Server) -> None:
    token = server.token("agent")
    bodies = {f"host-{i:03d}": {"listeners": rows(i)} for i in range(HOSTS)}

    def put(host: str) -> int:
        status, _ = http(
            "PUT", f"{server.api}/hosts/{host}/listeners", bodies[host], token=token, timeout=120
        )
        return status

    with ThreadPoolExecutor(HOSTS) as pool:
        statuses = list(pool.map(put, bodies))
    assert [s for s in statuses if not 200 <= s < 300] == []

    status, hosts = http("GET", server.api + "/hosts")
    assert status == 200
    assert sorted(h["host"] for h in hosts) == sorted(bodies)
    assert {h["listeners"] for h in hosts} == {LISTENERS}
    for host in ("host-000", "host-137", "host-199"):
        status, got = http("GET", f"{server.api}/hosts/{host}/listeners")
        assert status == 200
        assert got == bodies[host]["listeners"]
