"""Helpers for the audit tests: registries written as TOML, real listeners, real HTTP handlers."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import tomlkit

from portreg.host import live_ports


def today() -> date:
    """The date portreg records: UTC, like its change log."""
    return datetime.now(UTC).date()


def service(
    name: str,
    port: int | None,
    *,
    protocol: str = "tcp",
    status: str = "active",
    env: str = "development",
    **extra: Any,
) -> dict[str, Any]:
    return {"name": name, "status": status, "protocol": protocol, "transport": "tcp",
            "ports": {env: "TBD" if port is None else port}, **extra}  # fmt: skip


def write_registry(
    path: Path,
    services: dict[str, dict[str, Any]],
    *,
    port_range: tuple[int, int] = (53000, 54999),
    last_audit: date | None = None,
    avoid: tuple[int, ...] = (22, 25, 53, 80, 443, 3306, 5432, 5672, 6379, 27017),
) -> Path:
    policy: dict[str, Any] = {"range": list(port_range), "avoid": list(avoid), "step": 1,
                              "audit_interval_days": 30}  # fmt: skip
    if last_audit is not None:
        policy["last_audit"] = last_audit
    data = {"registry": {"project": "audit-test", "title": "Services and Ports Registry"},
            "policy": policy, "services": services}  # fmt: skip
    target = path / "ports.toml" if path.is_dir() else path
    target.write_text(tomlkit.dumps(data), encoding="utf-8")
    return target


def quiet_range(size: int = 40) -> tuple[int, int]:
    """A random range below the ephemeral ports with nothing listening in it right now."""
    for _ in range(200):
        lo = random.randrange(20000, 32000 - size)
        if not live_ports((lo, lo + size - 1)):
            return lo, lo + size - 1
    raise RuntimeError("no quiet port range found")


def free_port_in(port_range: tuple[int, int]) -> int:
    lo, hi = port_range
    for port in random.sample(range(lo, hi + 1), hi - lo + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {lo}-{hi}")


def listen(port: int) -> socket.socket:
    """A real TCP listener (never accepts: a client's request hangs until it gives up)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


class _Handler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = b'{"status": "x"}'
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", str(len(body)))
        if 300 <= self.server.status < 400:  # type: ignore[attr-defined]
            self.send_header("Location", "/elsewhere")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_server(port: int, status: int) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.status = status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def redis_with_password(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A second, real redis-server that wants a password (NOAUTH to a bare PING)."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass",
         "s3cret", "--save", "", "--appendonly", "no", "--dir", "/tmp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def codes(proc: subprocess.CompletedProcess[str]) -> dict[str, list[dict[str, Any]]]:
    """`audit --json` output as {code: [findings]}."""
    data = json.loads(proc.stdout)
    out: dict[str, list[dict[str, Any]]] = {}
    for f in data["findings"]:
        out.setdefault(f["code"], []).append(f)
    return out
