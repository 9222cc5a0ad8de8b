"""Issue 13's "done means", against a real server on SQLite and on PostgreSQL: three hosts
(network namespaces) reported by `portreg agent --once`."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.conftest import portreg_cmd
from tests.hosts.conftest import Netns, listen_in, ss_rows
from tests.server.conftest import Server, StartServer, http


def agent(server: Server, *args: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {**server.env, "PORTREG_TOKEN": token}
    return subprocess.run(
        [*portreg_cmd(), "agent", "--server", server.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**server.env, "PORTREG_TOKEN": server.token("write")}
    return subprocess.run(
        [*portreg_cmd(), "--registry", server.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, start_server: StartServer) -> Server:
    env = {"PORTREG_CHECK_HOST": "false", "PORTREG_REPAIR_SECONDS": "3600"}
    if request.param == "postgresql":
        env["PORTREG_DATABASE_URL"] = request.getfixturevalue("pg_url")
    return start_server(env=env)


def findings(server: Server) -> list[dict[str, Any]]:
    status, body = http("GET", server.api + "/audit")
    assert status == 200, body
    return list(body["findings"])


def test_three_hosts_reported_by_agents(server: Server, netns: Netns) -> None:
    h1, h2, h3 = netns(), netns(), netns()
    holders = netns.holders  # type: ignore[attr-defined]
    holders.append(listen_in(h1, tcp=[53000], udp=[]))
    holders.append(listen_in(h2, tcp=[53000, 53001, 53004], udp=[53002]))
    token = server.token("agent")
    for ns in (h1, h2, h3):
        done = agent(server, "--netns", ns, "--once", "--json", token=token)
        assert done.returncode == 0, done.stderr

    status, hosts = http("GET", server.api + "/hosts")
    assert status == 200
    assert sorted(h["host"] for h in hosts) == sorted([h1, h2, h3])
    assert all(not h["stale"] for h in hosts)
    for ns in (h1, h2, h3):
        status, rows = http("GET", f"{server.api}/hosts/{ns}/listeners")
        assert status == 200
        got = {(r["protocol"], r["address"], r["port"]) for r in rows}
        assert got == ss_rows(ns)
        assert next(h for h in hosts if h["host"] == ns)["listeners"] == len(rows)

    # h1's 53000 is a registered service; h2's 53000 is the same number on another host.
    assert cli(server, "add", "web", "--port", "53000", "--host", h1).returncode == 0
    assert cli(server, "add", "web-2", "--port", "53000", "--host", h2).returncode == 0
    twice = cli(server, "add", "web-3", "--port", "53000", "--host", h2)
    assert twice.returncode == 2
    assert "already registered to web-2" in twice.stderr

    found = findings(server)
    undocumented = {(f["host"], f["port"]) for f in found if f["code"] == "undocumented-listener"}
    assert undocumented == {(h2, 53001), (h2, 53002), (h2, 53004)}
    silent = [f for f in found if f["code"] == "not-listening"]
    assert silent == []  # web and web-2 listen where they are registered
    assert not [f for f in found if f["code"] == "duplicate-port"]

    # h2 reported 53000-53002 and 53004 live (53000 also registered): the next free is 53003.
    first = cli(server, "assign", "api", "--host", h2)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "53003"
    # The default host (and h3) saw none of that: they start at the range's beginning.
    assert cli(server, "assign", "api-here").stdout.strip() == "53000"
    assert cli(server, "assign", "api-h3", "--host", h3).stdout.strip() == "53000"
    # An existing service on h2 gets its next environment's port on h2, by the fast path too.
    assert cli(server, "assign", "api", "--env", "staging").stdout.strip() == "53005"

    # A registered service nothing listens on is named with its host.
    found = findings(server)
    assert {(f["host"], f["service"]) for f in found if f["code"] == "not-listening"} == {
        (h2, "api"),
        (h3, "api-h3"),
    }

    status, listed = http("GET", server.api + "/services")
    assert {(r["service"], r["host"]) for r in listed} >= {
        ("web", h1),
        ("web-2", h2),
        ("api", h2),
        ("api-here", ""),
    }


def test_move_and_reserve_refuse_what_the_host_reported(server: Server, netns: Netns) -> None:
    h = netns()
    netns.holders.append(listen_in(h, tcp=[53010], udp=[]))  # type: ignore[attr-defined]
    assert agent(server, "--netns", h, "--once", token=server.token("agent")).returncode == 0
    assert cli(server, "add", "db", "--port", "53011", "--host", h).returncode == 0
    moved = cli(server, "move", "db", "53010", "--reason", "test")
    assert moved.returncode == 2
    assert f"port 53010 is in use on host {h}" in moved.stderr
    kept = cli(server, "reserve", "cache", "--port", "53010", "--host", h)
    assert kept.returncode == 2
    assert f"port 53010 is in use on host {h}" in kept.stderr
    assert cli(server, "reserve", "cache", "--port", "53010").returncode == 0  # default host


def test_agent_token_reports_and_nothing_else(server: Server, netns: Netns) -> None:
    h = netns()
    agent_token = server.token("agent")
    status, _ = http(
        "PUT", f"{server.api}/hosts/{h}/listeners", {"listeners": [{"port": 1}]}, token=agent_token
    )
    assert status == 200
    status, body = http("POST", server.api + "/assignments", {"service": "x"}, token=agent_token)
    assert status == 403, body
    read = server.token("read")
    status, _ = http("PUT", f"{server.api}/hosts/{h}/listeners", {"listeners": []}, token=read)
    assert status == 403
    status, _ = http("PUT", f"{server.api}/hosts/{h}/listeners", {"listeners": []})
    assert status == 401
    write = server.token("write")
    status, _ = http("PUT", f"{server.api}/hosts/{h}/listeners", {"listeners": []}, token=write)
    assert status == 200
    bad = {"listeners": [{"port": 70000}]}
    status, body = http("PUT", f"{server.api}/hosts/{h}/listeners", bad, token=write)
    assert status == 400, body
    status, body = http("GET", f"{server.api}/hosts/{h}/listeners")
    assert (status, body) == (200, [])  # the refused report changed nothing
    status, _ = http("GET", f"{server.api}/hosts/nope/listeners")
    assert status == 404
