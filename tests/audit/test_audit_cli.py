"""`portreg audit` end to end: a registry describing this machine's real services, and each
finding produced by creating its situation on the live host."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from portreg.host import kernel
from tests.conftest import Run, assert_one_line_error

from ._support import (
    codes,
    free_port_in,
    http_server,
    listen,
    quiet_range,
    service,
    today,
    write_registry as _write,
)

REAL = {
    "postgresql": service("PostgreSQL", 5432, protocol="postgres", process="postgres",
                          health_check="pg_isready -h 127.0.0.1 -p 5432 -d test", forced=True),
    "redis": service("Redis", 6379, protocol="redis", process="redis-server",
                     health_check="redis-cli -h 127.0.0.1 -p 6379 ping", forced=True),
}  # fmt: skip


@pytest.fixture
def rng() -> tuple[int, int]:
    return quiet_range()


def write(tmp_path: Path, rng: tuple[int, int], extra: dict[str, dict[str, Any]] | None = None,
          last_audit: date | None = None, **kw: Any) -> Path:  # fmt: skip
    return _write(tmp_path, {**REAL, **(extra or {})}, port_range=rng,
                  last_audit=last_audit or today(), **kw)  # fmt: skip


def audit_json(run: Run, *args: str, timeout: float = 60) -> tuple[int, dict[str, Any]]:
    proc = run("audit", "--json", *args, timeout=timeout)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def by_code(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in data["findings"]:
        out.setdefault(f["code"], []).append(f)
    return out


def test_this_machines_real_services_are_clean_and_healthy(
    run: Run, tmp_path: Path, rng: tuple[int, int]
) -> None:
    write(tmp_path, rng)
    code, data = audit_json(run, "--health", "--fail-on", "warning")
    assert code == 0, data["findings"]
    assert {f["severity"] for f in data["findings"]} <= {"info"}
    # The two forced, known exceptions: standard ports outside the range, on purpose.
    assert {(f["code"], f["service"]) for f in data["findings"]} == {
        ("avoided-port", "postgresql"), ("out-of-range", "postgresql"),
        ("avoided-port", "redis"), ("out-of-range", "redis"),
    }  # fmt: skip
    for f in data["findings"]:
        assert set(f) == {"code", "severity", "service", "port", "message", "hint"}
    health = {r["service"]: r for r in data["summary"]["health"]["results"]}
    assert health["postgresql"]["state"] == "healthy" and health["postgresql"]["kind"] == "postgres"
    assert health["redis"]["state"] == "healthy" and health["redis"]["detail"] == "PONG"
    assert data["summary"]["errors"] == data["summary"]["warnings"] == 0
    assert all(item["ok"] for item in data["summary"]["checklist"])


def test_human_output_is_the_ticked_checklist(
    run: Run, tmp_path: Path, rng: tuple[int, int]
) -> None:
    write(tmp_path, rng, {"api-server": service("API Server", rng[0] + 1)})
    proc = run("audit")
    assert proc.returncode == 0, proc.stderr  # not-listening is a warning; fail-on is error
    out = proc.stdout
    assert "✓ │ Check for undocumented services on high ports" in out
    assert "✗ │ Verify all documented ports are in use" in out
    assert "not-listening" in out and "api-server" in out
    assert "Last audit:" in out


def test_stopped_listener_is_not_listening(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    port = free_port_in(rng)
    write(tmp_path, rng, {"worker": service("Worker", port, process="python")})
    with listen(port):
        _, data = audit_json(run)
        assert "not-listening" not in by_code(data)
        assert "unexpected-process" not in by_code(data)  # held by this python process
    _, data = audit_json(run)
    (f,) = by_code(data)["not-listening"]
    assert (f["service"], f["port"], f["severity"]) == ("worker", port, "warning")


def test_unregistered_listener_in_range_is_undocumented(
    run: Run, tmp_path: Path, rng: tuple[int, int]
) -> None:
    write(tmp_path, rng)
    port = free_port_in(rng)
    with listen(port):
        code, data = audit_json(run, "--fail-on", "warning")
    (f,) = by_code(data)["undocumented-listener"]
    assert f["port"] == port and f["service"] is None
    assert code == 1


def test_postgresql_port_registered_to_redis_server_is_unexpected(
    run: Run, tmp_path: Path, rng: tuple[int, int]
) -> None:
    wrong = {**REAL["postgresql"], "process": "redis-server"}
    _write(tmp_path, {"postgresql": wrong, "redis": REAL["redis"]}, port_range=rng,
           last_audit=today())  # fmt: skip
    code, data = audit_json(run)
    (f,) = by_code(data)["unexpected-process"]
    assert (f["service"], f["port"], f["severity"]) == ("postgresql", 5432, "error")
    assert "postgres (pid" in f["message"]
    assert code == 1  # an error, and --fail-on defaults to error


def test_http_500_is_health_failed(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    port = free_port_in(rng)
    write(tmp_path, rng, {"api-server": service(
        "API Server", port, protocol="http", health_check=f"GET http://127.0.0.1:{port}/api/v1/health",
    )})  # fmt: skip
    with http_server(port, 500):
        code, data = audit_json(run, "--health")
    (f,) = by_code(data)["health-failed"]
    assert (f["service"], f["port"], f["severity"]) == ("api-server", port, "error")
    assert "HTTP 500" in f["message"]
    assert code == 1
    with http_server(port, 200):
        code, data = audit_json(run, "--health")
    assert "health-failed" not in by_code(data) and code == 0


def test_hanging_server_times_out_within_timeout(
    run: Run, tmp_path: Path, rng: tuple[int, int]
) -> None:
    port = free_port_in(rng)
    write(tmp_path, rng, {"api-server": service("API Server", port, protocol="http")})
    with listen(port):  # accepts (the kernel does), never answers
        code, data = audit_json(run, "--health", "--timeout", "0.5", timeout=30)
    (f,) = by_code(data)["health-failed"]
    assert "timeout" in f["message"] and "0.5 s" in f["message"]
    assert code == 1


def test_two_services_on_one_port(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    port = free_port_in(rng)
    write(tmp_path, rng, {
        "api": service("API", port),
        "admin": service("Admin", port, env="staging"),
    })  # fmt: skip
    with listen(port):
        code, data = audit_json(run)
    (f,) = by_code(data)["duplicate-port"]
    assert f["port"] == port and f["severity"] == "error"
    assert code == 1


def test_reserved_port_in_use(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    port = free_port_in(rng)
    write(tmp_path, rng, {"sse-worker": service("SSE Worker", port, status="planned")})
    _, data = audit_json(run)
    assert "reserved-port-in-use" not in by_code(data)
    with listen(port):
        _, data = audit_json(run)
    (f,) = by_code(data)["reserved-port-in-use"]
    assert (f["service"], f["port"]) == ("sse-worker", port)


def test_policy_breaks_without_force(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    write(tmp_path, rng, {"web": service("Web", 8080, status="deprecated")},
          avoid=(22, 5432, 6379, 8080))  # fmt: skip
    _, data = audit_json(run)
    got = {(f["code"], f["severity"]) for f in by_code(data).get("avoided-port", [])
           + by_code(data).get("out-of-range", []) if f["service"] == "web"}  # fmt: skip
    assert got == {("avoided-port", "warning"), ("out-of-range", "warning")}


def test_overdue_and_record(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    path = write(tmp_path, rng, last_audit=date(2020, 1, 1))
    _, data = audit_json(run)
    (f,) = by_code(data)["audit-overdue"]
    assert "2020-01-01" in f["message"]
    text_before = path.read_text()
    proc = run("audit", "--record")
    assert proc.returncode == 0, proc.stderr
    assert "Recorded" in proc.stdout
    assert tomllib.loads(path.read_text())["policy"]["last_audit"] == today()
    # Only that line changed.
    changed = [a for a, b in zip(text_before.splitlines(), path.read_text().splitlines(),
                                 strict=True) if a != b]  # fmt: skip
    assert len(changed) == 1 and "last_audit" in changed[0]
    _, data = audit_json(run)
    assert "audit-overdue" not in by_code(data)


def test_never_audited(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    _write(tmp_path, REAL, port_range=rng)
    _, data = audit_json(run)
    assert "never" in by_code(data)["audit-overdue"][0]["message"]


def test_ephemeral_overlap_names_the_ports(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    k = kernel.read()
    lo, hi = k.ephemeral
    risky = next(p for p in range((lo + hi) // 2, hi + 1) if p not in k.reserved)
    write(tmp_path, rng, {"far": service("Far", risky, status="reserved")})
    _, data = audit_json(run)
    (f,) = by_code(data)["ephemeral-overlap"]
    assert str(risky) in f["message"] and f["port"] == risky


def test_bad_input_is_one_line(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    assert_one_line_error(run("audit"))  # no registry
    write(tmp_path, rng)
    assert_one_line_error(run("audit", "--timeout", "0"))
    assert_one_line_error(run("audit", "--timeout", "abc"))
    assert_one_line_error(run("audit", "--fail-on", "info"))
    (tmp_path / "ports.toml").write_text("[policy\n")
    assert_one_line_error(run("audit", "--record"))


def test_codes_helper_matches(run: Run, tmp_path: Path, rng: tuple[int, int]) -> None:
    write(tmp_path, rng)
    proc = run("audit", "--json")
    assert codes(proc) == by_code(json.loads(proc.stdout))


_ASGI_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    ok = scope["path"] == "/api/v1/health"
    await send({"type": "http.response.start", "status": 200 if ok else 404,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status": "ok"}'})
"""


