"""Helpers for the host tests: child processes holding sockets, `ss` parsed, network namespaces."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import portreg_cmd

HOLDER = Path(__file__).with_name("holder.py")

Key = tuple[str, str, int, frozenset[int]]  # (protocol, address, port, every holding pid)

_PID = re.compile(r"pid=(\d+)")


@contextmanager
def holding(spec: dict[str, Any], prefix: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """Run holder.py (optionally under `prefix`, e.g. `ip netns exec NS`) until the block ends."""
    proc = subprocess.Popen(
        [*prefix, sys.executable, str(HOLDER), json.dumps(spec)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"holder exited early ({proc.wait()})"
        yield json.loads(line)
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ss(
    args: str = "-tulnpH", prefix: Sequence[str] = ()
) -> list[tuple[str, str, int, frozenset[int]]]:
    """`ss` lines as (protocol, address, port, pids); `*` (a dual-stack socket) reads as `::`."""
    out = subprocess.run([*prefix, "ss", *args.split()], capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        local = parts[4]
        addr, _, port = local.rpartition(":")
        addr = addr.strip("[]").split("%")[0]
        if addr == "*":
            addr = "::"
        pids = frozenset(int(p) for p in _PID.findall(line))
        rows.append((parts[0], addr, int(port), pids))
    return rows


def ss_keys(rows: list[tuple[str, str, int, frozenset[int]]]) -> Counter[Key]:
    """Each socket with every pid holding it."""
    return Counter((p, a, port, pids) for p, a, port, pids in rows)


def scan(*args: str, prefix: Sequence[str] = ()) -> list[dict[str, Any]]:
    proc = subprocess.run([*prefix, *portreg_cmd(), "scan", "--json", *args],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    data: list[dict[str, Any]] = json.loads(proc.stdout)
    return data


def scan_keys(found: list[dict[str, Any]]) -> Counter[Key]:
    """Listeners of the scanning process' own namespace, keyed as `ss_keys` does."""
    return Counter(
        (d["protocol"], d["address"], d["port"], frozenset(d["pids"]))
        for d in found
        if d["namespace"] is None
    )


def compare_with_ss(prefix: Sequence[str] = (), attempts: int = 5) -> Counter[Key]:
    """scan --json against `ss -tulnpH` taken just before and just after.

    Other tests may open and close sockets meanwhile: what both ss snapshots show must be in
    the scan, and the scan must show nothing neither snapshot has. Retried a few times, so a
    socket that came and went between the snapshots is no reason to fail.
    """
    problem = ""
    for _ in range(attempts):
        before = ss_keys(ss(prefix=prefix))
        ours = scan_keys(scan(prefix=prefix))
        after = ss_keys(ss(prefix=prefix))
        stable = before & after
        missing = stable - ours
        extra = ours - (before | after)
        if not missing and not extra:
            return ours
        problem = f"missing from scan: {sorted(missing)[:20]}; not in ss: {sorted(extra)[:20]}"
    raise AssertionError(problem)


def free_port() -> int:
    """A port no TCP or UDP socket uses, on any address (a dual-stack bind would clash)."""
    while True:
        tcp = socket.socket(socket.AF_INET6)
        udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        with tcp, udp:
            for s in (tcp, udp):
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            tcp.bind(("::", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("::", port))
            except OSError:
                continue
            return port
