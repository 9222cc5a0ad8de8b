"""A cache of parsed registries (the TOML as a plain dict), so reads need not reparse.

At 2,000 services `tomllib.loads` is most of `list`; the parsed dict, marshalled, loads several
times faster. What is cached is tomllib's output (dicts, lists, strings, numbers, dates), never
model objects, so a change to the model or to the reader cannot meet a stale shape.

Keyed by the file's identity: (device, inode, size, mtime_ns, ctime_ns). Every portreg write
replaces the file (a new inode); an editor that rewrites in place changes mtime and ctime. An
entry written by another Python (or another portreg version) is never trusted. Entries live in
`$XDG_CACHE_HOME/portreg` (default `~/.cache/portreg`), one per registry path, never beside the
registry. Any failure to read or write the cache only means "parse the file": the cache can be
deleted at any time, and `PORTREG_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")
_TAG = ("portreg-regcache", 3, sys.hexversion, sys.implementation.cache_tag)


def directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "portreg"


def entry(kind: str, path: str) -> Path:
    """The cache file of `kind` (`registry`, `sync`) for `path`."""
    # crc32 and adler32, not sha256: hashlib loads OpenSSL (~5 ms of every command's start-up).
    # A collision only means two paths share an entry; every entry names its path.
    import zlib

    raw = os.fsencode(path)
    return directory() / f"{kind}-{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}.marshal"


def _entry(path: Path) -> Path:
    return entry("registry", os.path.abspath(path))


def parsed(
    path: Path,
    read: Callable[[Path], str],
    parse: Callable[[str], dict[str, Any]],
    build: Callable[[dict[str, Any]], R],
) -> R:
    """`build(parse(read(path)))`, the parse from the cache when the file is the one that was
    parsed last. A parse is cached only once `build` accepted it, so every entry is of a
    registry that reads without error (what `valid` relies on)."""
    if os.environ.get("PORTREG_NO_CACHE"):
        return build(parse(read(path)))
    try:
        st = os.stat(path)
    except OSError:
        return build(parse(read(path)))  # `read` names the problem
    identity = _identity(st)
    data = _lookup(path, identity)
    if data is not None:
        return build(data)
    data = parse(read(path))
    result = build(data)
    # Only a file that did not change while it was read is cached under its identity.
    _store_if(path, identity, data)
    return result


def read_parsed(
    path: Path,
    read: Callable[[Path], str],
    parse: Callable[[str], dict[str, Any]],
    build: Callable[[dict[str, Any]], R],
) -> tuple[str, dict[str, Any], R]:
    """The file's text, its parse (from the cache when still valid) and `build` of that.

    For writers, under the lock: they need the text to edit, but not the parse of 2,000
    services. The text is read between two stats that must agree, so the parse belongs to it.
    """
    try:
        st = os.stat(path)
    except OSError:
        st = None
    text = read(path)
    if st is None or os.environ.get("PORTREG_NO_CACHE"):
        data = parse(text)
        return text, data, build(data)
    identity = _identity(st)
    try:
        unchanged = _identity(os.stat(path)) == identity
    except OSError:
        unchanged = False
    cached = _lookup(path, identity) if unchanged else None
    if cached is not None:
        return text, cached, build(cached)
    data = parse(text)
    result = build(data)
    if unchanged:
        _store_if(path, identity, data)
    return text, data, result


def valid(path: Path) -> dict[str, Any] | None:
    """The cached parse of `path` if the file is still the one parsed, else None. Such a
    parse has been read as a registry without error (see `parsed`), so a reader that needs
    only part of it (`list`) may take it without the model's checks."""
    if os.environ.get("PORTREG_NO_CACHE"):
        return None
    try:
        return _lookup(path, _identity(os.stat(path)))
    except OSError:
        return None


def remember(path: Path, text: str, data: dict[str, Any]) -> None:
    """Record `data` as the parse of `text`, which the caller has just written to `path`
    (under the lock, so no other portreg writer replaced it since)."""
    if os.environ.get("PORTREG_NO_CACHE"):
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    if st.st_size == len(text.encode("utf-8")):
        _store_if(path, _identity(st), data)


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _lookup(path: Path, identity: tuple[int, ...]) -> dict[str, Any] | None:
    import marshal

    try:
        with open(_entry(path), "rb") as fh:
            tag, where, seen, data, times = marshal.loads(fh.read())
        if (
            tag == _TAG
            and where == os.path.abspath(path)
            and seen == identity
            and isinstance(data, dict)
        ):
            if times:
                _restore_times(data, times)
            return data
    except Exception:  # missing, truncated, from another version: parse instead
        pass
    return None


def save(entry: Path, record: Any) -> None:
    """Marshal `record` to the cache file `entry` (temp file + os.replace, so a reader sees
    the old entry or the new one). A failure only means there is no entry."""
    import marshal

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            marshal.dump(record, fh)
        os.replace(tmp, entry)
    except (OSError, ValueError):
        pass


def _store_if(path: Path, identity: tuple[int, ...], data: dict[str, Any]) -> None:
    """Store `data` under `identity` if the file still has that identity."""
    entry = _entry(path)
    times: list[tuple[tuple[str | int, ...], str, str]] = []
    taken: list[tuple[Any, str | int, Any]] = []
    try:
        if _identity(os.stat(path)) != identity:
            return
        _take_times(data, (), times, taken)  # in place, put back below: no copy of 2,000 tables
        save(entry, (_TAG, os.path.abspath(path), identity, data, times))
    except OSError:
        pass
    finally:
        for container, key, value in taken:
            container[key] = value


# marshal, not pickle: it is built in (pickle's import is ~4 ms of every cached read) and
# loads plain data faster; `loads` of the file's bytes, not `load` of the file, which reads
# it in many small pieces (4 ms against 0.2 ms for an 80 KB entry). It has no dates: TOML's
# date-times are stored as ISO text beside the data, with the path where each one goes.


_PLAIN = (str, int, float, bool)


def _take_times(
    value: dict[str, Any] | list[Any],
    where: tuple[str | int, ...],
    times: list[Any],
    taken: list[tuple[Any, str | int, Any]],
) -> None:
    """Replace each date/time in `value` by None, in place: listed in `times` (for the
    record) and in `taken` (so the caller can put it back)."""
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    found: list[str | int] = []
    for key, item in pairs:
        if isinstance(item, _PLAIN):
            continue
        if isinstance(item, dict | list):
            _take_times(item, (*where, key), times, taken)
            continue
        times.append(((*where, key), type(item).__name__, item.isoformat()))
        taken.append((value, key, item))
        found.append(key)
    for key in found:  # after the walk: a dict is not changed while it is iterated
        value[key] = None  # type: ignore[index]


def _restore_times(data: dict[str, Any], times: list[Any]) -> None:
    import datetime

    kinds: dict[str, Any] = {
        "datetime": datetime.datetime,
        "date": datetime.date,
        "time": datetime.time,
    }
    for where, kind, text in times:
        target: Any = data
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = kinds[kind].fromisoformat(text)
