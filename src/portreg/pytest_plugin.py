"""The `portreg` pytest plugin: ports leased from the host-wide state, safe under xdist.

`portreg_port` is one port per test; `portreg_ports(n=1)` is a factory returning a list of `n`
new ports per call. Each lease is held by the test process (the xdist worker) and released at
teardown, then cools down; every worker and every parallel run on the host shares the one
locked state, so no two tests get the same port. Everything is imported inside the fixtures:
a run that does not use them pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest


def _lend(count: int, held: list[int]) -> list[int]:
    import os
    from pathlib import Path

    from portreg import leases

    lease_range, excluded = leases.policy_for(Path.cwd(), dict(os.environ))
    got = [
        leases.acquire(lease_range=lease_range, excluded=excluded, pid=os.getpid(), name="pytest")
        for _ in range(count)
    ]
    held.extend(got)
    return got


def _give_back(held: list[int]) -> None:
    import os

    from portreg import leases

    for port in held:
        leases.release(port, os.getpid())


@pytest.fixture
def portreg_port() -> Iterator[int]:
    held: list[int] = []
    try:
        yield _lend(1, held)[0]
    finally:
        _give_back(held)


@pytest.fixture
def portreg_ports() -> Iterator[Callable[..., list[int]]]:
    held: list[int] = []
    try:
        yield lambda n=1: _lend(n, held)
    finally:
        _give_back(held)
