"""Helpers for registry tests: free port blocks on this host, file fingerprints."""

from __future__ import annotations

import hashlib
import random
import socket
from pathlib import Path


def _busy(port: int) -> bool:
    for family, kind, addr in (
        (socket.AF_INET, socket.SOCK_STREAM, "0.0.0.0"),
        (socket.AF_INET, socket.SOCK_DGRAM, "0.0.0.0"),
        (socket.AF_INET6, socket.SOCK_STREAM, "::"),
        (socket.AF_INET6, socket.SOCK_DGRAM, "::"),
    ):
        with socket.socket(family, kind) as s:
            try:
                s.bind((addr, port))
            except OSError:
                return True
    return False


def free_block(size: int, lo: int = 20000, hi: int = 30000) -> int:
    """The first port of `size` consecutive ports nothing listens on (below the ephemeral range,
    so the kernel hands none of them out to other tests' outgoing connections meanwhile)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(lo, hi - size)
        if not any(_busy(p) for p in range(base, base + size)):
            return base
    raise RuntimeError("no free block of ports found")


def fingerprint(*dirs: Path) -> dict[str, str]:
    """Every file under `dirs` with its sha256: compare before/after to prove nothing changed."""
    out = {}
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
