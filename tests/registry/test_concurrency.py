"""No port handed out twice: many `portreg assign` processes on one registry at once."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import Run, portreg_cmd

N = 50


def test_fifty_processes_get_fifty_distinct_recorded_ports(run: Run, tmp_path: Path) -> None:
    assert run("init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    procs = [
        subprocess.Popen(
            [*portreg_cmd(), "assign", f"svc-{i}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * N, [err for _, err in results if err]
    printed = [int(out.strip()) for out, _ in results]
    assert len(set(printed)) == N
    rows = json.loads(run("list", "--json").stdout)
    recorded = {r["service"]: r["port"] for r in rows}
    assert recorded == {f"svc-{i}": printed[i] for i in range(N)}
    # Every assignment is also in the change log, once.
    text = (tmp_path / "ports.toml").read_text()
    assert text.count('action = "assign"') == N


def test_concurrent_assign_of_the_same_service_agrees(run: Run, tmp_path: Path) -> None:
    assert run("init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    procs = [
        subprocess.Popen(
            [*portreg_cmd(), "assign", "api"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(20)
    ]
    outs = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert len(outs) == 1
    assert len(json.loads(run("list", "--json").stdout)) == 1
