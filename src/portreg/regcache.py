"""A cache of parsed registries (the TOML as a plain dict), so reads need not reparse.

At 2,000 services `tomllib.loads` is most of `list`; the parsed dict, pickled, loads several
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
from typing import Any

_TAG = ("portreg-regcache", 1, sys.hexversion, sys.implementation.cache_tag)


def directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "portreg"


def _entry(path: Path) -> Path:
    import hashlib

    key = hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()[:32]
    return directory() / f"registry-{key}.pickle"


def parsed(
    path: Path, read: Callable[[Path], str], parse: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    """`parse(read(path))`, from the cache when the file is the one that was parsed last."""
    if os.environ.get("PORTREG_NO_CACHE"):
        return parse(read(path))
    try:
        st = os.stat(path)
    except OSError:
        return parse(read(path))  # `read` names the problem
    identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    entry = _entry(path)
    import pickle

    try:
        with open(entry, "rb") as fh:
            tag, seen, data = pickle.load(fh)
        if tag == _TAG and seen == identity and isinstance(data, dict):
            return data
    except Exception:  # missing, truncated, from another version: parse instead
        pass
    data = parse(read(path))
    try:
        # Only a file that did not change while it was read is cached under its identity.
        if os.stat(path).st_mtime_ns == st.st_mtime_ns:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                pickle.dump((_TAG, identity, data), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
    except OSError:
        pass
    return data
