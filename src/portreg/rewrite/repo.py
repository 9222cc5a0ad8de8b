"""The repository's files: which ones there are, and their text (the I/O edge of rewriting)."""

from __future__ import annotations

import errno
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
    names = _all_files(root)
    return [n for n in names if not excluded(n, exclude)] if exclude else names


def excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return False
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
    return decode(Reader(root).read(rel))


def decode(data: bytes | None) -> str | None:
    """`data` as text, or None when it is missing, binary, too large or not UTF-8."""
    if data is None or len(data) > MAX_BYTES or b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class Reader:
    """Reads files under one root and refuses any that resolves outside it (see `confine`).

    Resolving every path in full (`realpath`: an lstat per component) was a third of reading
    a repository's Markdown. Here each directory is resolved once; a file in a directory that
    resolves to itself (no link on the way) is opened with O_NOFOLLOW, and only a file that
    is itself a link, or lies behind one, takes the full resolution.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._base = os.path.realpath(root)
        self._plain: dict[str, bool] = {}

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it is missing or not a readable file."""
        head, _, _name = rel.rpartition("/")
        parts = rel.split("/")
        if not rel or "\0" in rel or os.path.isabs(rel) or ".." in parts or "." in parts:
            return self._resolved(rel)
        if head and not self._plain_dir(head):
            return self._resolved(rel)
        try:
            fd = os.open(os.path.join(self._base, rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the file is a link: where does it lead?
                return self._resolved(rel)
            return None
        try:
            with os.fdopen(fd, "rb") as fh:
                return fh.read()
        except OSError:  # a directory, a vanished file
            return None

    def _plain_dir(self, head: str) -> bool:
        known = self._plain.get(head)
        if known is None:
            path = os.path.join(self._base, head)
            known = self._plain[head] = os.path.realpath(path) == path
        return known

    def _resolved(self, rel: str) -> bytes | None:
        from portreg.rewrite.confine import inside

        path = inside(self.root, rel)
        try:
            return path.read_bytes() if path.exists() else None
        except OSError:
            return None
