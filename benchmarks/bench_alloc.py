"""The server at the database's pace (issue 14): portreg against the bare minimum, in one run.

Rows, each an interleaved comparison (portreg, bare, bare, portreg, …) on fresh databases, with
the median of the per-round ratios:

- `POST /api/v1/assignments`, SQLite, 1 worker, against a bare Starlette endpoint doing the
  minimal correct allocation on the same kind of database (WAL, synchronous=NORMAL):
  `BEGIN IMMEDIATE`, `max(port)+1`, an insert under UNIQUE. Target ≥ 0.25×.
- the same on PostgreSQL with 2 workers, the bare allocator under one advisory lock
  (asyncpg pool, 2 Uvicorn workers). Target ≥ 0.5×.
- `GET /api/v1/services` with 500 services against bare Starlette serving the same bytes.
  Target ≥ 0.5×.

Every round checks the answers and the database for duplicate ports. The load generator is the
same cheap keep-alive client as bench_server.py (50 connections × 20 new services) for writes
and wrk (or two Python processes) for reads. Run: .venv/bin/python benchmarks/bench_alloc.py
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_server as bs

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TARGETS = {"sqlite": 0.25, "postgresql": 0.5, "reads": 0.5}
# BENCH_ONLY=postgresql (comma-separated rows) runs some rows only, when working on one.
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(","))) or set(TARGETS)

BARE_SQLITE = """
import json, os, sqlite3
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
db = sqlite3.connect(os.environ["BENCH_DB"], isolation_level=None, check_same_thread=False)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE IF NOT EXISTS a (name TEXT UNIQUE NOT NULL, port INTEGER UNIQUE)")
async def assign(request):
    name = json.loads(await request.body())["service"]
    db.execute("BEGIN IMMEDIATE")
    try:
        port = db.execute("SELECT coalesce(max(port), 52999) + 1 FROM a").fetchone()[0]
        db.execute("INSERT INTO a VALUES (?, ?)", (name, port))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    body = json.dumps({"service": name, "port": port}).encode()
    return Response(body, status_code=201, media_type="application/json")
app = Starlette(routes=[Route("/api/v1/assignments", assign, methods=["POST"])])
"""

BARE_PG = """
import json, os
import asyncpg
from contextlib import asynccontextmanager
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
pool = None
@asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(os.environ["BENCH_PG"], min_size=4, max_size=10)
    yield
    await pool.close()
async def assign(request):
    name = json.loads(await request.body())["service"]
    async with pool.acquire() as c, c.transaction():
        await c.execute("SELECT pg_advisory_xact_lock(42)")
        port = await c.fetchval("SELECT coalesce(max(port), 52999) + 1 FROM a")
        await c.execute("INSERT INTO a VALUES ($1, $2)", name, port)
    body = json.dumps({"service": name, "port": port}).encode()
    return Response(body, status_code=201, media_type="application/json")
app = Starlette(routes=[Route("/api/v1/assignments", assign, methods=["POST"])], lifespan=lifespan)
"""

BARE_LIST = """
import os
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = open(os.environ["BENCH_BODY"], "rb").read()
async def services(request):
    return Response(BODY, media_type="application/json")
