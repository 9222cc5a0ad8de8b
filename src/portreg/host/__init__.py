"""What is listening on this host, and who holds it.

Interface used by the rest of portreg: `Listener`, `listeners()`, `live_ports()`.
(First version: reads /proc/net; the fast netlink reader replaces the internals.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Listener:
    port: int
    protocol: str  # "tcp" | "udp"
    address: str
    family: str  # "ipv4" | "ipv6"
    inode: int = 0
    pid: int | None = None
    process: str | None = None
    cmdline: str | None = None
    user: str | None = None
    namespace: str | None = None  # None: the host's own network namespace

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["inode"]
        return out


def listeners(port_range: tuple[int, int] | None = None, *, owners: bool = True) -> list[Listener]:
    """Every listening TCP socket and unconnected UDP socket, IPv4 and IPv6."""
    from portreg.host import _procnet

    return _procnet.listeners(port_range)


def live_ports(port_range: tuple[int, int] | None = None) -> set[int]:
    """The port numbers something listens on (TCP or UDP, any address), without owners."""
    return {lst.port for lst in listeners(port_range, owners=False)}
