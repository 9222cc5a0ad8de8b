"""A child process that holds listening sockets for the host tests and the benchmark.

    python holder.py SPEC_JSON

SPEC_JSON: {"tcp4": [base, count], "udp4": [base, count], "tcp6_loop": n, "dual": n,
            "v6only": n, "udp6_loop": n, "addr": "127.0.0.1"}
Explicit ports from `base` up (busy ones skipped: binding port 0 thousands of times is
quadratic in the kernel). Prints one JSON line {"pid", "tcp4", "udp4", ...: [ports]} when ready,
then holds everything until stdin closes.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def _bind_run(
    kind: int, family: int, addr: str, base: int, count: int, keep: list[socket.socket]
) -> list[int]:
    ports: list[int] = []
    port = base
    while len(ports) < count and port <= 65535:
        s = socket.socket(family, kind)
        try:
            s.bind((addr, port))
            if kind == socket.SOCK_STREAM:
                s.listen(8)
        except OSError:
            s.close()
        else:
            keep.append(s)
            ports.append(port)
        port += 1
    return ports


def _bind_any(
    family: int, kind: int, addr: str, v6only: bool | None, keep: list[socket.socket]
) -> int:
    s = socket.socket(family, kind)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
    s.bind((addr, 0))
    if kind == socket.SOCK_STREAM:
        s.listen(8)
    keep.append(s)
    return int(s.getsockname()[1])


def main() -> None:
    spec = json.loads(sys.argv[1])
    addr = spec.get("addr", "127.0.0.1")
    keep: list[socket.socket] = []
    out: dict[str, object] = {"pid": os.getpid()}
    if "tcp4" in spec:
        out["tcp4"] = _bind_run(socket.SOCK_STREAM, socket.AF_INET, addr, *spec["tcp4"], keep)
    if "udp4" in spec:
        out["udp4"] = _bind_run(socket.SOCK_DGRAM, socket.AF_INET, addr, *spec["udp4"], keep)
    v6 = socket.AF_INET6
    out["tcp6_loop"] = [
        _bind_any(v6, socket.SOCK_STREAM, "::1", None, keep)
        for _ in range(spec.get("tcp6_loop", 0))
    ]
    out["udp6_loop"] = [
        _bind_any(v6, socket.SOCK_DGRAM, "::1", None, keep) for _ in range(spec.get("udp6_loop", 0))
    ]
    out["dual"] = [
        _bind_any(v6, socket.SOCK_STREAM, "::", False, keep) for _ in range(spec.get("dual", 0))
    ]
    out["v6only"] = [
        _bind_any(v6, socket.SOCK_STREAM, "::", True, keep) for _ in range(spec.get("v6only", 0))
    ]
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    sys.stdin.read()


if __name__ == "__main__":
    main()