app = Starlette(routes=[Route("/api/v1/services", services)])
"""


class Bare:
    """A bare Starlette app under Uvicorn, as a process of its own."""

    def __init__(self, tmp: Path, source: str, env: dict[str, str], workers: int = 1) -> None:
        name = f"bare_{uuid.uuid4().hex[:8]}"
        (tmp / f"{name}.py").write_text(source)
        self.port = bs.free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"{name}:app", "--app-dir", str(tmp),
             "--port", str(self.port), "--workers", str(workers), "--log-level", "warning"],
            env=bs.base_env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5 if workers > 1 else 0.1)  # every worker up

    def stop(self) -> None:
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)


def _rate(port: int, token: str, prefix: str) -> tuple[float, list[int]]:
    import uvloop

    t0 = time.perf_counter()
    ok = uvloop.run(bs._assign_raw(port, token, prefix, 50, 20))
    return len(ok) / (time.perf_counter() - t0), list(ok.values())


def _dupes(answers: list[int], stored: list[int]) -> int:
    missing = len(answers) != len(stored) or set(answers) != set(stored)
    return len(answers) - len(set(answers)) + len(stored) - len(set(stored)) + int(missing)


def compare_writes(
    label: str,
    ours: Callable[[int], tuple[bs.Server, Callable[[], list[int]]]],
    bare: Callable[[int], tuple[Bare, Callable[[], list[int]]]],
) -> float:
    ratios: list[float] = []
    dupes = 0
    for i in range(ROUNDS):
        rates: dict[str, float] = {}
        for kind in ("portreg", "bare") if i % 2 == 0 else ("bare", "portreg"):
            if kind == "portreg":
                server, stored = ours(i)
                rates[kind], answers = _rate(server.port, server.token(), f"r{i}")
            else:
                app, stored = bare(i)
                rates[kind], answers = _rate(app.port, "-", f"r{i}")
            dupes += _dupes(answers, stored())
            (server if kind == "portreg" else app).stop()
        ratios.append(rates["portreg"] / rates["bare"])
        print(
            f"  {label} round {i + 1}: portreg {rates['portreg']:7.0f}/s   "
            f"bare {rates['bare']:7.0f}/s   ratio {ratios[-1]:.3f}"
        )
    ratio = statistics.median(ratios)
    print(f"  {label}: median ratio {ratio:.3f} (target ≥ {TARGETS[label]}), duplicates {dupes}")
    return ratio


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="portreg-bench-alloc-"))
    pg_dbs: list[str] = []

    def pg_db() -> str:
        name = f"portreg_bench_{uuid.uuid4().hex[:10]}"
        bs.pg_exec(f'CREATE DATABASE "{name}"')
        pg_dbs.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    def ours_sqlite(i: int) -> tuple[bs.Server, Callable[[], list[int]]]:
        d = tmp / f"sqlite-{i}-{uuid.uuid4().hex[:6]}"
        d.mkdir()
        server = bs.Server(d, bs.base_env())  # as users run it: the live host is checked
        return server, lambda: bs.sqlite_ports(server)

    def bare_sqlite(i: int) -> tuple[Bare, Callable[[], list[int]]]:
        db = tmp / f"bare-{i}-{uuid.uuid4().hex[:6]}.db"
        app = Bare(tmp, BARE_SQLITE, {"BENCH_DB": str(db)})

        def stored() -> list[int]:
            with sqlite3.connect(db) as c:
                return [r[0] for r in c.execute("SELECT port FROM a")]

        return app, stored

    def ours_pg(i: int) -> tuple[bs.Server, Callable[[], list[int]]]:
        url = pg_db()
        d = tmp / f"pg-{i}-{uuid.uuid4().hex[:6]}"
        d.mkdir()
        env = bs.base_env(
            PORTREG_DATABASE_URL=url.replace("postgresql://", "postgresql+asyncpg://")
        )
        server = bs.Server(d, env, workers=2)
        return server, lambda: [r["port"] for r in bs.pg_exec("SELECT port FROM assignments", url)]  # type: ignore[index]

    def bare_pg(i: int) -> tuple[Bare, Callable[[], list[int]]]:
        url = pg_db()
        bs.pg_exec("CREATE TABLE a (name text UNIQUE NOT NULL, port integer UNIQUE)", url)
        app = Bare(tmp, BARE_PG, {"BENCH_PG": url}, workers=2)
        return app, lambda: [r["port"] for r in bs.pg_exec("SELECT port FROM a", url)]  # type: ignore[index]

    try:
        print(f"machine: {os.cpu_count()} cores; load: `uptime` {os.getloadavg()[0]:.2f}")
        figures: dict[str, float] = {}
        if "sqlite" in ONLY:
            print("POST /api/v1/assignments, SQLite, 1 worker (portreg checks the live host too):")
            figures["sqlite"] = compare_writes("sqlite", ours_sqlite, bare_sqlite)
        if "postgresql" in ONLY:
            print("POST /api/v1/assignments, PostgreSQL, 2 workers:")
            figures["postgresql"] = compare_writes("postgresql", ours_pg, bare_pg)
        if "reads" in ONLY:
            _reads(tmp, figures)
        print("summary (ratios against the bare baselines, same run):")
        for key, value in figures.items():
            verdict = "ok" if value >= TARGETS[key] else "BELOW TARGET"
            print(f"  {key:<11} {value:6.3f}×  (target ≥ {TARGETS[key]}×)  {verdict}")
    finally:
        for name in pg_dbs:
            bs.pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reads(tmp: Path, figures: dict[str, float]) -> None:
    print("GET /api/v1/services, 500 services:")
    d = tmp / "reads"
    d.mkdir()
    server = bs.Server(d, bs.base_env(PORTREG_CHECK_HOST="false"))
    token = server.token()
    import uvloop

    uvloop.run(bs._assign_raw(server.port, token, "svc", 25, 20))
    with urllib.request.urlopen(server.api + "/services") as resp:
        body = resp.read()
    assert len(json.loads(body)) == 500
    (tmp / "list.json").write_bytes(body)
    bare = Bare(tmp, BARE_LIST, {"BENCH_BODY": str(tmp / "list.json")})
    try:
        _, _, figures["reads"] = bs.compare_reads(server.port, bare.port, "/api/v1/services")
    finally:
        bare.stop()
        server.stop()
    print(f"  reads: median ratio {figures['reads']:.2f} (target ≥ {TARGETS['reads']})")


if __name__ == "__main__":
    main()
