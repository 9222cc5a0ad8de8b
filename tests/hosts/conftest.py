"""Hosts simulated by network namespaces (`ip netns`, root), and real servers.

Each namespace gets a name of its own per test, so parallel runs never share one, and is
deleted afterwards with everything still running inside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.server.conftest import pg_admin, pg_url, start_server  # noqa: F401 (fixtures)

Netns = Callable[[], str]


@pytest.fixture
def netns() -> Iterator[Netns]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    made: list[str] = []
    holders: list[subprocess.Popen[bytes]] = []

    def make() -> str:
        name = f"pr-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        made.append(name)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        return name

    make.holders = holders  # type: ignore[attr-defined]
    yield make
    for proc in holders:
        proc.kill()
        proc.wait(10)
    for name in made:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def listen_in(ns: str, tcp: list[int], udp: list[int]) -> subprocess.Popen[bytes]:
    """A process inside `ns` holding TCP listeners and UDP sockets; prints `ready`."""
    code = (
        "import socket, sys, time\n"
        f"tcp, udp = {tcp!r}, {udp!r}\n"
        "keep = []\n"
        "for p in tcp:\n"
        "    s = socket.socket(); s.bind(('0.0.0.0', p)); s.listen(); keep.append(s)\n"
        "for p in udp:\n"
        "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', p))\n"
        "    keep.append(s)\n"
        "print('ready', flush=True)\n"
        "time.sleep(3600)\n"
    )
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "python3", "-c", code], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def ss_rows(ns: str) -> set[tuple[str, str, int]]:
    """(protocol, address, port) of every listener `ss -tuln` shows inside `ns`."""
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "ss", "-tulnH"], capture_output=True, text=True, check=True
    ).stdout
    rows = set()
    for line in out.splitlines():
        parts = line.split()
        proto, local = parts[0], parts[4]
        address, _, port = local.rpartition(":")
        address = address.strip("[]").split("%")[0]
        rows.add((proto, "::" if address == "*" else address, int(port)))
    return rows
