"""Real servers for the server tests: `portreg serve` (Uvicorn) as a subprocess on a free port,
with real SQLite, real PostgreSQL (a fresh database per test run) and real Redis (a distinct
channel prefix per server)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import portreg_cmd

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORTREG_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["PORTREG_LOG_LEVEL"] = "warning"
    env.update(extra)
    return env


def http(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    text: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """One request; answers (status, decoded JSON or text). Never raises on HTTP errors."""
    hdrs = dict(headers or {})
    data = None
    if text is not None:
        data = text.encode()
        hdrs["Content-Type"] = "text/plain"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, content, ctype = resp.status, resp.read(), resp.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        status, content, ctype = exc.code, exc.read(), exc.headers.get("content-type", "")
    if "json" in ctype:
        return status, json.loads(content)
    return status, content.decode()


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    cwd: Path
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def token(self, scope: str = "write") -> str:
        if scope not in self.tokens:
            out = subprocess.run(
                [*portreg_cmd(), "token", "create", "--scope", scope],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            self.tokens[scope] = out.stdout.strip()
        return self.tokens[scope]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            status, _ = http("GET", url + "/api/v1/health", timeout=2)
            if status in (200, 503):
                return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"server not healthy after {timeout}s: {log.read_text()[-3000:]}")


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    servers: list[Server] = []

    def _start(*, workers: int = 1, env: dict[str, str] | None = None, wait: bool = True) -> Server:
        # free_port() closes its probe socket before the server binds: under load another
        # process can take the port in between, so a lost race is retried on a new port.
        for _attempt in range(3):
            server = _launch(workers, env, wait)
            if server is not None:
                return server
        raise AssertionError("the server lost the race for a free port three times")

    def _launch(workers: int, env: dict[str, str] | None, wait: bool) -> Server | None:
        port = free_port()
        full = clean_env(env or {})
        log = tmp_path / f"server-{port}.log"
        args = [*portreg_cmd(), "serve", "--port", str(port), "--workers", str(workers)]
        proc = subprocess.Popen(
            args,
            cwd=tmp_path,
            env=full,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Server(f"http://127.0.0.1:{port}", proc, full, tmp_path, log)
        servers.append(server)
        if wait:
            try:
                wait_healthy(server.url, proc, log)
            except AssertionError:
                if "address already in use" in log.read_text():
                    return None
                raise
        return server

    yield _start
    for s in servers:
        s.stop()


def run_async(coro: Any) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API keeps a loop running in the
    main thread once a browser test has run, and asyncio.run refuses to nest in it."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    """Skip cleanly only if the PostgreSQL the brief names is not there at all."""

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
        await conn.close()

    try:
        run_async(probe())
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {exc}")
    yield PG_ADMIN


def _pg_exec(sql: str) -> None:

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(PG_ADMIN, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_async(go())


@pytest.fixture
def pg_url(pg_admin: str) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = f"portreg_test_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        ensure_postgres_up()
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_query(url: str, sql: str) -> list[Any]:

    import asyncpg

    async def go() -> list[Any]:
        conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=10)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return run_async(go())


def ensure_postgres_up() -> None:
    for _ in range(100):
        r = subprocess.run(
            ["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True, check=False
        )
        if r.returncode == 0:
            return
        time.sleep(0.2)


def redis_up() -> bool:
    r = subprocess.run(["redis-cli", "ping"], capture_output=True, text=True, check=False)
    return r.stdout.strip() == "PONG"


def ensure_redis_up() -> None:
    if redis_up():
        return
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        check=False,
    )
    for _ in range(100):
        if redis_up():
            return
        time.sleep(0.1)


@pytest.fixture
def redis_env() -> dict[str, str]:
    if not redis_up():
        pytest.skip("no Redis at 127.0.0.1:6379")
    return {
        "PORTREG_REDIS_URL": REDIS_URL,
        "PORTREG_REDIS_PREFIX": f"portreg-test-{uuid.uuid4().hex}:",
    }
