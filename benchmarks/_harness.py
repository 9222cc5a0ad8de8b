"""Shared by the benchmark scripts: time whole commands the way a user runs them."""

from __future__ import annotations

import os
import shutil
import statistics
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
    # posix_spawn (vfork-like), not fork: a forked child's peak RSS would start at ours.
    devnull = os.open(os.devnull, os.O_WRONLY)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    full_env = dict(env) if env is not None else dict(os.environ)
    exe = argv[0] if "/" in argv[0] else shutil.which(argv[0]) or argv[0]
    old_cwd = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            pid = os.posix_spawn(exe, list(argv), full_env, file_actions=actions)
            os.waitpid(pid, 0)
            elapsed = time.perf_counter() - t0
            if i >= warmup:
                walls.append(elapsed * 1000)
        peak = peak_rss_kib(argv, full_env)
    finally:
        os.chdir(old_cwd)
        os.close(devnull)
    walls.sort()
    return Timing(label, statistics.median(walls), walls[int(len(walls) * 0.9) - 1], peak / 1024)


def peak_rss_kib(argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> int:
    """Peak RSS of one run, read by GNU time: a child's high-water mark survives exec, so it
    must be spawned by a small process (time), not by this Python process."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(
            ["/usr/bin/time", "-o", out.name, "-f", "%M", *argv],
            env=dict(env),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return int(out.read().strip().splitlines()[-1])


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


def spawn_ms(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None, *, check: bool = False
) -> float:
    """Wall time of one run of `argv` (output discarded), in ms; `check` fails on exit > 1."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    exe = argv[0] if "/" in argv[0] else shutil.which(argv[0]) or argv[0]
    old_cwd = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        t0 = time.perf_counter()
        pid = os.posix_spawn(exe, list(argv), dict(env), file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = (time.perf_counter() - t0) * 1000
    finally:
        os.chdir(old_cwd)
        os.close(devnull)
    if check and os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({os.waitstatus_to_exitcode(status)})")
    return elapsed
