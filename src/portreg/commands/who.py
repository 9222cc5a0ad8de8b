"""`who PORT [--json]`: which process holds a port — it reports, it never kills or signals.

Looks at TCP and UDP, IPv4 and IPv6, the host and every network namespace it can see. The
/proc/*/fd walk stops as soon as the port's sockets have a holder, so it answers quickly.

JSON: an array of the same objects as `scan --json`, for that port only (`[]` when nothing
listens). Exit codes: 0 when something listens on the port, 1 when nothing does (like `fuser`
and `pgrep`: "not found" is the answer a script tests for, `portreg who 54000 || start-it`),
2 for a port that is not a number in 1-65535.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.views import Lines, View

if TYPE_CHECKING:
    import argparse

    from portreg.host import Listener, Scan
    from portreg.model import Registry


@dataclass(frozen=True, slots=True)
class WhoResult:
    """Who listens on one port, with the registry (if any) to name the service."""

    port: int
    scan: Scan
    registry: Registry | None = None

    @property
    def found(self) -> list[Listener]:
        return self.scan.listeners()

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if len(self.scan) else ExitCode.PROBLEMS

    def to_json(self) -> Any:
        return [lst.to_json() for lst in self.found]

    def json_chunks(self) -> Iterator[str]:
        return self.scan.json_chunks()

    def views(self) -> list[View]:
        from portreg.commands.scan import address, registered

        lines: list[str] = []
        found = self.found
        if not found:
            lines.append(f"{self.port}: nothing listens (tcp or udp, any address)")
        for lst in found:
            where = f" in network namespace {lst.namespace}" if lst.namespace else ""
            head = f"{lst.port}/{lst.protocol} on {address(lst)}{where}: "
            if lst.pid is None:
                user = f" (socket of user {lst.user})" if lst.user else ""
                lines.append(head + f"owner unknown{user} - its process is not visible here")
                continue
            lines.append(head + f"{lst.process or '?'} (pid {lst.pid}, user {lst.user or '?'})")
            if lst.cmdline:
                lines.append(f"  command: {lst.cmdline}")
            if len(lst.pids) > 1:
                lines.append(f"  also held by pids {', '.join(map(str, lst.pids[1:]))}")
        if self.registry is not None:
            reg = registered(self.registry, self.port)
            lines.append(f"  registered to: {reg}" if reg else "  registered: no")
        return [Lines(tuple(lines))]


def run(env: Environment, args: argparse.Namespace) -> WhoResult:
    from portreg.commands.scan import load_registry
    from portreg.host import scan

    port: int = args.port
    registry = None if env.json else load_registry(env)
    return WhoResult(port, scan((port, port)), registry)
