"""One table of scenarios, run against every door: the local ports.toml, and the same command
line with `--registry http://…` to a server on SQLite and on PostgreSQL.

Every door must give the same ports, the same refusals word for word (a remote refusal reads
`server said <status>: <the same message>`, the status from the error's kind), the same
`list --json` afterwards and one next-audit date. The expected values are written here, from
the rules, not recorded from a run.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import portreg_cmd
from tests.server.conftest import Server, StartServer, http

# Below Linux's ephemeral range (32768-60999): no test server's free_port() lands here, so the
# live-host check sees the same (empty) host from every door.
REGISTRY = """\
[registry]
project = "conformance"
title = "Services and Ports Registry"

[policy]
range = [31000, 31099]
avoid = [31003]
step = 1
audit_interval_days = 30
last_audit = 2026-01-31

[services.api]
name = "api"
status = "active"
protocol = "http"
transport = "tcp"
ports = {development = 31000, staging = "TBD"}

[services.db]
name = "db"
status = "active"
protocol = "postgres"
transport = "tcp"
ports = {development = 31001}

[services.cache]
name = "cache"
status = "reserved"
protocol = "tcp"
transport = "tcp"
ports = {development = 31002}
purpose = "planned cache"
"""

HAS_NO_STAGING = "api has no port in staging; use `portreg assign` or `portreg add` to give it one"

# (arguments, exit code, expected stdout (None: not compared), HTTP status of a refusal, message)
STEPS: list[tuple[tuple[str, ...], int, str | None, int | None, str | None]] = [
    (("assign", "worker"), 0, "31004", None, None),  # 31002 reserved, 31003 avoided
    (("assign", "worker"), 0, "31004", None, None),  # already has one: unchanged
    (("assign", "worker", "--env", "staging"), 0, "31005", None, None),
    (("move", "api", "31003", "--reason", "r"), 2, None, 400,
     "cannot move api to 31003: port 31003 is a standard port on the avoid list"),
    (("move", "api", "31001", "--reason", "r"), 2, None, 409,
     "cannot move api to 31001: port 31001 is already registered to db"),
    (("move", "api", "32000", "--reason", "r"), 2, None, 400,
     "cannot move api to 32000: port 32000 is outside the range 31000-31099"),
    (("move", "api", "31050", "--env", "staging", "--reason", "r"), 2, None, 400,
     HAS_NO_STAGING),
    (("move", "ghost", "31020", "--reason", "r"), 2, None, 404,
     "unknown service 'ghost' (see `portreg list`)"),
    (("move", "api", "31010", "--reason", "room for db replicas"), 0, None, None, None),
    (("release", "api", "--env", "staging"), 2, None, 400,
     "api has no port in staging; nothing to release"),
    (("release", "worker", "--env", "staging"), 0, None, None, None),
    (("reserve", "cache2", "--port", "31001"), 2, None, 409,
     "port 31001 is already registered to db"),
    (("reserve", "cache2", "--port", "31003"), 2, None, 400,
     "port 31003 is a standard port on the avoid list"),
    (("reserve", "cache2"), 0, None, None, None),  # the first free: 31000, api moved off it
    (("reserve", "api"), 2, None, 409, "api is already registered (active); nothing to reserve"),
    (("add", "x", "--port", "31001"), 2, None, 409, "port 31001 is already registered to db"),
    (("add", "x", "--port", "31001", "--force"), 2, None, 409,
     "port 31001 is already registered to db"),
    (("add", "bad\u0007name", "--port", "31020"), 2, None, 400,
     "not a usable service name: 'bad\\x07name' (it has a control character)"),
    (("assign", "!!!"), 2, None, 400,
     "not a usable service name: '!!!' (it needs a letter or digit)"),
    (("assign", "日本-api"), 0, "31005", None, None),  # freed by worker's staging release
    (("assign", "中国-api"), 0, "31006", None, None),  # another script, another service
    (("assign", "api-😀"), 2, None, 409, "'api-😀' would get the id 'api', which is 'api' "
     "already; choose a name that differs in its letters or digits"),
]  # fmt: skip

EXPECTED_ROWS = {
    ("api", "development"): 31010,
    ("api", "staging"): None,
    ("db", "development"): 31001,
    ("cache", "development"): 31002,
    ("worker", "development"): 31004,
    ("worker", "staging"): None,
    ("cache2", "development"): 31000,
    ("日本-api", "development"): 31005,
    ("中国-api", "development"): 31006,
}
NEXT_AUDIT = "2026-03-02"  # 2026-01-31 + 30 days: a count of days, not a calendar month


@dataclass
class Door:
    name: str
    cwd: Path
    registry: str
    env: dict[str, str]
    server: Server | None = None

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*portreg_cmd(), "--registry", self.registry, *args],
            cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}


@pytest.fixture(params=["local", "sqlite", "postgresql"])
def door(
    request: pytest.FixtureRequest, tmp_path: Path, start_server: StartServer
) -> Iterator[Door]:
    seed = tmp_path / "seed" / "ports.toml"
    seed.parent.mkdir()
    seed.write_text(REGISTRY)
    if request.param == "local":
        yield Door("local", seed.parent, str(seed), _base_env())
        return
    env = {"PORTREG_SEED": str(seed)}
    if request.param == "postgresql":
        env["PORTREG_DATABASE_URL"] = request.getfixturevalue("pg_url")
    server = start_server(env=env)
    client_env = {**_base_env(), "PORTREG_TOKEN": server.token("write")}
    work = tmp_path / "client"
    work.mkdir()
    yield Door(request.param, work, server.url, client_env, server)


def _message(door: Door, stderr: str, status: int) -> str:
    (line,) = stderr.strip().splitlines()
    assert line.startswith("error: "), stderr
    text = line.removeprefix("error: ")
    if door.server is not None:
        prefix = f"server said {status}: "
        assert text.startswith(prefix), (door.name, stderr)
        text = text.removeprefix(prefix)
    return text


def test_every_door_answers_the_table_alike(door: Door) -> None:
    for args, code, stdout, status, message in STEPS:
        proc = door.run(*args)
        assert proc.returncode == code, (door.name, args, proc.stdout, proc.stderr)
        if stdout is not None:
            assert proc.stdout.strip() == stdout, (door.name, args)
        if message is not None:
            assert status is not None
            assert _message(door, proc.stderr, status) == message, (door.name, args)

    listed = json.loads(door.run("list", "--json").stdout)
    assert {(r["service"], r["environment"]): r["port"] for r in listed} == EXPECTED_ROWS
    worker = next(r for r in listed if r["service"] == "worker")
    assert (worker["protocol"], worker["transport"], worker["status"]) == ("tcp", "tcp", "active")
    cache2 = next(r for r in listed if r["service"] == "cache2")
    assert cache2["status"] == "reserved"


def test_every_door_names_one_next_audit_date(door: Door) -> None:
    rendered = json.loads(door.run("render", "--format", "json").stdout)
    assert rendered["policy"]["next_audit"] == NEXT_AUDIT
    audited = door.run("audit", "--json")
    assert audited.returncode in (0, 1), audited.stderr
    assert json.loads(audited.stdout)["summary"]["next_audit"] == NEXT_AUDIT
    if door.server is not None:
        status, policy = http("GET", door.server.api + "/policy")
        assert status == 200 and policy["next_audit"] == NEXT_AUDIT
        status, audit = http("GET", door.server.api + "/audit")
        assert status == 200 and audit["next_audit"] == NEXT_AUDIT
        status, page = http("GET", door.server.url + "/")
        assert status == 200 and NEXT_AUDIT in str(page)


def test_list_json_is_the_same_at_every_door(tmp_path: Path, start_server: StartServer) -> None:
    """Not only the ports: every field of every row, local against a server seeded alike."""
    seed = tmp_path / "ports.toml"
    seed.write_text(REGISTRY)
    server = start_server(env={"PORTREG_SEED": str(seed)})
    local = Door("local", tmp_path, str(seed), _base_env())
    remote = Door("sqlite", tmp_path, server.url, _base_env(), server)
    doors = (local, remote)
    rows: list[Any] = [json.loads(d.run("list", "--json").stdout) for d in doors]
    assert rows[0] == rows[1]
    assert len(rows[0]) == 4
    checks = [json.loads(d.run("check", "31001", "31003", "31020", "--json").stdout) for d in doors]
    assert checks[0] == checks[1]
    assert [c["allowed"] for c in checks[0]] == [True, False, True]
    shown = [json.loads(d.run("show", "api", "--json").stdout) for d in doors]
    assert [{k: v for k, v in s.items() if k != "history"} for s in shown] == [
        {k: v for k, v in shown[0].items() if k != "history"}
    ] * 2
    status, port = http("GET", server.api + "/ports/31003")
    assert status == 200 and port["problems"] == checks[0][1]["problems"]
