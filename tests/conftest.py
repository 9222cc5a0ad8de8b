"""Fixtures every test area shares: running the real `portreg` command, the seed page."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SEED = DATA / "seed.md"

Run = Callable[..., subprocess.CompletedProcess[str]]

# PostgreSQL and Redis are one per machine, shared by every xdist worker (and by any other run of
# this suite here). A test that restarts one of them (marked `restarts_services`) must not do it
# under another test's open connection, so every test holds a shared lock and such a test an
# exclusive one. The gate gives the exclusive taker priority: flock alone would let the other
# workers' back-to-back shared locks starve it.
_LOCKS = Path(os.environ.get("TMPDIR", "/tmp")) / "portreg-tests-services"


@pytest.fixture(autouse=True)
def _machine_services(request: pytest.FixtureRequest) -> Iterator[None]:
    exclusive = request.node.get_closest_marker("restarts_services") is not None
    _LOCKS.mkdir(exist_ok=True)
    with open(_LOCKS / "gate", "a") as gate, open(_LOCKS / "use", "a") as use:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(use, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            if not exclusive:
                fcntl.flock(gate, fcntl.LOCK_UN)
        yield


def portreg_cmd() -> list[str]:
    """The installed console script when there is one (what users run), else `python -m`."""
    script = Path(sys.executable).with_name("portreg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "portreg"]


@pytest.fixture
def seed_path() -> Path:
    return SEED


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """`run("list", "--json", cwd=...)`: the real command line in a subprocess (cwd: tmp_path)."""

    def _run(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
        full_env.update(env or {})
        return subprocess.run(
            [*portreg_cmd(), *args],
            cwd=cwd or tmp_path,
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return _run


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int = 2) -> None:
    """The contract for bad input: exit code, exactly one `error: ` line, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr


@contextlib.contextmanager
def netns() -> Iterator[str]:
    """A fresh network namespace (loopback up, its own sysctls), always deleted afterwards."""
    name = f"portreg-test-{uuid.uuid4().hex[:10]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
                       check=True, timeout=30)  # fmt: skip
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, timeout=30)
