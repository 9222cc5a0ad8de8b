"""Benchmark of the registry server, in one run (done-means 1 and 7 of issue 5):

- start-up: `portreg serve` with no settings until GET /api/v1/health answers 200;
- assignment throughput, 50 concurrent clients × 20 new services, on SQLite, on PostgreSQL and on
  PostgreSQL with 4 workers (duplicates checked in the answers and in the database);
- GET /api/v1/services/{id} requests/s against a bare Starlette endpoint returning the same JSON
  under the same Uvicorn settings (the stack's own ceiling), same load generator;
- resident memory per worker with 1,000 services registered.

How the figures are made reliable on a small machine (2 cores here):
- every assignment round runs on a fresh database (SQLite directory / PostgreSQL database), so
  rounds and configurations compare like with like; the median of ROUNDS is reported, and the
  client's own CPU time is printed (to see whether the load generator is the bottleneck);
- reads are driven by `wrk` (C, a separate process; `apt-get install -y wrk`), or, without it,
  by two client processes; the server is pinned to one core and the load generator to the other,
  both servers run side by side and are measured interleaved, READ_ROUNDS × READ_SECONDS each,
  after a warm-up; the ratio is the median of the per-round ratios.

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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


PORTREG = str(Path(sys.executable).with_name("portreg"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_READ_RATIO, TARGET_PG_RATE, TARGET_RSS_MIB = 0.5, 500.0, 150.0
ROUNDS = 3  # assignment rounds per configuration, each on a fresh database
READ_ROUNDS, READ_SECONDS, READ_CONNS = 5, 3.0, 16
WRK = "/usr/bin/wrk"


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
        self.pids = [p.pid for p in self._procs()]
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

    def _procs(self) -> list[psutil.Process]:
        import psutil

        parent = psutil.Process(self.proc.pid)
        procs = [parent, *parent.children(recursive=True)]
        # With --workers N the workers are the children that serve; else the process itself.
        return [p for p in procs if "spawn_main" in " ".join(p.cmdline())] or [parent]

    def worker_rss_mib(self) -> list[float]:
        return [p.memory_info().rss / 2**20 for p in self._procs()]

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self._procs():
            t = p.cpu_times()
            total += t.user + t.system
        return total


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


def assignment_run(server: Server, label: str, prefix: str) -> tuple[float, dict[str, int]]:
    """One round: 50 clients × 20 new services; prints the rate and who spent the CPU."""
    import uvloop

    token = server.token()
    cpu0, srv0, pg0 = time.process_time(), server.cpu_seconds(), postgres_cpu_seconds()
    t0 = time.perf_counter()
    ok = uvloop.run(_assign_raw(server.port, token, prefix, 50, 20))
    elapsed = time.perf_counter() - t0
    client_cpu, server_cpu = time.process_time() - cpu0, server.cpu_seconds() - srv0
    pg_cpu = postgres_cpu_seconds() - pg0
    ports = list(ok.values())
    dupes = len(ports) - len(set(ports))
    rate = len(ports) / elapsed
    print(
        f"  {label:<24} {len(ports):>5} in {elapsed:5.2f} s = {rate:6.0f}/s, "
        f"dupes {dupes}, failed {1000 - len(ports)}; CPU s: server {server_cpu:4.2f}, "
        f"postgres {pg_cpu:4.2f}, client {client_cpu:4.2f}"
    )
    return rate, ok


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process (backends included) on this machine."""
    import psutil

    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        times = p.info["cpu_times"]
        if p.info["name"] == "postgres" and times is not None:
            total += times.user + times.system
    return total


def assignment_rounds(
    label: str, start: Callable[[int], Server], check_db: Callable[[Server], list[int]]
) -> tuple[float, int, Server]:
    """ROUNDS rounds, each on a fresh server and database; returns the median rate, the
    duplicates found in the answers and the databases, and the last server (still running)."""
    rates: list[float] = []
    dupes = 0
    server: Server | None = None
    for i in range(ROUNDS):
        if server is not None:
            server.stop()
        server = start(i)
        rate, ok = assignment_run(server, f"{label} #{i + 1}", f"bench-{i}")
        rates.append(rate)
        ports = list(ok.values())
        db_ports = check_db(server)
        dupes += len(ports) - len(set(ports)) + len(db_ports) - len(set(db_ports))
        if len(db_ports) != len(ports) or set(db_ports) != set(ports):
            print(f"  {'':<24} database disagrees: {len(db_ports)} rows")
            dupes += 1
    assert server is not None
    median = statistics.median(rates)
    print(f"  {label:<24} median {median:6.0f}/s, duplicates (answers + database): {dupes}")
    return median, dupes, server


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


