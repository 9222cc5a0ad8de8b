"""Benchmark of the registry server, in one run (done-means 1 and 7 of issue 5):

- start-up: `portreg serve` with no settings until GET /api/v1/health answers 200;
- assignment throughput, 50 concurrent clients × 20 new services, on SQLite, on PostgreSQL and on
  PostgreSQL with 4 workers (duplicates checked in the answers and in the database);
- GET /api/v1/services/{id} requests/s against a bare Starlette endpoint returning the same JSON
  under the same Uvicorn settings (the stack's own ceiling), same load generator;
- resident memory per worker with 1,000 services registered.

Targets: reads ≥ 0.5× bare; ≥ 500 assignments/s on PostgreSQL, zero duplicates; < 150 MiB per
worker. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust): a scratch database is created
and dropped. Run: .venv/bin/python benchmarks/bench_server.py
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


PORTREG = str(Path(sys.executable).with_name("portreg"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_READ_RATIO, TARGET_PG_RATE, TARGET_RSS_MIB = 0.5, 500.0, 150.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORTREG_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["PORTREG_LOG_LEVEL"] = "warning"
    env.update(extra)
    return env


def wait_health(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> float:
    import urllib.request

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.01)
    raise SystemExit("server did not become healthy")


class Server:
    def __init__(self, cwd: Path, env: dict[str, str], workers: int = 1) -> None:
        self.port = free_port()
        self.env, self.cwd = env, cwd
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [PORTREG, "serve", "--port", str(self.port), "--workers", str(workers)],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_health(self.port, self.proc)
        self.startup = time.perf_counter() - t0
        self.api = f"http://127.0.0.1:{self.port}/api/v1"

    def token(self) -> str:
        out = subprocess.run(
            [PORTREG, "token", "create", "--scope", "write"],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def worker_rss_mib(self) -> list[float]:
        import psutil

        parent = psutil.Process(self.proc.pid)
        procs = [parent, *parent.children(recursive=True)]
        # With --workers N the workers are the children that serve; else the process itself.
        servers = [p for p in procs if "spawn_main" in " ".join(p.cmdline())] or [parent]
        return [p.memory_info().rss / 2**20 for p in servers]


async def _assign_raw(
    port: int, token: str, prefix: str, clients: int, each: int
) -> dict[str, int]:
    """`clients` keep-alive connections, each POSTing `each` new services (a cheap client)."""
    import json

    ok: dict[str, int] = {}

    async def one(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for j in range(each):
                name = f"{prefix}-{i}-{j}"
                body = json.dumps({"service": name}).encode()
                writer.write(
                    b"POST /api/v1/assignments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(h.split(b":")[1])
                    for h in head.split(b"\r\n")
                    if h.lower().startswith(b"content-length:")
                )
                data = await reader.readexactly(length)
                if head.startswith(b"HTTP/1.1 201"):
                    ok[name] = json.loads(data)["port"]
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    return ok


def assignment_run(server: Server, label: str) -> tuple[float, dict[str, int]]:
    import uvloop

    token = server.token()
    prefix = "bench-" + "".join(c if c.isalnum() else "-" for c in label)
    t0 = time.perf_counter()
    ok = uvloop.run(_assign_raw(server.port, token, prefix, 50, 20))
    elapsed = time.perf_counter() - t0
    ports = list(ok.values())
    dupes = len(ports) - len(set(ports))
    rate = len(ports) / elapsed
    print(
        f"  {label:<22} {len(ports):>5} assignments in {elapsed:6.2f} s = {rate:7.0f}/s, "
        f"duplicates in answers: {dupes}, failed: {1000 - len(ports)}"
    )
    return rate, ok


async def _hammer(port: int, path: str, seconds: float, conns: int) -> int:
    """Keep-alive HTTP/1.1 GETs on `conns` raw connections; returns completed requests."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    done = 0
    end = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < end:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"unexpected answer: {head[:60]!r}")
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(conns)))
    return done


def read_rate(port: int, path: str, seconds: float = 4.0, conns: int = 16) -> float:
    import uvloop

    asyncio.run(_hammer(port, path, 0.5, conns))  # warm-up
    t0 = time.perf_counter()
    n = uvloop.run(_hammer(port, path, seconds, conns))
    return n / (time.perf_counter() - t0)


BARE_APP = """
import os
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = open(os.environ["BENCH_BODY"], "rb").read()
async def detail(request):
    return Response(BODY, media_type="application/json")
app = Starlette(routes=[Route("/api/v1/services/{sid}", detail)])
"""


