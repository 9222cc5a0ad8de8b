"""The server's host check shares one scan between requests that asked before it started."""

from __future__ import annotations

import asyncio
import socket

import pytest

from portreg.server import hostcheck
from tests.server.conftest import run_async


def _listening() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_concurrent_requests_share_scans_and_each_sees_what_was_bound_before_it_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scans: list[tuple[int, int]] = []
    real = hostcheck.scan_blocking

    def counted(port_range: tuple[int, int]) -> set[int]:
        scans.append(port_range)
        return real(port_range)

    monkeypatch.setattr(hostcheck, "scan_blocking", counted)
    first, late = _listening(), _listening()
    first_port, late_port = first.getsockname()[1], late.getsockname()[1]
    late.close()  # free again: bound anew only after the first requests have asked
    lo, hi = min(first_port, late_port), max(first_port, late_port)

    async def scenario() -> tuple[list[frozenset[int]], frozenset[int]]:
        live = hostcheck.LiveScans()
        together = await asyncio.gather(*(live((lo, hi)) for _ in range(50)))
        rebound = socket.socket()
        rebound.bind(("127.0.0.1", late_port))
        rebound.listen()
        try:
            after = await live((lo, hi))
        finally:
            rebound.close()
        return together, after

    try:
        together, after = run_async(scenario())
    finally:
        first.close()
    assert len(scans) == 2  # fifty requests made at once: one scan; the later one: its own
    assert all(first_port in seen for seen in together)
    assert late_port in after  # bound after the earlier scan, seen by the request after it


def test_a_failed_scan_fails_its_waiters_and_the_next_request_scans_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    def broken(port_range: tuple[int, int]) -> set[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise hostcheck.HostUnreadable("no netlink here")
        return set()

    monkeypatch.setattr(hostcheck, "scan_blocking", broken)

    async def scenario() -> tuple[list[BaseException | frozenset[int]], frozenset[int]]:
        live = hostcheck.LiveScans()
        failed = await asyncio.gather(*(live((1, 2)) for _ in range(3)), return_exceptions=True)
        return failed, await live((1, 2))

    failed, again = run_async(scenario())
    assert all(isinstance(f, hostcheck.HostUnreadable) for f in failed)
    assert again == frozenset() and calls == 2
