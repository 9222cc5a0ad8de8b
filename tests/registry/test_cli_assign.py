"""`init`, `assign`, `reserve`, `release`, `add` through the real command line."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.conftest import Run, assert_one_line_error
from tests.registry._helpers import fingerprint, free_block


@contextmanager
def listening(specs: list[tuple[int, int, str, int]]) -> Iterator[None]:
    """Hold real sockets open: (family, type, address, port)."""
    with ExitStack() as stack:
        for family, kind, addr, port in specs:
            s = stack.enter_context(socket.socket(family, kind))
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
            if kind == socket.SOCK_STREAM:
                s.listen()
        yield


def test_default_range_starts_at_53000_and_is_stable(run: Run, tmp_path: Path) -> None:
    assert run("init", "--project", "demo").returncode == 0
    text = (tmp_path / "ports.toml").read_text()
    assert "range = [53000, 54999]" in text
    first = run("assign", "api").stdout.strip()
    assert first.isdigit() and 53000 <= int(first) <= 54999
    # Assigning again gives the same port and changes nothing.
    before = (tmp_path / "ports.toml").read_bytes()
    again = run("assign", "api")
    assert again.returncode == 0 and again.stdout.strip() == first
    assert (tmp_path / "ports.toml").read_bytes() == before


def test_sequence_skips_live_tcp_udp_v4_v6(run: Run, tmp_path: Path) -> None:
    base = free_block(8)
    assert run("init", "--range", f"{base}-{base + 7}").returncode == 0
    specs = [
        (socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", base + 1),
        (socket.AF_INET, socket.SOCK_DGRAM, "0.0.0.0", base + 2),
        (socket.AF_INET6, socket.SOCK_STREAM, "::1", base + 3),
        (socket.AF_INET6, socket.SOCK_DGRAM, "::", base + 4),
    ]
    with listening(specs):
        got = [run("assign", f"svc-{i}").stdout.strip() for i in range(3)]
    assert got == [str(base), str(base + 5), str(base + 6)]


def test_skips_avoided_and_reserved(run: Run, tmp_path: Path) -> None:
    # 8000 is on the seed's avoid list.
    assert run("init", "--range", "7998-8003").returncode == 0
    assert run("reserve", "SSE Worker", "--port", "7999", "--purpose", "later").returncode == 0
    got = [run("assign", name).stdout.strip() for name in ("a", "b")]
    assert got == ["7998", "8001"]
    listing = json.loads(run("list", "--json").stdout)
    assert {(r["service"], r["port"], r["status"]) for r in listing} == {
        ("sse-worker", 7999, "reserved"),
        ("a", 7998, "active"),
        ("b", 8001, "active"),
    }


def test_full_range_is_a_clear_error_that_changes_nothing(run: Run, tmp_path: Path) -> None:
    base = free_block(2)
    run("init", "--range", f"{base}-{base + 1}")
    assert run("assign", "a").returncode == 0
    assert run("assign", "b").returncode == 0
    before = fingerprint(tmp_path)
    proc = run("assign", "c")
    assert_one_line_error(proc)
    assert "no free port left" in proc.stderr
    assert fingerprint(tmp_path) == before


def test_environments_are_separate_and_release_frees(run: Run, tmp_path: Path) -> None:
    base = free_block(4)
    run("init", "--range", f"{base}-{base + 3}")
    dev = run("assign", "api").stdout.strip()
    prod = run("assign", "api", "--env", "production").stdout.strip()
    assert dev != prod
    assert run("release", "api", "--env", "production").returncode == 0
    rows = {r["environment"]: r["port"] for r in json.loads(run("list", "--json").stdout)}
    assert rows == {"development": int(dev), "production": None}
    # The released port is handed out again: the sequence is first-free, not high-water.
    assert run("assign", "web").stdout.strip() == prod
    assert run("release", "api").returncode == 0
    assert [r["service"] for r in json.loads(run("list", "--json").stdout)] == ["web"]


def test_add_enforces_policy_unless_forced(run: Run, tmp_path: Path) -> None:
    run("init")
    proc = run("add", "pg", "--port", "5432")
    assert_one_line_error(proc)
    assert "avoid list" in proc.stderr
    ok = run("add", "pg", "--port", "5432", "--force", "--protocol", "postgres")
    assert ok.returncode == 0, ok.stderr
    # --force records an exception to the policy, never a port twice on one host
    dup = run("add", "other", "--port", "5432", "--force")
    assert_one_line_error(dup)
    assert dup.stderr == "error: port 5432 is already registered to pg\n", dup.stderr
    plain = run("add", "third", "--port", "5432")
    assert_one_line_error(plain)
    assert "already registered to pg" in plain.stderr
    # on another host the same number is another port
    other_host = run("add", "other", "--port", "5432", "--force", "--host", "h2")
    assert other_host.returncode == 0, other_host.stderr
    rows = json.loads(run("list", "--json").stdout)
    assert {r["service"] for r in rows} == {"pg", "other"}


def test_change_log_records_who_and_what(run: Run, tmp_path: Path) -> None:
    run("init")
    port = run("assign", "api", env={"GIT_CONFIG_GLOBAL": "/dev/null", "USER": "alice"})
    shown = json.loads(run("show", "api", "--json").stdout)
    assert shown["history"][-1]["action"] == "assign"
    assert shown["history"][-1]["new"] == int(port.stdout)
    assert shown["history"][-1]["who"] == "alice"


def test_init_in_a_subdirectory_creates_its_own_registry(run: Run, tmp_path: Path) -> None:
    assert run("init").returncode == 0
    sub = tmp_path / "services" / "billing"
    sub.mkdir(parents=True)
    made = run("init", cwd=sub)
    assert made.returncode == 0, made.stderr
    assert (sub / "ports.toml").is_file()
    # and every other command now finds the nearest one
    assert run("assign", "x", cwd=sub).stdout.strip() == "53000"
    assert "x" not in run("list", "--json").stdout
    # an explicit location still wins
    again = run("init", "--registry", str(tmp_path / "ports.toml"), cwd=sub)
    assert again.returncode == 2 and "already exists" in again.stderr