@pytest.fixture
def uvicorn_server(tmp_path: Path, rng: tuple[int, int]) -> Iterator[int]:
    """A real Uvicorn, started the seed's way (`uvicorn module:app --port N`)."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "health_app.py").write_text(_ASGI_APP)
    port = free_port_in(rng)
    uvicorn = Path(sys.executable).with_name("uvicorn")
    proc = subprocess.Popen(
        [str(uvicorn), "health_app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=app_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(500):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                raise RuntimeError("uvicorn exited")
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_real_uvicorn_api_server_from_the_seed(
    run: Run, tmp_path: Path, rng: tuple[int, int], uvicorn_server: int
) -> None:
    port = uvicorn_server
    write(tmp_path, rng, {"api-server": service(
        "API Server", port, protocol="http", process="Uvicorn ASGI server",
        health_check=f"GET http://localhost:{port}/api/v1/health",
    )})  # fmt: skip
    code, data = audit_json(run, "--health", "--fail-on", "warning")
    assert code == 0, data["findings"]
    health = {r["service"]: r for r in data["summary"]["health"]["results"]}
    assert health["api-server"]["state"] == "healthy"
    assert "HTTP 200" in health["api-server"]["detail"]
    # The same Uvicorn registered as something else is named as the holder.
    write(tmp_path, rng, {"api-server": service("API Server", port, process="nginx")})
    _, data = audit_json(run)
    (f,) = by_code(data)["unexpected-process"]
    assert f["port"] == port and "uvicorn" in f["message"].lower()
