"""`portreg sync --check` (and `refs`) on a repository of 2,000 tracked files and 500 services.

Run: .venv/bin/python benchmarks/bench_sync.py [--runs N] [--files N] [--services N]

The repository is built in a temp dir: ports.toml with the services (connection strings and
compose names recorded), 10 compose files and 10 .env files carrying their ports, README.md and
CLAUDE.md with marker tables, the generated registry page, and the rest Python, Markdown, shell
and JSON files (some mentioning ports). Target from issue 4: `sync --check` under 1 s.
Baseline, measured in the same run over the same tree: `git ls-files | xargs grep -n PORT` —
the least any tool that reads the tracked files for a port must do; and (issue 14's
baseline, target at most 4x) `git grep -n -E 'P1|P2|…'` of every registered port.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _harness import Timing, clean_env, measure, table
from portreg import render, store
from portreg.model import ConnectionString, Registry, Service

BIN = Path(sys.executable).parent
TARGET_MS = 1000.0
RATIO = 4.0  # issue 14: within 4x `git grep` of the same ports
GROUPS = 10


def build(root: Path, n_files: int, n_services: int) -> int:
    """The repository; returns the number of tracked files."""
    services: dict[str, Service] = {}
    for i in range(n_services):
        sid = f"svc-{i:03d}"
        services[sid] = Service(
            id=sid,
            name=f"Svc {i:03d}",
            ports={"development": 53000 + i},
            protocol="http" if i % 3 else "postgres",
            notes=f"service number {i}",
            compose_service=f"app{i:03d}",
            container_port=8000,
            connection_strings=(
                ConnectionString(f"SVC_{i:03d}_URL", f"http://localhost:{{port}}/s{i}"),
            ),
        )
    registry = Registry(project="bench", services=services)
    store.create(root / "ports.toml", registry)
    written = 1
    per_group = (n_services + GROUPS - 1) // GROUPS
    ids = list(services)
    for g in range(GROUPS):
        chunk = ids[g * per_group : (g + 1) * per_group]
        compose = ["# group stack", "x-restart: &restart", "  restart: unless-stopped", ""]
        compose.append("services:")
        env = [f"# group {g}"]
        for sid in chunk:
            s = services[sid]
            port = s.ports["development"]
            compose += [
                f"  {s.compose_service}:",
                "    <<: *restart",
                "    image: example/app:1",
                "    ports:",
                f'      - "{port}:8000"  # {s.name}',
            ]
            env.append(f'export SVC_{sid[-3:]}_URL="http://localhost:{port}/s{sid[-3:]}"  # x')
        d = root / f"group{g}"
        d.mkdir()
        (d / "docker-compose.yaml").write_text("\n".join(compose) + "\n")
        (d / ".env.example").write_text("\n".join(env) + "\n")
        written += 2
    marker = "<!-- portreg:begin {} -->\n<!-- portreg:end -->\n"
    (root / "README.md").write_text("# Bench\n\n" + marker.format("services"))
    (root / "CLAUDE.md").write_text("# Agent\n\n" + marker.format("environments"))
    (root / "docs").mkdir()
    (root / "docs" / "SERVICES.md").write_text(render.markdown(registry))
    written += 3
    i = 0
    while written < n_files:
        d = root / "src" / f"pkg{i % 40}"
        d.mkdir(parents=True, exist_ok=True)
        kind = i % 10
        port = 53000 + (i % n_services)
        if kind < 6:
            body = "".join(
                f"def f{j}(x: int) -> int:\n    return x * {j} + {port if j == 3 else j}\n\n"
                for j in range(30)
            )
            (d / f"mod{i}.py").write_text(body)
        elif kind < 8:
            (d / f"note{i}.md").write_text(f"# Note {i}\n\n" + "Some prose line.\n" * 40)
        elif kind < 9:
            (d / f"run{i}.sh").write_text(f"#!/bin/sh\ncurl -s localhost:{port}/health\n" * 5)
        else:
            (d / f"data{i}.json").write_text(
                '{"k": [' + ",".join(str(n) for n in range(300)) + "]}"
            )
        written += 1
        i += 1
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--services", type=int, default=500)
    opts = ap.parse_args()
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(store.__file__).parent)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    portreg = str(BIN / "portreg")
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        git = ["git", "-c", "user.name=bench", "-c", "user.email=b@x.invalid"]
        subprocess.run([*git, "init", "-q"], cwd=root, check=True)
        n = build(root, opts.files, opts.services)
        env = clean_env()
        fill = subprocess.run(
            [portreg, "sync"], cwd=root, env=env, capture_output=True, check=False
        )
        assert fill.returncode == 0, fill.stderr
        subprocess.run([*git, "add", "-A"], cwd=root, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "bench"], cwd=root, check=True)
        tracked = len(
            subprocess.run(
                ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
            ).stdout.split()
        )
        check = subprocess.run(
            [portreg, "sync", "--check"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        # One drifting file, so the check has something to report (and exits 1).
        compose = root / "group3" / "docker-compose.yaml"
        clean = compose.read_text()
        port = 53000 + 3 * ((opts.services + GROUPS - 1) // GROUPS)
        compose.write_text(clean.replace(f'"{port}:8000"', f'"{port + 7000}:8000"', 1))
        drift = subprocess.run(
            [portreg, "sync", "--check"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert drift.returncode == 1 and "group3/docker-compose.yaml" in drift.stdout, drift
        compose.write_text(clean)

        rows: list[Timing] = [
            measure(
                "portreg sync --check (clean)",
                [portreg, "sync", "--check"],
                runs=opts.runs,
                cwd=str(root),
                env=env,
            ),
            measure(
                "portreg refs 53003",
                [portreg, "refs", "53003"],
                runs=opts.runs,
                cwd=str(root),
                env=env,
            ),
            measure(
                f"baseline: git grep -n of the {opts.services} ports",
                ["git", "grep", "-n", "-E", "|".join(str(53000 + i) for i in range(opts.services))],
                runs=opts.runs,
                cwd=str(root),
                env=env,
            ),
            measure(
                "baseline: git ls-files | xargs grep -n 53003",
                ["/bin/sh", "-c", "git ls-files -z | xargs -0 grep -n 53003 >/dev/null"],
                runs=opts.runs,
                cwd=str(root),
                env=env,
            ),
        ]
    print(
        f"repository: {tracked} tracked files ({n} written), {opts.services} services, "
        f"{opts.runs} runs each"
    )
    print(
        table(
            [
                (t.label, f"{t.median_ms:.0f}", f"{t.p90_ms:.0f}", f"{t.peak_rss_mib:.0f}")
                for t in rows
            ],
            ("command", "median ms", "p90 ms", "peak RSS MiB"),
        )
    )
    sync_ms, grep_ms = rows[0].median_ms, rows[2].median_ms
    ratio = sync_ms / grep_ms
    ok = sync_ms < TARGET_MS and ratio <= RATIO
    print(
        f"sync --check: {sync_ms:.0f} ms median, {ratio:.1f}x `git grep` of every port "
        f"(target <= {RATIO:.0f}x, issue 14), {sync_ms / rows[3].median_ms:.1f}x the one-port "
        f"grep; {'meets' if ok else 'MISSES'} the targets (< {TARGET_MS:.0f} ms, <= {RATIO:.0f}x)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
