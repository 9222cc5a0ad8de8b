"""Cold start of `portreg list --json` and `portreg check PORT` against `port-for --list`.

Run: .venv/bin/python benchmarks/bench_cli.py [--runs N] [--services N]

Both tools hold the same N associations (portreg in a ports.toml, port-for in its
/etc/port-for.conf, which this script backs up and restores). Target from issue 2: portreg at
most 1.5x port-for's median time. Peak RSS comes from wait4() of each child.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _harness import Timing, clean_env, measure, table
from portreg import store
from portreg.model import Registry, Service

BIN = Path(sys.executable).parent
PORT_FOR_CONF = Path("/etc/port-for.conf")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--services", type=int, default=50)
    opts = ap.parse_args()

    # An installed package has its bytecode compiled; an editable checkout may not yet.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(store.__file__).parent)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    work = Path(tempfile.mkdtemp(prefix="portreg-bench-cli-"))
    backup = PORT_FOR_CONF.read_bytes() if PORT_FOR_CONF.exists() else None
    try:
        services = {
            f"svc-{i}": Service(f"svc-{i}", f"Service {i}", {"development": 53000 + i})
            for i in range(opts.services)
        }
        store.create(work / "ports.toml", Registry(project="bench", services=services))
        lines = ["[ports]"] + [f"svc-{i} = {53000 + i}" for i in range(opts.services)]
        PORT_FOR_CONF.write_text("\n".join(lines) + "\n")
        env = clean_env(PORTREG_REGISTRY=str(work / "ports.toml"))
        runs = opts.runs
        results: list[Timing] = [
            measure("python -c pass (floor)", [sys.executable, "-c", "pass"], runs=runs, env=env),
            measure("port-for --list", [str(BIN / "port-for"), "--list"], runs=runs, env=env),
            measure(
                "portreg list --json",
                [str(BIN / "portreg"), "list", "--json"],
                runs=runs,
                env=env,
                cwd=str(work),
            ),
            measure(
                "portreg check 53010",
                [str(BIN / "portreg"), "check", "53010"],
                runs=runs,
                env=env,
                cwd=str(work),
            ),
            measure(
                "portreg check 53010 --json",
                [str(BIN / "portreg"), "check", "53010", "--json"],
                runs=runs,
                env=env,
                cwd=str(work),
            ),
        ]
    finally:
        if backup is None:
            PORT_FOR_CONF.unlink(missing_ok=True)
        else:
            PORT_FOR_CONF.write_bytes(backup)
        shutil.rmtree(work, ignore_errors=True)

    base = results[1].median_ms
    rows = [
        (
            t.label,
            f"{t.median_ms:.1f}",
            f"{t.p90_ms:.1f}",
            f"{t.median_ms / base:.2f}x",
            f"{t.peak_rss_mib:.1f}",
        )
        for t in results
    ]
    print(f"cold start, {opts.services} services, median of {opts.runs} runs")
    print(table(rows, ("command", "median ms", "p90 ms", "vs port-for", "peak RSS MiB")))
    worst = max(t.median_ms for t in results[2:]) / base
    verdict = "met" if worst <= 1.5 else "MISSED"
    print(f"target: portreg <= 1.5x port-for --list: worst {worst:.2f}x -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
