"""Health checks against real servers: PostgreSQL on 5432, Redis on 6379, HTTP handlers, and
sockets that accept and never answer."""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import subprocess
from pathlib import Path

import pytest

from portreg.health import (
    Target,
    pg_classify,
    pg_startup_message,
    redis_classify,
    run_checks,
    target_for,
)
from portreg.model import Service

from ._support import free_port_in, http_server, listen, redis_with_password


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one(target: Target, timeout: float = 3.0) -> tuple[str, str]:
    (r,) = run_checks([target], timeout)
    assert (r.service, r.port, r.kind) == (target.service, target.port, target.kind)
    assert r.elapsed_ms >= 0
    return r.state, r.detail


# --- which check ---------------------------------------------------------------------------------


def test_target_from_the_seeds_health_check_strings() -> None:
    api = Service("api-server", "API Server", {"development": 54000}, protocol="http",
                  health_check="GET http://localhost:54000/api/v1/health")  # fmt: skip
    pg = Service("postgresql", "PostgreSQL", {"development": 54432}, protocol="tcp",
                 health_check="pg_isready -h localhost -p 54432")  # fmt: skip
    redis = Service("redis", "Redis", {"development": 54379}, protocol="tcp",
                    health_check="redis-cli -p 54379 ping")  # fmt: skip
    t = target_for(api, "development")
    assert t is not None and (t.kind, t.host, t.port, t.path) == ("http", "localhost", 54000,
                                                                   "/api/v1/health")  # fmt: skip
    t = target_for(pg, "development")
    assert t is not None and (t.kind, t.host, t.port) == ("postgres", "localhost", 54432)
    t = target_for(redis, "development")
    assert t is not None and (t.kind, t.port) == ("redis", 54379)


@pytest.mark.parametrize(
    ("protocol", "check", "kind", "extra"),
    [
        ("http", "", "http", {"path": "/"}),
        ("https", "", "http", {"tls": True}),
        ("postgres", "", "postgres", {}),
        ("postgresql", "", "postgres", {}),
        ("redis", "", "redis", {}),
        ("amqp", "", "tcp", {}),
        ("tcp", "http://127.0.0.1:{port}/healthz?full=1", "http",
         {"path": "/healthz?full=1", "host": "127.0.0.1"}),
        ("tcp", "curl -fsS 'https://localhost:{port}/ping'", "http", {"tls": True}),
        ("tcp", "/usr/bin/pg_isready --host=127.0.0.1 -d claude_agent -U app", "postgres",
         {"host": "127.0.0.1", "database": "claude_agent", "user": "app"}),
        ("tcp", "redis-cli -h 127.0.0.1 -p 6000 ping", "redis", {"host": "127.0.0.1",
                                                                 "port": 6000}),
        ("tcp", "systemctl is-active foo", "tcp", {}),
    ],
)  # fmt: skip
def test_target_kind(protocol: str, check: str, kind: str, extra: dict[str, object]) -> None:
    s = Service("x", "X", {"development": 54000, "staging": None}, protocol=protocol,
                health_check=check)  # fmt: skip
    t = target_for(s, "development")
    assert t is not None and t.kind == kind
    assert t.port == extra.get("port", 54000)
    for key, value in extra.items():
        assert getattr(t, key) == value
    assert target_for(s, "staging") is None  # TBD: nothing to probe
    udp = Service("u", "U", {"development": 54000}, transport="udp")
    assert target_for(udp, "development") is None


# --- the protocols, against real servers ---------------------------------------------------------


def test_real_postgresql_is_accepting() -> None:
    state, detail = one(Target("postgresql", "development", 5432, "postgres", host="127.0.0.1"))
    assert state == "healthy" and "accepting" in detail


def test_postgresql_unknown_role_and_database_still_means_up() -> None:
    # As pg_isready: any reply from the server, even a FATAL about the role, means "up".
    state, detail = one(Target("pg", "development", 5432, "postgres", host="127.0.0.1",
                               user="no_such_role_x", database="no_such_db_x"))  # fmt: skip
    assert state == "healthy", detail


def test_real_redis_pong() -> None:
    assert one(Target("redis", "development", 6379, "redis", host="127.0.0.1")) == (
        "healthy", "PONG")  # fmt: skip


def test_redis_with_a_password_is_up_but_locked() -> None:
    port = free_port()
    with redis_with_password(port):
        state, detail = one(Target("redis", "development", port, "redis", host="127.0.0.1"))
    assert state == "locked" and "NOAUTH" in detail


