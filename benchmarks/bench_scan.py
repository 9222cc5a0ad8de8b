"""How fast `portreg scan` and `portreg who` answer on a host with many sockets.

    .venv/bin/python benchmarks/bench_scan.py [--listeners 20000] [--connections 5000] [--runs 7]

Sets up, on loopback: N listening TCP sockets spread over several processes (the per-process
open-file limit here is 20,000), plus M established connections (both ends held by one more
process, started first so a /proc walk meets its fds before the listeners'). Then it times,
as cold command lines (a new process each run; the median of several runs, interleaved):

  scan:  `portreg scan --json`  vs  `ss -tulnpH`, psutil.net_connections, `lsof -nP -iTCP ...`
  who:   `portreg who PORT`     vs  `ss -tlnpH 'sport = :PORT'`, `lsof -i :PORT`

and the peak memory (ru_maxrss of the child) of `portreg scan --json`. Targets: scan at most
0.5x `ss -tulnpH`, who at most 0.5x the ss query, memory under 48 MiB (issue 14). Every process
it starts is stopped at the end (also on Ctrl-C). Listeners use ports 32800-52999 on
127.0.0.1 (busy ones are skipped), never the registry's 53000-54999.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

FIRST_PORT = 32800  # listeners in 32800-52999: below the registry's range, clear of 20000-30000
PORTREG = [str(Path(sys.executable).with_name("portreg"))]
if not Path(PORTREG[0]).exists():
    PORTREG = [sys.executable, "-m", "portreg"]

HOLDER = """
import json, socket, sys
base, count, end = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
keep, ports, port = [], [], base
while len(ports) < count and port <= end:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); s.listen(8)
    except OSError:
        s.close()
    else:
        keep.append(s); ports.append(port)
    port += 1
print(json.dumps(ports), flush=True)
sys.stdin.read()
"""

# Client ends bind explicit source ports from 55000 up, so the kernel's ephemeral picks do
# not take ports the listeners want.
CONNECTIONS = """
import socket, sys
n = int(sys.argv[1])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(n + 16)
keep, port = [], 55000
while len(keep) < 2 * n and port <= 65535:
    c = socket.socket()
    try:
        c.bind(("127.0.0.1", port))
    except OSError:
        c.close(); port += 1; continue
    port += 1
    c.connect(srv.getsockname())
    keep.append(c); keep.append(srv.accept()[0])
print(srv.getsockname()[1], flush=True)
sys.stdin.read()
"""

PSUTIL = """
import socket, psutil
for c in psutil.net_connections(kind="inet"):
    if c.status == psutil.CONN_LISTEN or (c.type == socket.SOCK_DGRAM and not c.raddr):
        print(c.laddr, c.pid)
"""


SANITY = """
import json, subprocess, sys
out = subprocess.run([*json.loads(sys.argv[1]), "scan", "--json"], capture_output=True,
                     text=True, check=True).stdout
