"""`sync --check` remembers its last clean verdict, so an unchanged repository is not re-read.

What a clean check read decides its verdict: the registry's bytes, the list of files, and the
bytes of every file the scan looked at (each `.env*`, compose and Markdown file, the recorded
compose files of any name, the page). A record holds a digest of each (BLAKE2b) and what the
registry says about which files matter (`[sync] exclude`, the page, recorded compose paths),
so the next check can tell "the same inputs" without parsing the registry or any compose file:
it lists the files, reads the candidates and compares digests. Any difference, or any doubt,
means the full check runs. Only a clean verdict is kept: drift is always shown in full.

Keyed by content, not by mtime: a rewrite that keeps size and mtime cannot fool it. The code
that judges is part of the key too (portreg's own modules by size and mtime), so an upgrade or
an edited checkout never meets an old verdict. Records live in `$XDG_CACHE_HOME/portreg`, one
per repository, never inside it; `PORTREG_NO_CACHE=1` turns them off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from portreg.errors import PortregError
from portreg.rewrite import is_compose_file, is_env_file, is_markdown_file

_TAG = ("portreg-syncclean", 1, sys.hexversion)


def _hasher() -> Any:
    # _blake2 is built in; hashlib would load OpenSSL (~8 ms of the check's start-up).
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - another Python
        from hashlib import blake2b
    return blake2b(digest_size=20)


def digest(data: bytes) -> bytes:
    h = _hasher()
    h.update(data)
    return bytes(h.digest())


class Fingerprint:
    """The digest of what a scan read, fed file by file in the scan's order."""

    def __init__(self) -> None:
        self._h = _hasher()

    def add(self, rel: str, data: bytes | None) -> None:
        name = os.fsencode(rel)
        size = -1 if data is None else len(data)
        self._h.update(b"%d:%s:%d:" % (len(name), name, size))
        if data is not None:
            self._h.update(data)

    def value(self) -> bytes:
        return bytes(self._h.digest())


class Selector:
    """What the registry says about which files a check reads (kept so the next check need not
    parse the registry to know it)."""

    def __init__(self, exclude: Iterable[str], page: str, compose: Iterable[str]) -> None:
        self.exclude = tuple(exclude)
        self.page = page
        self.compose = frozenset(compose)

    def as_data(self) -> tuple[Any, ...]:
        return (self.exclude, self.page, sorted(self.compose))


ENV, COMPOSE, MARKDOWN = "env", "compose", "markdown"  # the kinds of file a scan reads


def candidates(names: list[str], selector: Selector) -> list[tuple[str, str]]:
    """(file, kind) for each file a scan reads: `.env*`, compose (by name, or any file that
    import recorded a port in, such as `jigasi.yml`), and Markdown, and the page."""
    out: list[tuple[str, str]] = []
    page = selector.page
    if page and page not in names:
        out.append((page, MARKDOWN))
    for rel in names:
        if is_env_file(rel):
            out.append((rel, ENV))
        elif is_compose_file(rel) or rel in selector.compose:
            out.append((rel, COMPOSE))
        elif is_markdown_file(rel):
            out.append((rel, MARKDOWN))
    return out


def names_in(root: Path, exclude: tuple[str, ...], files: list[str] | None) -> list[str]:
    from portreg.rewrite import repo

    if files is None:
        return repo.list_files(root, exclude)
    return [n for n in files if not repo.excluded(n, exclude)]


def still_clean(root: Path, registry: bytes) -> bool:
    """True when the last clean check of `root` read exactly what a check would read now."""
    from portreg.rewrite import repo

    known = lookup(root, registry)
    if known is None:
        return False
    selector, files = known
    try:
        names = names_in(root, selector.exclude, None)
        reader = repo.Reader(root)
        seen = Fingerprint()
        for rel, _kind in candidates(names, selector):
            seen.add(rel, reader.read(rel))
    except PortregError:  # a file that now leads outside: the full check names it
        return False
    return seen.value() == files


def unchanged(registry_path: Path) -> bool:
    """True when a check of the repository around `registry_path` would read exactly what its
    last clean check read (so it would find it clean again)."""
    if not enabled():
        return False
    try:
        registry = registry_path.read_bytes()
    except OSError:
        return False
    return still_clean(registry_path.parent, registry)


def enabled() -> bool:
    return not os.environ.get("PORTREG_NO_CACHE")


def _entry(root: Path) -> Path:
    from portreg.regcache import entry

    return entry("sync", os.path.realpath(root))


def _code() -> tuple[tuple[str, int, int], ...]:
    """portreg's own modules as (name, size, mtime): the judge is part of the verdict."""
    base = Path(__file__).resolve().parent.parent
    out: list[tuple[str, int, int]] = []
    for folder in (base, base / "rewrite", base / "importers"):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name.endswith(".py"):
                st = e.stat()
                out.append((e.path, st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


def lookup(root: Path, registry: bytes) -> tuple[Selector, bytes] | None:
    """The selector and the files' digest of the last clean check of `root`, if it was made
    with this registry (by content) and this code; else None."""
    import marshal

    if not enabled():
        return None
    try:
        with open(_entry(root), "rb") as fh:
            tag, where, code, reg, selector, files = marshal.loads(fh.read())
        if (
            tag == _TAG
            and where == os.path.realpath(root)
            and reg == digest(registry)
            and code == _code()
        ):
            exclude, page, compose = selector
            return Selector(exclude, page, compose), files
    except Exception:  # missing, truncated, from another version: check in full
        pass
    return None


def store(root: Path, registry: bytes, selector: Selector, files: bytes) -> None:
    """Remember a clean verdict. Failure to write only means the next check runs in full."""
    from portreg.regcache import save

    if enabled():
        record = (_TAG, os.path.realpath(root), _code(), digest(registry), selector.as_data())
        save(_entry(root), (*record, files))
