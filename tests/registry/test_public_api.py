"""The public surface, pinned: the Python API for applications and the command names.

Changing either is a breaking change for users and scripts; this test makes it deliberate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import portreg.api
from portreg.cli.parser import COMMANDS
from portreg.errors import ExitCode, PortregError
from tests.conftest import Run


def test_python_api_surface() -> None:
    assert sorted(portreg.api.__all__) == [
        "PortregError",
        "env_var_for",
        "load_registry",
        "port_for",
    ]


def test_command_names_and_exit_codes() -> None:
    assert COMMANDS == (
        "init", "import", "list", "show", "add", "assign", "reserve", "release", "move",
        "check", "who", "scan", "audit", "sync", "render", "refs", "protect", "serve", "token",
        "push", "pull", "run", "lease", "leases", "worktree", "mcp", "completion",
        "agent",
    )  # fmt: skip
    assert [(c.name, int(c)) for c in ExitCode] == [("OK", 0), ("PROBLEMS", 1), ("BAD_INPUT", 2)]


def test_every_command_has_a_module_with_run() -> None:
    import importlib

    for name in COMMANDS:
        if name in ("mcp", "completion"):  # they use the CLI itself, so they live above it
            module = importlib.import_module(
                "portreg.mcp" if name == "mcp" else "portreg.cli.completion"
            )
        else:
            suffix = "_" if name in ("import", "list") else ""
            module = importlib.import_module(f"portreg.commands.{name}{suffix}")
        assert callable(module.run), name


def test_port_for_reads_the_registry_and_honours_the_override(run: Run, tmp_path: Path) -> None:
    assert run("init").returncode == 0
    assert run("add", "API Server", "--port", "54000").returncode == 0
    registry = tmp_path / "ports.toml"
    assert portreg.api.port_for("api-server", registry=registry, environ={}) == 54000
    assert portreg.api.port_for("API Server", registry=registry, environ={}) == 54000
    assert portreg.api.env_var_for("API Server") == "API_SERVER_PORT"
    env = {"API_SERVER_PORT": "54100"}
    assert portreg.api.port_for("api-server", registry=registry, environ=env) == 54100
    with pytest.raises(PortregError, match="unknown service"):
        portreg.api.port_for("nope", registry=registry, environ={})
    with pytest.raises(PortregError, match="no port in staging"):
        portreg.api.port_for("api-server", "staging", registry=registry, environ={})
    with pytest.raises(PortregError, match="API_SERVER_PORT: not a port number"):
        portreg.api.port_for("api-server", registry=registry, environ={"API_SERVER_PORT": "x"})
