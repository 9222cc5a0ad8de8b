"""Shared by the benchmark scripts: time whole commands the way a user runs them."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    label: str
    median_ms: float
    p90_ms: float
    peak_rss_mib: float


def measure(
    label: str,
    argv: Sequence[str],
    *,
    runs: int = 30,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    warmup: int = 3,
) -> Timing:
    """Median and p90 wall time of `argv` (stdout discarded), and its peak RSS (wait4)."""
    walls: list[float] = []
    peak = 0
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if i >= warmup:
            walls.append(elapsed * 1000)
            peak = max(peak, usage.ru_maxrss)
    walls.sort()
    return Timing(label, statistics.median(walls), walls[int(len(walls) * 0.9) - 1], peak / 1024)


def clean_env(**extra: str) -> dict[str, str]:
    """The user's environment, minus what would make Python start slower than a user's would."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env.update(extra)
    return env


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)
