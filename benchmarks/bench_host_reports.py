"""What one host report costs (issue 13), portreg against the bare minimum, in one run.

`PUT /api/v1/hosts/{host}/listeners` with 500 listeners (rows as `scan --json` prints them),
200 hosts, 16 reports in flight, PostgreSQL, 2 Uvicorn workers. Two kinds of report:

- **changed**: every host's first report (rows stored, the host's ports replaced);
- **unchanged**: the same report again, as an agent sends every 30 s while nothing changes
  (one UPDATE of its time).

The baseline, measured interleaved in the same run, is a bare Starlette endpoint under the
same Uvicorn that parses the JSON body and upserts its text into one table row per host
(asyncpg, `INSERT … ON CONFLICT DO UPDATE`): the least a server can do to keep a report.

Per kind it prints reports/s, the server's CPU ms per report (the workers' own), PostgreSQL's
CPU ms per report (every postgres process on the machine: an upper bound on a shared machine)
and the WAL bytes per report (cluster-wide, likewise an upper bound). docs/HOSTS.md turns
these into what 10,000 hosts every 30 s need. Run: .venv/bin/python benchmarks/bench_host_reports.py
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_server as bs
from bench_alloc import Bare

HOSTS = int(os.environ.get("BENCH_HOSTS", "200"))
LISTENERS = int(os.environ.get("BENCH_LISTENERS", "500"))
IN_FLIGHT = 16
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))

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
async def report(request):
    host = request.path_params["host"]
    rows = json.loads(await request.body())["listeners"]
    async with pool.acquire() as c:
        await c.execute(
            "INSERT INTO r (host, body, at) VALUES ($1, $2, now()) "
            "ON CONFLICT (host) DO UPDATE SET body = EXCLUDED.body, at = EXCLUDED.at",
            host, json.dumps(rows))
    return Response(json.dumps({"host": host, "listeners": len(rows)}),
                    media_type="application/json")
app = Starlette(routes=[Route("/api/v1/hosts/{host}/listeners", report, methods=["PUT"])],
                lifespan=lifespan)
"""


def rows(seed: int) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    return [
        {"port": p, "protocol": "tcp" if i % 3 else "udp", "address": "0.0.0.0",
         "family": "ipv4", "pid": 1000 + i, "process": f"svc{i}",
         "cmdline": f"/usr/bin/svc{i} --port {p}", "user": "app", "namespace": None,
         "uid": 1000, "dual_stack": False, "pids": [1000 + i]}
        for i, p in enumerate(rnd.sample(range(1024, 65536), LISTENERS))
    ]  # fmt: skip


BODIES = {f"host-{i:04d}": json.dumps({"listeners": rows(i)}).encode() for i in range(HOSTS)}


def push(port: int, token: str) -> float:
    """Every host's report once, IN_FLIGHT at a time over keep-alive connections; reports/s."""
    hosts = list(BODIES)
    chunks = [hosts[i::IN_FLIGHT] for i in range(IN_FLIGHT)]

    def worker(mine: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        for host in mine:
            conn.request("PUT", f"/api/v1/hosts/{host}/listeners", BODIES[host], headers)
            resp = conn.getresponse()
            resp.read()
            assert 200 <= resp.status < 300, (resp.status, host)
        conn.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        list(pool.map(worker, chunks))
    return len(hosts) / (time.perf_counter() - t0)


def wal(url: str) -> int:
    return int(bs.pg_exec("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS b", url)[0]["b"])  # type: ignore[index]


def measure(port: int, token: str, url: str, cpu: Callable[[], float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for kind in ("changed", "unchanged"):
        c0, p0, w0 = cpu(), bs.postgres_cpu_seconds(), wal(url)
        rate = push(port, token)
        c1, p1, w1 = cpu(), bs.postgres_cpu_seconds(), wal(url)
        out[f"{kind}/s"] = rate
        out[f"{kind} server ms"] = (c1 - c0) * 1000 / HOSTS
        out[f"{kind} pg ms"] = (p1 - p0) * 1000 / HOSTS
        out[f"{kind} wal B"] = (w1 - w0) / HOSTS
    return out


SIZE_SQL = (
    "SELECT pg_total_relation_size('host_reports') + pg_total_relation_size('host_ports') AS b"
)


def run_portreg(tmp: Path, url: str) -> dict[str, float]:
    env = bs.base_env(
        PORTREG_DATABASE_URL=url.replace("postgresql://", "postgresql+asyncpg://"),
        PORTREG_CHECK_HOST="false",
    )
    d = tmp / uuid.uuid4().hex[:8]
    d.mkdir()
    server = bs.Server(d, env, workers=2)
    try:
        got = measure(server.port, server.token(), url, server.cpu_seconds)
        got["db bytes/host"] = int(bs.pg_exec(SIZE_SQL, url)[0]["b"]) / HOSTS  # type: ignore[index]
    finally:
        server.stop()
    return got


def run_bare(tmp: Path, url: str) -> dict[str, float]:
    import psutil

    bs.pg_exec("CREATE TABLE r (host text PRIMARY KEY, body text, at timestamp)", url)
    app = Bare(tmp, BARE_PG, {"BENCH_PG": url}, workers=2)
    parent = psutil.Process(app.proc.pid)
    procs = [parent, *parent.children(recursive=True)]

    def cpu() -> float:
        return sum(p.cpu_times().user + p.cpu_times().system for p in procs)

    try:
        return measure(app.port, "-", url, cpu)
    finally:
        app.stop()


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="portreg-bench-hosts-"))
    dbs: list[str] = []

    def pg_db() -> str:
        name = f"portreg_bench_{uuid.uuid4().hex[:10]}"
        bs.pg_exec(f'CREATE DATABASE "{name}"')
        dbs.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    size = len(next(iter(BODIES.values())))
    print(f"machine: {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}; "
          f"{HOSTS} hosts x {LISTENERS} listeners, {size / 1024:.0f} KiB a report")  # fmt: skip
    results: dict[str, list[dict[str, float]]] = {"portreg": [], "bare": []}
    try:
        for i in range(ROUNDS):
            for kind in ("portreg", "bare") if i % 2 == 0 else ("bare", "portreg"):
                run = run_portreg if kind == "portreg" else run_bare
                got = run(tmp, pg_db())
                results[kind].append(got)
                print(f"  round {i + 1} {kind:7}: " + "  ".join(
                    f"{k} {v:,.1f}" for k, v in got.items()))  # fmt: skip
        print("summary (medians; ratio = portreg rate / bare rate, same run):")
        for key in ("changed", "unchanged"):
            ours = statistics.median(r[f"{key}/s"] for r in results["portreg"])
            bare = statistics.median(r[f"{key}/s"] for r in results["bare"])
            ms = statistics.median(r[f"{key} server ms"] for r in results["portreg"])
            pg = statistics.median(r[f"{key} pg ms"] for r in results["portreg"])
            wb = statistics.median(r[f"{key} wal B"] for r in results["portreg"])
            print(f"  {key:9}: portreg {ours:7.0f} reports/s, bare {bare:7.0f}/s, ratio "
                  f"{ours / bare:.2f}; portreg CPU {ms:.1f} ms/report, PostgreSQL CPU "
                  f"{pg:.1f} ms/report, WAL {wb / 1024:.0f} KiB/report")  # fmt: skip
        per_host = statistics.median(r["db bytes/host"] for r in results["portreg"])
        print(f"  stored: {per_host / 1024:.0f} KiB per host (host_reports + host_ports)")
    finally:
        for name in dbs:
            bs.pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