def pg_exec(sql: str, db: str = PG_ADMIN) -> list[object]:
    import asyncpg

    async def go() -> list[object]:
        conn = await asyncpg.connect(db)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return asyncio.run(go())


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="portreg-bench-"))
    db_name = f"portreg_bench_{uuid.uuid4().hex[:10]}"
    pg_exec(f'CREATE DATABASE "{db_name}"')
    pg_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}"
    figures: dict[str, float] = {}
    try:
        print("start-up (no settings, SQLite in the working directory):")
        d = tmp / "sqlite"
        d.mkdir()
        sqlite_server = Server(d, base_env())
        figures["startup_s"] = sqlite_server.startup
        print(f"  health 200 after {sqlite_server.startup:.2f} s (target: < 3 s)")

        print("assignment throughput, 50 concurrent clients × 20:")
        figures["sqlite_rate"], ok = assignment_run(sqlite_server, "SQLite, 1 worker")
        with sqlite3.connect(d / "portreg.db") as db:
            rows = db.execute("SELECT port FROM assignments").fetchall()
        print(f"  {'':<22} database: {len(rows)} rows, {len({r[0] for r in rows})} distinct")

        pg1 = Server(tmp, base_env(DATABASE_URL=pg_url))
        figures["pg_rate"], _ = assignment_run(pg1, "PostgreSQL, 1 worker")
        pg1.stop()
        pg4 = Server(tmp, base_env(DATABASE_URL=pg_url), workers=4)
        figures["pg4_rate"], ok4 = assignment_run(pg4, "PostgreSQL, 4 workers")
        rows = pg_exec("SELECT port FROM assignments", pg_url.replace("+asyncpg", ""))
        ports = [r["port"] for r in rows]  # type: ignore[index]
        dupes = len(ports) - len(set(ports))
        print(f"  {'':<22} database: {len(ports)} rows, duplicates: {dupes}")
        figures["pg_dupes"] = dupes

        print("reads: GET /api/v1/services/{id} vs a bare Starlette endpoint (1 worker each):")
        sid = next(iter(ok))
        path = f"/api/v1/services/{sid}"
        body_file = tmp / "body.json"
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{sqlite_server.port}{path}") as r:
            body_file.write_bytes(r.read())
        portreg_rate = read_rate(sqlite_server.port, path)
        (tmp / "bare_app.py").write_text(BARE_APP)
        bare_port = free_port()
        bare = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                "--app-dir",
                str(tmp),
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
            ],
            env=base_env(BENCH_BODY=str(body_file)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", bare_port), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            bare_rate = read_rate(bare_port, path)
        finally:
            os.killpg(bare.pid, signal.SIGTERM)
            bare.wait(10)
        figures["read_ratio"] = portreg_rate / bare_rate
        print(
            f"  portreg {portreg_rate:8.0f} req/s   bare Starlette {bare_rate:8.0f} req/s   "
            f"ratio {figures['read_ratio']:.2f} (target ≥ {TARGET_READ_RATIO})"
        )
        sqlite_server.stop()

        print("memory with 1,000 services (PostgreSQL, 4 workers, after reads of every service):")
        from urllib.parse import quote

        for sid in ok4:
            with urllib.request.urlopen(f"{pg4.api}/services/{quote(sid)}") as r:
                r.read()
        with urllib.request.urlopen(f"{pg4.api}/services") as r:
            count = len(__import__("json").loads(r.read()))
        rss = pg4.worker_rss_mib()
        figures["rss_max_mib"] = max(rss)
        print(
            f"  {count} rows registered; RSS per worker: "
            + ", ".join(f"{x:.0f}" for x in rss)
            + f" MiB (target < {TARGET_RSS_MIB:.0f})"
        )
        pg4.stop()
    finally:
        pg_exec(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    print("summary:")
    checks = [
        ("start-up < 3 s", figures["startup_s"] < 3),
        ("PostgreSQL ≥ 500 assignments/s (1 worker)", figures["pg_rate"] >= TARGET_PG_RATE),
        ("PostgreSQL ≥ 500 assignments/s (4 workers)", figures["pg4_rate"] >= TARGET_PG_RATE),
        ("zero duplicates", figures["pg_dupes"] == 0),
        ("reads ≥ 0.5× bare", figures["read_ratio"] >= TARGET_READ_RATIO),
        ("RSS < 150 MiB per worker", figures["rss_max_mib"] < TARGET_RSS_MIB),
    ]
    for label, ok_ in checks:
        print(f"  {'PASS' if ok_ else 'MISS'}  {label}")


if __name__ == "__main__":
    main()
