"""`portreg mcp`: a real MCP client (the `mcp` SDK) spawns the server over stdio."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from portreg import store
from portreg.model import Registry, Service
from tests.conftest import portreg_cmd
from tests.server.conftest import run_async

HOLD = (
    "import socket, sys\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
    "print(s.getsockname()[1], flush=True); sys.stdin.read()\n"
)


def _registry(tmp_path: Path) -> Path:
    path = tmp_path / "ports.toml"
    store.create(path, Registry(services={"api": Service("api", "API", {"development": 53010})}))
    return path


async def _session(tmp_path: Path, args: list[str], calls: list[tuple[str, dict[str, Any]]]) -> Any:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    cmd = portreg_cmd()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    params = StdioServerParameters(
        command=cmd[0], args=[*cmd[1:], "mcp", *args], cwd=tmp_path, env=env
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
        return tools, results


def _drive(tmp_path: Path, args: list[str], *calls: tuple[str, dict[str, Any]]) -> Any:
    return run_async(asyncio.wait_for(_session(tmp_path, args, list(calls)), 60))


def _text(result: Any) -> str:
    return "".join(c.text for c in result.content)


def test_lists_every_tool_and_fewer_when_read_only(tmp_path: Path) -> None:
    _registry(tmp_path)
    tools, _ = _drive(tmp_path, [])
    assert tools == sorted(
        ["list", "show", "check", "who", "assign", "reserve", "release", "lease", "move"]
    )
    tools, _ = _drive(tmp_path, ["--read-only"])
    assert tools == ["check", "list", "show", "who"]


def test_check_of_a_held_port_names_the_holder_pid(tmp_path: Path, run: Any) -> None:
    _registry(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        port = int(holder.stdout.readline())
        _, (checked, who) = _drive(tmp_path, [], ("check", {"port": port}), ("who", {"port": port}))
        cli = run("check", str(port), "--json")
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(10)
    assert not checked.is_error
    assert _text(checked) == cli.stdout  # byte for byte the CLI's JSON
    assert str(holder.pid) in _text(checked)
    assert [lst["pid"] for lst in json.loads(_text(who))] == [holder.pid]


def test_assign_and_move_change_ports_toml_and_errors_are_tool_errors(tmp_path: Path) -> None:
    path = _registry(tmp_path)
    _, (assigned, moved, bad) = _drive(
        tmp_path,
        [],
        ("assign", {"service": "worker"}),
        ("move", {"service": "api", "port": 53020, "reason": "clash"}),
        ("show", {"service": "nope"}),
    )
    assert not assigned.is_error and not moved.is_error, (_text(assigned), _text(moved))
    reg = store.load(path)
    assert reg.services["api"].ports["development"] == 53020
    port = reg.services["worker"].ports["development"]
    assert str(port) in _text(assigned)
    assert bad.is_error and "nope" in _text(bad)


def test_read_only_refuses_writing_tools(tmp_path: Path) -> None:
    path = _registry(tmp_path)
    before = path.read_bytes()
    _, (res,) = _drive(tmp_path, ["--read-only"], ("assign", {"service": "worker"}))
    assert res.is_error
    assert path.read_bytes() == before


@pytest.mark.skipif(
    importlib.util.find_spec("portreg.commands.lease") is None, reason="`portreg lease` not merged"
)
def test_lease_tool_answers_with_the_cli_json(tmp_path: Path) -> None:
    _registry(tmp_path)
    _, (res,) = _drive(tmp_path, [], ("lease", {"ttl": 5}))
    assert not res.is_error, _text(res)
    assert "port" in json.loads(_text(res))
