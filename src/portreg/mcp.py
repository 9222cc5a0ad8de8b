"""`portreg mcp [--read-only]`: the registry as a Model Context Protocol server over stdio.

Each tool runs the real command line in-process (`portreg.cli.run` with its streams captured),
so an agent gets byte for byte the JSON of `portreg COMMAND --json`, and a refused request is
a tool error carrying the CLI's one `error:` message. The registry is found as the CLI finds
it: `--registry`, else $PORTREG_REGISTRY, else the nearest ports.toml above the server's cwd.
`--read-only` leaves out the tools that write (assign, reserve, release, lease, move).

Built on the official `mcp` SDK (2.x, `MCPServer`); imported only here, so no other command
pays for it at start-up.
"""

from __future__ import annotations

import argparse
import io
import threading
from collections.abc import Callable
from typing import Any

from portreg.environment import Environment
from portreg.views import Simple

READ_TOOLS = ("list", "show", "check", "who")
WRITE_TOOLS = ("assign", "reserve", "release", "lease", "move")

# The command line keeps per-run state in its Environment only, but one run at a time keeps
# two writes from one agent in the order it sent them.
_LOCK = threading.Lock()


class _Cli:
    """Runs `portreg ARGV --json` in-process against the server's registry."""

    def __init__(self, env: Environment, registry: str | None) -> None:
        self._env = env
        self._registry = registry

    def __call__(self, *argv: str) -> str:
        from mcp.server.mcpserver.exceptions import ToolError

        from portreg.cli import run

        out, err = io.StringIO(), io.StringIO()
        env = Environment(stdout=out, stderr=err, cwd=self._env.cwd, environ=self._env.environ)
        full = [*argv, "--json"]
        if self._registry:
            full = ["--registry", self._registry, *full]
        with _LOCK:
            code = run(env, full)
        if code == 2:
            lines = err.getvalue().strip().splitlines()
            message = lines[-1].removeprefix("error: ") if lines else "failed"
            raise ToolError(message)
        return out.getvalue()


def build(env: Environment, registry: str | None, *, read_only: bool) -> Any:
    """The MCP server with its tools (the writing ones left out when `read_only`)."""
    from mcp.server.mcpserver import MCPServer

    from portreg import __version__

    cli = _Cli(env, registry)
    server = MCPServer(
        name="portreg",
        version=__version__,
        instructions="The project's services-and-ports registry (ports.toml), checked against "
        "the live host. Ask before choosing a port: `check`, `who`, then `assign`.",
        log_level="WARNING",
    )

    def list_(env: str | None = None) -> str:
        """Every service and its ports (JSON of `portreg list --json`); `env` filters."""
        return cli("list", *(["--env", env] if env else []))

    def show(service: str) -> str:
        """Everything recorded about one service (`portreg show SERVICE --json`)."""
        return cli("show", service)

    def check(port: int) -> str:
        """Is a port free, registered, allowed, in use (and by which pid)? `portreg check`."""
        return cli("check", str(port))

    def who(port: int) -> str:
        """Which process holds a port (`portreg who PORT --json`); never kills anything."""
        return cli("who", str(port))

    def assign(
        service: str,
        env: str = "development",
        protocol: str | None = None,
        transport: str | None = None,
    ) -> str:
        """Give a service the next free port by the registry's rules and record it."""
        argv = ["assign", service, "--env", env]
        argv += ["--protocol", protocol] if protocol else []
        argv += ["--transport", transport] if transport else []
        return cli(*argv)

    def reserve(
        service: str, port: int | None = None, purpose: str = "", env: str = "development"
    ) -> str:
        """Keep a port for a planned service (the next free one unless `port` is given)."""
        argv = ["reserve", service, "--env", env, "--purpose", purpose]
        argv += ["--port", str(port)] if port is not None else []
        return cli(*argv)

    def release(service: str, env: str | None = None) -> str:
        """Free a service's port in one environment, or the whole service."""
        return cli("release", service, *(["--env", env] if env else []))

    def lease(ttl: int | None = None) -> str:
        """Lease a port from the lease band for `ttl` seconds (`portreg lease --json`)."""
        return cli("lease", *(["--ttl", str(ttl)] if ttl is not None else []))

    def move(service: str, port: int, reason: str, env: str = "development") -> str:
        """The change procedure: move a service to a new port, with the reason recorded."""
        return cli("move", service, str(port), "--reason", reason, "--env", env)

    tools: dict[str, Callable[..., str]] = {
        "list": list_,
        "show": show,
        "check": check,
        "who": who,
        "assign": assign,
        "reserve": reserve,
        "release": release,
        "lease": lease,
        "move": move,
    }
    for name, fn in tools.items():
        if read_only and name in WRITE_TOOLS:
            continue
        server.add_tool(fn, name=name, structured_output=False)
    return server


def run(env: Environment, args: argparse.Namespace) -> Simple:
    server = build(env, args.registry, read_only=args.read_only)
    server.run("stdio")
    return Simple()