def _hammer_proc(port: int, path: str, seconds: float, conns: int) -> int:
    import uvloop

    return uvloop.run(_hammer(port, path, seconds, conns))


def read_rate(port: int, path: str, seconds: float) -> float:
    """Requests/s from a load generator in other processes, pinned to the last core."""
    last_core = {max(os.sched_getaffinity(0))}
    if os.path.exists(WRK):
        out = subprocess.run(
            [
                WRK,
                "-t1",
                f"-c{READ_CONNS}",
                f"-d{max(1, round(seconds))}s",
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=lambda: os.sched_setaffinity(0, last_core),
        ).stdout
        if "Non-2xx" in out or "Socket errors" in out:
            raise SystemExit(f"wrk saw errors:\n{out}")
        return float(next(x for x in out.splitlines() if x.startswith("Requests/sec:")).split()[1])
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        t0 = time.perf_counter()
        futures = [
            pool.submit(_hammer_proc, port, path, seconds, READ_CONNS // 2) for _ in range(2)
        ]
        n = sum(f.result() for f in futures)
        return n / (time.perf_counter() - t0)


def pin(pids: list[int], cores: set[int]) -> None:
    for pid in pids:
        os.sched_setaffinity(pid, cores)


def compare_reads(portreg_port: int, bare_port: int, path: str) -> tuple[float, float, float]:
    """Interleaved rounds; returns (median portreg req/s, median bare req/s, median ratio)."""
    for port in (portreg_port, bare_port):  # warm-up: caches filled, code paths hot
        read_rate(port, path, 1.0)
    ours: list[float] = []
    bare: list[float] = []
    for i in range(READ_ROUNDS):
        order = [(portreg_port, ours), (bare_port, bare)]
        for port, into in order if i % 2 == 0 else order[::-1]:
            into.append(read_rate(port, path, READ_SECONDS))
        print(
            f"  round {i + 1}: portreg {ours[-1]:8.0f} req/s   bare {bare[-1]:8.0f} req/s   "
            f"ratio {ours[-1] / bare[-1]:.2f}"
        )
    ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    return statistics.median(ours), statistics.median(bare), ratio


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


def sqlite_ports(server: Server) -> list[int]:
    with sqlite3.connect(server.cwd / "portreg.db") as db:
        return [r[0] for r in db.execute("SELECT port FROM assignments")]


def start_bare(tmp: Path, body_file: Path) -> tuple[subprocess.Popen[bytes], int]:
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(tmp),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=base_env(BENCH_BODY=str(body_file)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, port


def main() -> None:
    import json
    import urllib.request
    from urllib.parse import quote

    tmp = Path(tempfile.mkdtemp(prefix="portreg-bench-"))
    pg_dbs: list[str] = []
    figures: dict[str, float] = {}
    cores = sorted(os.sched_getaffinity(0))
    print(
        f"machine: {len(cores)} cores; load generator: "
        f"{'wrk' if os.path.exists(WRK) else '2 Python processes'}"
    )

    def pg_url(label: str) -> str:
        name = f"portreg_bench_{uuid.uuid4().hex[:10]}"
        pg_exec(f'CREATE DATABASE "{name}"')
        pg_dbs.append(name)
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"

    def pg_ports(server: Server) -> list[int]:
        url = server.env["PORTREG_DATABASE_URL"].replace("+asyncpg", "")
        return [r["port"] for r in pg_exec("SELECT port FROM assignments", url)]  # type: ignore[index]

    try:
        print("start-up (no settings, SQLite in the working directory):")
        d = tmp / "startup"
        d.mkdir()
        first = Server(d, base_env())
        figures["startup_s"] = first.startup
        print(f"  health 200 after {first.startup:.2f} s (target: < 3 s)")
        first.stop()

        print(f"assignment throughput, 50 concurrent clients × 20, {ROUNDS} fresh databases each:")

        def sqlite_server(i: int) -> Server:
            d = tmp / f"sqlite-{i}"
            d.mkdir()
            return Server(d, base_env())

        figures["sqlite_rate"], sq_dupes, sqlite_srv = assignment_rounds(
            "SQLite, 1 worker", sqlite_server, sqlite_ports
        )
        figures["pg_rate"], pg1_dupes, pg1 = assignment_rounds(
            "PostgreSQL, 1 worker",
            lambda i: Server(tmp, base_env(PORTREG_DATABASE_URL=pg_url("1"))),
            pg_ports,
        )
        pg1.stop()
        figures["pg4_rate"], pg4_dupes, pg4 = assignment_rounds(
            "PostgreSQL, 4 workers",
            lambda i: Server(tmp, base_env(PORTREG_DATABASE_URL=pg_url("4")), workers=4),
            pg_ports,
        )
        figures["dupes"] = sq_dupes + pg1_dupes + pg4_dupes

        print(
            f"reads: GET /api/v1/services/{{id}} vs a bare Starlette endpoint, 1 worker each, "
            f"server on core {cores[0]}, load on core {cores[-1]}, {READ_CONNS} connections:"
        )
        with urllib.request.urlopen(f"{sqlite_srv.api}/services") as r:
            count = len(json.loads(r.read()))
        sid = sorted(sqlite_ports_by_service(sqlite_srv))[len(sqlite_ports(sqlite_srv)) // 2]
        path = f"/api/v1/services/{quote(sid)}"
        body_file = tmp / "body.json"
        with urllib.request.urlopen(f"http://127.0.0.1:{sqlite_srv.port}{path}") as r:
            body_file.write_bytes(r.read())
        print(f"  {count} services registered (SQLite); body {body_file.stat().st_size} bytes")
        bare, bare_port = start_bare(tmp, body_file)
        try:
            pin(sqlite_srv.pids, {cores[0]})
            pin([bare.pid], {cores[0]})
            ours, theirs, ratio = compare_reads(sqlite_srv.port, bare_port, path)
        finally:
            os.killpg(bare.pid, signal.SIGTERM)
            bare.wait(10)
        figures["read_ratio"] = ratio
        print(
            f"  median: portreg {ours:8.0f} req/s   bare Starlette {theirs:8.0f} req/s   "
            f"ratio {ratio:.2f} (median of rounds; target ≥ {TARGET_READ_RATIO})"
        )
        sqlite_srv.stop()

        print("memory with 1,000 services (PostgreSQL, 4 workers, after reads of every service):")
        with urllib.request.urlopen(f"{pg4.api}/services") as r:
            rows = json.loads(r.read())
        for row in rows:
            with urllib.request.urlopen(f"{pg4.api}/services/{quote(row['service'])}") as r:
                r.read()
        rss = pg4.worker_rss_mib()
        figures["rss_max_mib"] = max(rss)
        print(
            f"  {len(rows)} rows registered; RSS per worker: "
            + ", ".join(f"{x:.0f}" for x in rss)
            + f" MiB (target < {TARGET_RSS_MIB:.0f})"
        )
        pg4.stop()
    finally:
        for name in pg_dbs:
            pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("summary:")
    checks = [
        ("start-up < 3 s", figures["startup_s"] < 3),
        ("PostgreSQL ≥ 500 assignments/s (1 worker)", figures["pg_rate"] >= TARGET_PG_RATE),
        ("PostgreSQL ≥ 500 assignments/s (4 workers)", figures["pg4_rate"] >= TARGET_PG_RATE),
        ("zero duplicates", figures["dupes"] == 0),
        ("reads ≥ 0.5× bare", figures["read_ratio"] >= TARGET_READ_RATIO),
        ("RSS < 150 MiB per worker", figures["rss_max_mib"] < TARGET_RSS_MIB),
    ]
    for label, ok_ in checks:
        print(f"  {'PASS' if ok_ else 'MISS'}  {label}")
    print(f"  (SQLite, 1 worker: {figures['sqlite_rate']:.0f} assignments/s; no target)")


def sqlite_ports_by_service(server: Server) -> list[str]:
    with sqlite3.connect(server.cwd / "portreg.db") as db:
        return [r[0] for r in db.execute("SELECT service_id FROM assignments")]


if __name__ == "__main__":
    main()
