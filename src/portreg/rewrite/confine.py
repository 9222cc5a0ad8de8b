"""Keep every repository path portreg reads or writes inside the repository.

A page named `../outside/.ssh/authorized_keys`, an absolute path, or a file that is a symlink to
somewhere else would otherwise be read (and printed in `sync --check`'s diff) or overwritten.
The check runs on the *resolved* path — following every symlink, including ones in the
directories on the way — because that is where the bytes would go: resolving only at write time
(as `Path.resolve()` before a write does) follows a link straight out of the repository.

Refusal is one `PortregError` (one `error:` line, exit 2) before anything is read or written;
a legitimate link to a shared file elsewhere can be skipped with `[sync] exclude`.
"""

from __future__ import annotations

import os
from pathlib import Path

from portreg.errors import PortregError


def inside(root: Path, rel: str) -> Path:
    """The resolved path of `rel` under `root`; refuses a path that resolves outside `root`.

    `rel` may not exist yet (a page to create): its deepest existing ancestor is resolved and
    the rest appended, which is what the kernel would do when creating it.
    """
    if not rel or "\0" in rel:
        raise PortregError(f"{rel!r}: not a usable file name")
    base = Path(os.path.realpath(root))
    target = Path(os.path.realpath(base / rel))
    if target != base and base not in target.parents:
        how = "is a symlink that points" if os.path.islink(base / rel) else "resolves"
        raise PortregError(
            f"{rel} {how} outside the repository ({target}); portreg neither reads nor writes it"
            " (add it to [sync] exclude to skip it)"
        )
    return target
