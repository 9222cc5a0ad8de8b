"""Listening sockets from /proc/net/{tcp,tcp6,udp,udp6} (the fallback reader).

Also reads another network namespace's tables through `/proc/<pid>/net`. Returns the same raw
tuples as the netlink reader. /proc/net cannot tell a dual-stack `[::]` socket from a v6-only
one, so `v6only` is None here.
"""

from __future__ import annotations

import _socket as socket  # not `socket`: see _netlink
import struct

from portreg.host._netlink import Raw

_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"

_TABLES = (
    ("tcp", "ipv4", "tcp", _TCP_LISTEN),
    ("tcp", "ipv6", "tcp6", _TCP_LISTEN),
    ("udp", "ipv4", "udp", _UDP_UNCONNECTED),
    ("udp", "ipv6", "udp6", _UDP_UNCONNECTED),
)


def address_bytes(hex_addr: str) -> bytes:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return raw[::-1]
    # /proc prints IPv6 as four host-order 32-bit words.
    return struct.pack(">4I", *struct.unpack("<4I", raw))


def address(hex_addr: str) -> str:
    raw = address_bytes(hex_addr)
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def dump(port_range: tuple[int, int] | None = None, root: str = "/proc/net") -> list[Raw]:
    """Every LISTEN TCP socket and unconnected UDP socket in the tables under `root`."""
    out: list[Raw] = []
    for proto, family, name, state in _TABLES:
        try:
            with open(f"{root}/{name}", encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) < 10 or parts[3] != state:
                        continue
                    addr, _, port_hex = parts[1].rpartition(":")
                    port = int(port_hex, 16)
                    if port_range and not port_range[0] <= port <= port_range[1]:
                        continue
                    out.append(
                        (proto, family, address_bytes(addr), port, int(parts[9]), int(parts[7]),
                         None)
                    )  # fmt: skip
        except OSError:
            # A table the kernel lacks (no IPv6), or a process that exited meanwhile.
            continue
    return out
