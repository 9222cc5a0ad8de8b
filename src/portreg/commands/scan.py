"""`scan [--range A-B] [--json | --ndjson]`: every listening TCP and unconnected UDP socket.

JSON: an array, one object per socket (`port`, `protocol`, `address`, `family`, `pid`,
`process`, `cmdline`, `user`, `namespace`, `uid`, `dual_stack`, `pids`), sorted by port. `pid`
is null where the holder cannot be seen ("owner unknown"); `pids` lists every process holding
the socket (a pre-fork server's parent and workers), `pid` first. The JSON never reads the
registry, so it is the host alone and stays fast. `--ndjson` prints the same objects one per
line (compact, no enclosing array), for hosts so large that a consumer wants to stream; it
implies `--json`. The human table adds a "Registered to" column when a ports.toml is found
(no registry is fine). Exit 0 always: scanning finds facts, not problems.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.views import Table, View

if TYPE_CHECKING:
    import argparse

    from portreg.host import Listener, Scan
    from portreg.model import Registry


def address(lst: Listener) -> str:
    """`127.0.0.1`, `[::1]`, `[::] (v4+v6)` — as `ss` writes them, dual-stack named."""
    if lst.family == "ipv4":
        return lst.address
    text = f"[{lst.address}]"
    return f"{text} (v4+v6)" if lst.dual_stack else text


def owner(lst: Listener) -> str:
    if lst.pid is None:
        return "owner unknown"
    more = f" +{len(lst.pids) - 1} more" if len(lst.pids) > 1 else ""
    return f"{lst.process or '?'} (pid {lst.pid}{more})"


def registered(registry: Registry | None, port: int) -> str:
    if registry is None:
        return ""
    return ", ".join(f"{s.id} ({env})" for s, env in registry.holders(port))


def load_registry(env: Environment) -> Registry | None:
    """The registry when one is configured or found; None means host only."""
    if not (env.is_remote or env.registry_location is not None):
        return None
    from portreg.backend import open_backend

    return open_backend(env).load()


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The listeners found (optionally in a range), matched against the registry if any."""

    scan: Scan
    port_range: tuple[int, int] | None = None
    registry: Registry | None = None
    has_registry: bool = False
    table: bool = True  # False under --json: `emit` asks for views only to find warnings
    exit_code: ExitCode = ExitCode.OK
    lines: bool = False  # --ndjson: one JSON object per line

    @property
    def found(self) -> list[Listener]:
        return self.scan.listeners()

    def to_json(self) -> Any:
        return [lst.to_json() for lst in self.found]

    def json_chunks(self) -> Iterator[str]:
        """The text of `to_json()` as `--json` prints it (or NDJSON under `--ndjson`), built
        straight from the kernel's records (see host.Scan)."""
        return self.scan.json_chunks(lines=self.lines)

    def views(self) -> list[View]:
        if not self.table:
            return []
        found = self.found
        namespaced = any(lst.namespace for lst in found)
        columns = ["Port", "Proto", "Address", "Owner", "User"]
        if namespaced:
            columns.append("Namespace")
        if self.has_registry:
            columns.append("Registered to")
        rows = []
        for lst in found:
            row = [str(lst.port), lst.protocol, address(lst), owner(lst), lst.user or "?"]
            if namespaced:
                row.append(lst.namespace or "host")
            if self.has_registry:
                row.append(registered(self.registry, lst.port) or "-")
            rows.append(tuple(row))
        unknown = sum(1 for lst in found if lst.pid is None)
        where = f" in {self.port_range[0]}-{self.port_range[1]}" if self.port_range else ""
        caption = f"{len(found)} listening socket(s){where}"
        if unknown:
            caption += f"; {unknown} with owner unknown (its process is not visible here)"
        if not self.has_registry:
            caption += "; no registry found (host only)"
        return [Table(tuple(columns), tuple(rows), title="Listening sockets", caption=caption)]


def run(env: Environment, args: argparse.Namespace) -> ScanResult:
    from portreg.host import scan

    port_range: tuple[int, int] | None = args.range
    registry = None if env.json else load_registry(env)
    return ScanResult(
        scan(port_range),
        port_range,
        registry,
        has_registry=registry is not None,
        table=not env.json,
        lines=bool(getattr(args, "ndjson", False)),
    )
