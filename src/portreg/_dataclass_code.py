"""The code `dataclasses` generates, compiled once per Python and kept on disk.

Each `@dataclass` writes the source of its `__init__`, `__eq__`, `__hash__`, `__repr__` and
`__setattr__` as text and compiles it at import. portreg's model, views and results are ~40
dataclasses, and compiling those texts was the largest single cost of a command's start-up
(~12 ms of `assign`'s ~95 ms at 50 services). `dataclasses` calls `exec(text, globals, ns)`;
a module-level `exec` in its namespace (shadowing the builtin there, and only there) looks the
text up in a table of code objects compiled from that very text, and compiles what is new.
The table is marshalled under `$XDG_CACHE_HOME/portreg`, one per Python build (code objects
are not portable), written only when something new was compiled, and read only when this user
owns it and no one else may write it (its code runs). Same text, same code: a cache miss, a
damaged file or `PORTREG_NO_CACHE=1` only means compiling as before.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_codes: dict[str, Any] = {}
_compiled: list[str] = []  # texts compiled in this process: the table is saved if any


_table = [""]  # the table's path, set by install


def _path(command: str) -> str:
    from portreg.regcache import directory

    tag = f"{sys.implementation.cache_tag}-{sys.hexversion:x}"
    # One table per command: each holds what its command compiles (`serve` alone imports
    # the server's libraries, whose dataclasses would make every command's table ~6x larger).
    word = command.lstrip("-")
    word = word if word.isascii() and word.replace("-", "").isalpha() else "other"
    return os.path.join(directory(), f"dataclass-code-{tag}-{word[:24]}.marshal")


def _exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    if isinstance(source, str):
        code = _codes.get(source)
        if code is None:
            code = _codes[source] = compile(source, "<string>", "exec")
            _compiled.append(source)
        source = code
    exec(source, globals, locals)


def _save() -> None:
    import marshal

    if not _compiled or not _table[0]:
        return
    path = _table[0]
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            marshal.dump(_codes, fh)
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass


def install(command: str = "") -> None:
    """Route `dataclasses`' compiles through the table of `command` (once per process)."""
    if os.environ.get("PORTREG_NO_CACHE"):
        return
    import dataclasses

    if getattr(dataclasses, "exec", None) is _exec:
        return
    import atexit
    import marshal

    _table[0] = _path(command)
    try:
        with open(_table[0], "rb") as fh:
            st = os.fstat(fh.fileno())
            # Code is run from this file: only one that this user wrote and no one else may.
            if st.st_uid == os.getuid() and not st.st_mode & 0o022:
                loaded = marshal.loads(fh.read())
                if isinstance(loaded, dict):
                    _codes.update(loaded)
    except Exception:  # missing, truncated, another build's: compile as usual
        pass
    dataclasses.exec = _exec  # type: ignore[attr-defined]
    atexit.register(_save)
