"""Listening sockets from /proc/net/{tcp,tcp6,udp,udp6} (the fallback reader)."""

from __future__ import annotations

import socket
import struct

from portreg.host import Listener

_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


def _address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc prints IPv6 as four host-order 32-bit words.
    words = struct.unpack("<4I", raw)
    return socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))


def listeners(port_range: tuple[int, int] | None, root: str = "/proc/net") -> list[Listener]:
    out: list[Listener] = []
    for proto, family, name, state in (
        ("tcp", "ipv4", "tcp", _TCP_LISTEN),
        ("tcp", "ipv6", "tcp6", _TCP_LISTEN),
        ("udp", "ipv4", "udp", _UDP_UNCONNECTED),
        ("udp", "ipv6", "udp6", _UDP_UNCONNECTED),
    ):
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
                    out.append(Listener(port, proto, _address(addr), family, int(parts[9])))
        except FileNotFoundError:
            continue
    return out
