"""Benchmark: the API's reads that go through FastAPI (not the cached fast path), this tree
against a baseline git revision, in one run.

Why: the server's routes take their state and token checks as FastAPI dependencies; a
dependency is solved on every request, so this measures that the structure costs the reads
nothing worth noticing. Both servers run side by side on the seed (one Uvicorn worker each,
pinned to one core, SQLite), are warmed up, then measured interleaved: ROUNDS × REQUESTS
sequential keep-alive requests per path; the ratio is the median of the per-round ratios.

Run: .venv/bin/python benchmarks/bench_api_reads.py [BASELINE_REV]   (default: main; give the
revision before the change you measure, e.g. the merge base)
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = next(
    (
        d / "shared" / "seed" / "000_b428bf5ed223d624.txt"
        for d in (ROOT.parent, ROOT.parent.parent)  # /work/main or /work/wt/NAME
        if (d / "shared" / "seed" / "000_b428bf5ed223d624.txt").exists()
    ),
    ROOT / "missing-seed",
)
PATHS = (
    "/api/v1/services",
    "/api/v1/policy",
    "/api/v1/ranges",
    "/api/v1/audit",
    "/api/v1/ports/53001",
    "/",
)
ROUNDS, REQUESTS = 5, 1500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(tmp: Path) -> Path:
    if SEED.exists():
        return SEED
    out = tmp / "seed.toml"  # without the shared seed: a small registry of its own
    lines = ['[registry]\nproject = "bench"\n']
    for i in range(40):
        lines.append(f'[services.s{i}]\nname = "s{i}"\nports = {{ development = {53001 + i} }}\n')
    out.write_text("\n".join(lines))
    return out


def _start(src: Path, tmp: Path, seed: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "PORTREG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/db.sqlite",
        "PORTREG_SEED": str(seed),
    }
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    argv = [
        *pin,
        sys.executable,
        "-m",
        "uvicorn",
        "portreg.server.app:create_app",
        "--factory",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(argv, env=env, cwd=tmp)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health")
            conn.getresponse().read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"server from {src} did not start")


def _rate(port: int, path: str, n: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    start = time.perf_counter()
    for _ in range(n):
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise SystemExit(f"GET {path}: {resp.status}")
    conn.close()
    return n / (time.perf_counter() - start)


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else "main"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base_src = tmp / "baseline"
        base_src.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(base_src)], input=archive.stdout, check=True)
        seed = _seed(tmp)
        procs = []
        try:
            (tmp / "ours").mkdir()
            (tmp / "base").mkdir()
            ours_proc, ours = _start(ROOT / "src", tmp / "ours", seed)
            procs.append(ours_proc)
            base_proc, base = _start(base_src / "src", tmp / "base", seed)
            procs.append(base_proc)
            print(f"reads through FastAPI, this tree vs {rev}: {ROUNDS} rounds × {REQUESTS} req")
            for path in PATHS:
                _rate(ours, path, 200)
                _rate(base, path, 200)
                a: list[float] = []
                b: list[float] = []
                for _ in range(ROUNDS):
                    a.append(_rate(ours, path, REQUESTS))
                    b.append(_rate(base, path, REQUESTS))
                ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
                print(
                    f"  {path:22} this {statistics.median(a):7.0f} req/s   "
                    f"{rev} {statistics.median(b):7.0f} req/s   ratio {ratio:.2f}"
                )
        finally:
            for p in procs:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    main()
