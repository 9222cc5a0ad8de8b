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
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _harness import Timing, clean_env, peak_rss_kib, spawn_ms, table
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

        ports = "|".join(str(53000 + i) for i in range(opts.services))
        warm_env = {**env, "XDG_CACHE_HOME": str(root.parent / f"{root.name}-cache")}
        cold_env = {**env, "PORTREG_NO_CACHE": "1"}
        commands: list[tuple[str, list[str], dict[str, str]]] = [
            ("portreg sync --check, cold (no cache)", [portreg, "sync", "--check"], cold_env),
            ("portreg sync --check, warm (clean verdict kept)", [portreg, "sync", "--check"],
             warm_env),
            ("portreg refs 53003", [portreg, "refs", "53003"], env),
            (f"baseline: git grep -n of the {opts.services} ports",
             ["git", "grep", "-n", "-E", ports], env),
            ("baseline: git ls-files | xargs grep -n 53003",
             ["/bin/sh", "-c", "git ls-files -z | xargs -0 grep -n 53003 >/dev/null"], env),
        ]  # fmt: skip
        walls: dict[str, list[float]] = {label: [] for label, _a, _e in commands}
        for i in range(opts.runs + 2):  # interleaved rounds; the first two warm caches up
            for label, argv, cmd_env in commands:
                ms = spawn_ms(argv, cmd_env, str(root))
                if i >= 2:
                    walls[label].append(ms)
        rows = [
            Timing(
                label,
                statistics.median(walls[label]),
                sorted(walls[label])[max(0, int(len(walls[label]) * 0.9) - 1)],
                peak_rss_kib(argv, cmd_env, str(root)) / 1024,
            )
            for label, argv, cmd_env in commands
        ]
    print(
        f"repository: {tracked} tracked files ({n} written), {opts.services} services, "
        f"median of {opts.runs} interleaved rounds"
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
    grep_ms = rows[3].median_ms
    ok = True
    for t in rows[:2]:
        ratio = t.median_ms / grep_ms
        met = t.median_ms < TARGET_MS and ratio <= RATIO
        ok = ok and met
        print(
            f"{t.label}: {t.median_ms:.0f} ms, {ratio:.1f}x `git grep` of every port "
            f"(target <= {RATIO:.0f}x, issue 14): {'met' if met else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
