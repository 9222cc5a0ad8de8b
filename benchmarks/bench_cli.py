"""Cold start of `portreg list --json`, `check PORT` and `assign NAME` against port-for.

Run: .venv/bin/python benchmarks/bench_cli.py [--runs N] [--sizes 50,2000]

For each size both tools hold the same N associations (portreg in a ports.toml, port-for in
its /etc/port-for.conf, which this script backs up and restores). Each round runs every
command once, in an order that rotates from round to round, so the machine's load falls on
all of them alike and every read follows a write (no cache stays warm for free):

  portreg list --json     vs  port-for --list
  portreg check PORT      vs  port-for --list
  portreg assign NEWNAME  vs  port-for NEWNAME   (binding a new name: both write their file)

Targets (issue 14): each portreg command at most 1.0x its port-for baseline at 50 services,
2.0x at 2,000. Exits 1 when one is missed. Peak RSS is read once per command by GNU time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _harness import clean_env, peak_rss_kib, spawn_ms, table
from portreg import store
from portreg.model import Policy, Registry, Service

BIN = Path(sys.executable).parent
PORT_FOR_CONF = Path("/etc/port-for.conf")
TARGETS = {50: 1.0, 2000: 2.0}


def bench_size(n: int, runs: int, work: Path) -> tuple[list[tuple[str, ...]], bool]:
    services = {
        f"svc-{i}": Service(f"svc-{i}", f"Service {i}", {"development": 40000 + i})
        for i in range(n)
    }
    reg = work / f"r{n}" / "ports.toml"
    reg.parent.mkdir()
    # A range with room for every assign of the run after the N services.
    policy = Policy(range_start=40000, range_end=59999)
    registry = Registry(project="bench", services=services, policy=policy)
    store.create(reg, registry)
    PORT_FOR_CONF.write_text(
        "\n".join(["[ports]"] + [f"svc-{i} = {40000 + i}" for i in range(n)]) + "\n"
    )
    # A cache directory of the run's own, starting empty for each size.
    env = clean_env(PORTREG_REGISTRY=str(reg), XDG_CACHE_HOME=str(reg.parent / "cache"))
    portreg, port_for = str(BIN / "portreg"), str(BIN / "port-for")
    counter = iter(range(10**9))
    commands: dict[str, object] = {
        "port-for --list": lambda: [port_for, "--list"],
        "port-for NEWNAME": lambda: [port_for, f"pf-new-{next(counter)}"],
        "portreg list --json": lambda: [portreg, "list", "--json"],
        "portreg check 40010": lambda: [portreg, "check", "40010"],
        "portreg assign NEWNAME": lambda: [portreg, "assign", f"pr-new-{next(counter)}"],
    }
    baseline = {
        "portreg list --json": "port-for --list",
        "portreg check 40010": "port-for --list",
        "portreg assign NEWNAME": "port-for NEWNAME",
    }
    names = list(commands)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(runs + 2):  # the first two rounds warm the page cache and bytecode
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            ms = spawn_ms(commands[name](), env, str(reg.parent), check=True)  # type: ignore[operator]
            if r >= 2:
                times[name].append(ms)
    # The file must still be what portreg writes: a parse error here means a broken writer.
    after = store.load(reg)
    assert len(after.services) == n + runs + 2, len(after.services)
    med = {k: statistics.median(v) for k, v in times.items()}
    rss = {k: peak_rss_kib(commands[k](), env) / 1024 for k in names}  # type: ignore[operator]
    rows: list[tuple[str, ...]] = []
    ok = True
    for name in names:
        base = baseline.get(name)
        ratio = med[name] / med[base] if base else 1.0
        if base and ratio > TARGETS.get(n, 2.0):
            ok = False
        rows.append(
            (
                name,
                f"{med[name]:.1f}",
                f"{sorted(times[name])[int(len(times[name]) * 0.9) - 1]:.1f}",
                f"{ratio:.2f}x vs {base}" if base else "(baseline)",
                f"{rss[name]:.1f}",
            )
        )
    return rows, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--sizes", default="50,2000")
    opts = ap.parse_args()

    # An installed package has its bytecode compiled; an editable checkout may not yet.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(store.__file__).parent)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    work = Path(tempfile.mkdtemp(prefix="portreg-bench-cli-"))
    backup = PORT_FOR_CONF.read_bytes() if PORT_FOR_CONF.exists() else None
    verdicts: list[str] = []
    all_ok = True
    try:
        floor = statistics.median(
            spawn_ms([sys.executable, "-c", "pass"], clean_env()) for _ in range(10)
        )
        print(f"python -c pass (floor): {floor:.1f} ms")
        for n in (int(s) for s in opts.sizes.split(",")):
            rows, ok = bench_size(n, opts.runs, work)
            all_ok &= ok
            print(f"\n{n} services, median of {opts.runs} interleaved cold runs")
            header = ("command", "median ms", "p90 ms", "ratio", "peak RSS MiB")
            print(table(rows, header))
            target = TARGETS.get(n, 2.0)
            verdict = "met" if ok else "MISSED"
            verdicts.append(f"{n} services: portreg <= {target}x port-for: {verdict}")
    finally:
        if backup is None:
            PORT_FOR_CONF.unlink(missing_ok=True)
        else:
            PORT_FOR_CONF.write_bytes(backup)
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("\n".join(f"target: {v}" for v in verdicts))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