found = {(d["port"], d["pid"]) for d in json.loads(out) if d["protocol"] == "tcp"}
ports = set(json.load(sys.stdin))
seen = {p for p, pid in found if p in ports and pid}
print(f"portreg scan found {len(seen)} of {len(ports)} listeners, with their pids")
"""


def start(code: str, *args: object) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"a helper process failed to start ({proc.wait()})")
    return proc, line


def timed(cmd: Sequence[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run of `cmd`, output discarded."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss


def measure(cmds: dict[str, list[str]], runs: int) -> dict[str, tuple[float, int]]:
    """Median wall time and max RSS per command, runs interleaved so drift hits all alike."""
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    rss: dict[str, int] = dict.fromkeys(cmds, 0)
    for cmd in cmds.values():  # one warm-up each (page cache, pyc files)
        timed(cmd)
    for _ in range(runs):
        for name, cmd in cmds.items():
            wall, peak = timed(cmd)
            walls[name].append(wall)
            rss[name] = max(rss[name], peak)
    return {k: (statistics.median(v), rss[k]) for k, v in walls.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listeners", type=int, default=20000)
    ap.add_argument("--connections", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--holders", type=int, default=5)
    opts = ap.parse_args()

    procs: list[subprocess.Popen[str]] = []
    try:
        t0 = time.perf_counter()
        conn, _ = start(CONNECTIONS, opts.connections)
        procs.append(conn)
        per = -(-opts.listeners // opts.holders)
        span = (52999 - FIRST_PORT + 1) // opts.holders
        ports: list[int] = []
        held: list[list[int]] = []
        for i in range(opts.holders):
            base = FIRST_PORT + i * span
            want = min(per, opts.listeners - len(ports))
            proc, line = start(HOLDER, base, want, base + span - 1)
            procs.append(proc)
            held.append(json.loads(line))
            ports.extend(held[-1])
        if len(ports) < opts.listeners:
            print(f"note: only {len(ports)} ports were free in {FIRST_PORT}-52999")
        # `who` stops its /proc walk at the holder: time a port of the middle holder (typical)
        # and one of the last (the walk meets it after every other fd: the worst case).
        typical = held[len(held) // 2][len(held[len(held) // 2]) // 2]
        worst = held[-1][-1]
        setup = time.perf_counter() - t0
        print(f"set up {len(ports)} listeners in {opts.holders} processes and "
              f"{opts.connections} established connections in {setup:.1f} s")  # fmt: skip

        scan_cmds = {
            "portreg scan --json": [*PORTREG, "scan", "--json"],
            "ss -tulnpH": ["ss", "-tulnpH"],
            "psutil (python -c)": [sys.executable, "-c", PSUTIL],
        }
        if shutil.which("lsof"):
            scan_cmds["lsof -nP -iTCP -sTCP:LISTEN -iUDP"] = [
                "lsof", "-nP", "-iTCP", "-sTCP:LISTEN", "-iUDP"
            ]  # fmt: skip
        who_cmds = {
            f"portreg who {typical}": [*PORTREG, "who", str(typical)],
            f"ss -tlnpH 'sport = :{typical}'": ["ss", "-tlnpH", f"sport = :{typical}"],
            f"portreg who {worst} (worst case)": [*PORTREG, "who", str(worst)],
            f"ss -tlnpH 'sport = :{worst}'": ["ss", "-tlnpH", f"sport = :{worst}"],
        }
        if shutil.which("lsof"):
            who_cmds[f"lsof -i :{typical}"] = ["lsof", "-i", f":{typical}"]

        # Checked in a child: this process stays small, and ru_maxrss of a child counts the
        # memory of the parent it was forked from.
        sanity = subprocess.run(
            [sys.executable, "-c", SANITY, json.dumps(PORTREG)],
            input=json.dumps(ports), capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        print(f"sanity: {sanity.strip()}")

        scan = measure(scan_cmds, opts.runs)
        who = measure(who_cmds, opts.runs)
    finally:
        for proc in procs:
            if proc.stdin:
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def table(title: str, rows: dict[str, tuple[float, int]], base: str) -> None:
        print(f"\n{title} (median of {opts.runs} cold runs)")
        print(f"  {'command':44} {'wall ms':>9} {'x ss':>9} {'peak MiB':>9}")
        for name, (wall, peak) in rows.items():
            ratio = wall / rows[base][0]
            print(f"  {name:44} {wall * 1000:9.1f} {ratio:9.2f} {peak / 1024:9.1f}")

    table("scan", scan, "ss -tulnpH")
    table("who", who, f"ss -tlnpH 'sport = :{typical}'")

    scan_ratio = scan["portreg scan --json"][0] / scan["ss -tulnpH"][0]
    who_ratio = who[f"portreg who {typical}"][0] / who[f"ss -tlnpH 'sport = :{typical}'"][0]
    worst_ratio = (
        who[f"portreg who {worst} (worst case)"][0] / who[f"ss -tlnpH 'sport = :{worst}'"][0]
    )
    mem = scan["portreg scan --json"][1] / 1024
    results = [
        ("scan <= 0.5x ss -tulnpH", scan_ratio <= 0.5, f"{scan_ratio:.2f}x"),
        ("who <= 0.5x ss query", who_ratio <= 0.5, f"{who_ratio:.2f}x"),
        ("  (worst case, not a target)", True, f"{worst_ratio:.2f}x"),
        ("scan peak memory < 48 MiB", mem < 48, f"{mem:.1f} MiB"),
    ]
    print("\ntargets")
    for label, ok, value in results:
        print(f"  {'met ' if ok else 'MISS'}  {label:30} {value}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