@pytest.mark.parametrize(
    ("status", "state"), [(200, "healthy"), (302, "healthy"), (404, "unhealthy"),
                          (500, "unhealthy"), (503, "unhealthy")],
)  # fmt: skip
def test_http_status(status: int, state: str) -> None:
    port = free_port_in((20000, 32000))
    with http_server(port, status):
        got, detail = one(Target("api", "development", port, "http", host="127.0.0.1",
                                 path="/api/v1/health"))  # fmt: skip
    assert got == state and f"HTTP {status}" in detail


def test_tcp_connect_and_refused() -> None:
    port = free_port()
    with listen(port):
        assert one(Target("t", "development", port, "tcp", host="127.0.0.1"))[0] == "healthy"
    state, detail = one(Target("t", "development", port, "tcp", host="127.0.0.1"))
    assert (state, detail) == ("no-response", "connection refused")


def test_wrong_protocol_is_not_healthy() -> None:
    # Redis hangs up on an HTTP request; PostgreSQL does not speak Redis.
    assert one(Target("x", "development", 6379, "http", host="127.0.0.1"))[0] != "healthy"
    state, _ = one(Target("x", "development", 5432, "redis", host="127.0.0.1"))
    assert state != "healthy"


@pytest.mark.parametrize("kind", ["http", "https", "postgres", "redis"])
def test_hanging_server_times_out_concurrently(kind: str) -> None:
    """Accepts, never answers: every check comes back as a timeout, together, not one by one."""
    port = free_port()
    tls = kind == "https"
    kind = "http" if tls else kind
    with listen(port):
        targets = [
            Target(f"s{i}", "development", port, kind, host="127.0.0.1", tls=tls) for i in range(8)
        ]
        results = run_checks(targets, 0.3)
    assert [r.state for r in results] == ["timeout"] * 8
    assert [r.service for r in results] == [f"s{i}" for i in range(8)]
    assert all("0.3 s" in r.detail for r in results)


def test_unresolvable_host_is_no_response() -> None:
    state, _ = one(Target("x", "development", 80, "http", host="no-such-host.invalid"))
    assert state in ("no-response", "timeout")


# --- the wire formats ----------------------------------------------------------------------------


def test_startup_message_is_protocol_3() -> None:
    msg = pg_startup_message("postgres", "test")
    (length, version) = struct.unpack("!ii", msg[:8])
    assert length == len(msg) and version == 196608
    assert b"user\0postgres\0database\0test\0" in msg and msg.endswith(b"\0\0")
    assert b"password" not in msg


def _error(**fields: str) -> bytes:
    return b"".join(k.encode() + v.encode() + b"\0" for k, v in fields.items()) + b"\0"


@pytest.mark.parametrize(
    ("kind", "payload", "state"),
    [
        (b"R", struct.pack("!i", 0), "healthy"),
        (b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0", "healthy"),
        (b"E", _error(S="FATAL", C="28P01", M='password authentication failed for user "x"'),
         "healthy"),
        (b"E", _error(S="FATAL", C="3D000", M='database "nope" does not exist'), "healthy"),
        (b"E", _error(S="FATAL", C="57P03", M="the database system is starting up"),
         "rejecting"),
        (b"E", _error(S="FATAL", C="57P03", M="the database system is shutting down"),
         "rejecting"),
        (b"E", b"Mno sqlstate here\0\0", "no-response"),
        (b"H", b"", "unhealthy"),
    ],
)  # fmt: skip
def test_pg_classify(kind: bytes, payload: bytes, state: str) -> None:
    assert pg_classify(kind, payload)[0] == state


@pytest.mark.parametrize(
    ("line", "state"),
    [
        (b"+PONG\r\n", "healthy"),
        (b"-NOAUTH Authentication required.\r\n", "locked"),
        (b"-WRONGPASS invalid username-password pair\r\n", "locked"),
        (b"-LOADING Redis is loading the dataset in memory\r\n", "rejecting"),
        (b"-ERR unknown command\r\n", "unhealthy"),
        (b"", "no-response"),
    ],
)
def test_redis_classify(line: bytes, state: str) -> None:
    assert redis_classify(line)[0] == state


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = free_port_in((20000, 32000))
    with http_server(port, 200) as server:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        s = Service("api", "API", {"development": port}, protocol="https")
        target = target_for(s, "development")
        assert target is not None and target.tls
        state, detail = one(target)
    assert state == "healthy" and "HTTP 200" in detail
