"""An `assign` killed with SIGKILL mid-write never tears the registry nor leaves a stale lock."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from portreg import store
from portreg.model import Registry, Service
from tests.conftest import Run, portreg_cmd


def big_registry(path: Path, n: int) -> Registry:
    services = {
        f"svc-{i}": Service(
            f"svc-{i}",
            f"Service {i}",
            {"development": 53000 + i},
            notes=f"note {i}",
            process="python",
        )
        for i in range(n)
    }
    registry = Registry(project="big", services=services)
    store.create(path, registry)
    return registry


def _kill_when_temp_appears(proc: subprocess.Popen[str], directory: Path, limit: float) -> bool:
    """SIGKILL `proc` the moment its temp file exists (between write and os.replace)."""
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline:
        if any(name.endswith(".tmp") for name in os.listdir(directory)):
            proc.send_signal(signal.SIGKILL)
            return True
    return False


def test_sigkill_mid_write_loses_nothing_and_leaves_no_lock(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "ports.toml"
    big_registry(path, 400)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    rng = random.Random(7)
    committed: dict[str, int] = {}
    mid_write_kills = 0
    for i in range(16):
        proc = subprocess.Popen(
            [*portreg_cmd(), "assign", f"new-{i}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if i % 2 == 0:
            # Precisely mid-write: the new content is being written to the temp file.
            mid_write_kills += _kill_when_temp_appears(proc, tmp_path, limit=30)
        else:
            # Anywhere: start-up, parsing, computing, writing.
            time.sleep(rng.uniform(0.02, 0.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        if proc.returncode == 0:
            committed[f"new-{i}"] = int(out)
        # After every kill the registry still loads and holds everything committed so far.
        # (A run killed after its os.replace but before it printed is recorded, unseen.)
        after = store.load(path)
        assert all(f"svc-{n}" in after.services for n in range(400))
        assert set(committed) <= set(after.services)
        assert len(after.services) <= 400 + i + 1
        for sid, port in committed.items():
            assert after.services[sid].ports["development"] == port
    assert mid_write_kills >= 4, "too few runs were killed mid-write to exercise the crash"
    # No stale lock: the next assign completes at once.
    done = run("assign", "after-crash", timeout=20)
    assert done.returncode == 0, done.stderr
    rows = json.loads(run("list", "--json").stdout)
    assert len({r["port"] for r in rows}) == len(rows) == len(after.services) + 1
    # Temp files of killed writers are swept by the next writer, under the lock.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ports.toml"]
