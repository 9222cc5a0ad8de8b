"""The repository's files: which ones there are, and their text (the I/O edge of rewriting)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
     ".ruff_cache", ".pytest_cache", ".tox", ".nox"}
)  # fmt: skip
MAX_BYTES = 2_000_000  # larger files are data, not configuration


def list_files(root: Path, exclude: tuple[str, ...] = ()) -> list[str]:
    """Paths (relative to `root`, `/`-separated) of the files under it, less `exclude`.

    In a git work tree: `git ls-files` — tracked files plus untracked ones that are not
    ignored (a new `.env.example` counts before its first commit). Elsewhere: a walk that
    skips VCS, virtualenv, node_modules and cache directories. An exclude pattern is an
    fnmatch glob on the relative path (`*` crosses `/`), or a directory prefix (`tests/`).
    """
    return [n for n in _all_files(root) if not excluded(n, exclude)]


def excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(rel, p) or (p.endswith("/") and rel.startswith(p)) for p in patterns)


def _all_files(root: Path) -> list[str]:
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        proc = None
    if proc is not None and proc.returncode == 0:
        names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
        return sorted({n for n in names if n})
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel = os.path.relpath(dirpath, root)
        for f in filenames:
            out.append(f if rel == "." else f"{rel}/{f}".replace(os.sep, "/"))
    return sorted(out)


def read_text(root: Path, rel: str) -> str | None:
    """The file's text, or None when it is missing, binary, too large or not UTF-8.

    Bytes are decoded as they are (no newline translation), so a rewrite keeps `\\r\\n`.
    A file that resolves outside `root` (`../`, a symlink out) is refused, never read.
    """
    from portreg.rewrite.confine import inside

    path = inside(root, rel)
    try:
        if not path.exists():
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) > MAX_BYTES or b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
