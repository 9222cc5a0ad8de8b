"""The one object that owns a command's I/O: streams, working directory, environment, clock."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from portreg.errors import PortregError

if TYPE_CHECKING:
    from datetime import datetime


@dataclass
class Environment:
    """Streams, working directory, environment variables and options of one command run."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    cwd: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    registry_option: str | None = None  # --registry as given
    json: bool = False
    _git: tuple[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def registry_location(self) -> str | None:
        """The registry as the user named it (path or URL), or the nearest ports.toml."""
        from portreg.locate import find_registry

        if self.is_remote:
            return self._explicit
        found = find_registry(self.cwd, self.environ, self._explicit)
        return None if found is None else str(found)

    @property
    def _explicit(self) -> str | None:
        return self.registry_option or self.environ.get("PORTREG_REGISTRY") or None

    @property
    def is_remote(self) -> bool:
        loc = self._explicit or ""
        return loc.startswith(("http://", "https://"))

    def registry_path(self, *, must_exist: bool = True) -> Path:
        """The local registry file; `must_exist=False` gives where `init` would create one."""
        from portreg.locate import FILENAME, find_registry

        if self.is_remote:
            raise PortregError("this command works on a local ports.toml, not a server URL")
        found = find_registry(self.cwd, self.environ, self._explicit)
        if found is None:
            if must_exist:
                raise PortregError(
                    "no ports.toml found here or above (run `portreg init` or pass --registry)"
                )
            return self.cwd / FILENAME
        if not found.is_absolute():
            found = self.cwd / found
        return found

    def start_who(self) -> None:
        """Ask git for `user.name` now and collect the answer in `who`, so a write command
        reads its registry while git starts (git is ~5-10 ms of `assign`)."""
        if "who" not in self.__dict__ and self._git is None:
            self._git = _spawn_git_user_name(self.cwd)

    @cached_property
    def who(self) -> str:
        """Who makes a change: git's user.name, else the login name."""
        git, self._git = self._git or _spawn_git_user_name(self.cwd), None
        name = _collect(git) if git is not None else ""
        return name or self.environ.get("USER") or self.environ.get("LOGNAME") or "unknown"

    def now(self) -> datetime:
        from portreg.store import now

        return now()


def _spawn_git_user_name(cwd: Path) -> tuple[int, int] | None:
    """(pid, read end of its stdout) of `git config user.name` run in `cwd`, or None.

    posix_spawn and a pipe rather than `subprocess`, whose import (threading, selectors,
    signal handling) costs more at start-up than git itself takes to answer.
    """
    r, w = os.pipe()
    try:
        pid = os.posix_spawnp(
            "git",
            ["git", "-C", str(cwd), "config", "user.name"],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, w, 1),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
        )
    except OSError:
        os.close(r)
        return None
    finally:
        os.close(w)
    return pid, r


def _collect(git: tuple[int, int], timeout: float = 2.0) -> str:
    """git's answer, "" when it fails or takes longer than `timeout` seconds."""
    import select
    import time

    pid, r = git
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0 and select.select([r], [], [], left)[0]:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            chunks.append(chunk)
        else:
            os.kill(pid, 9)  # still running after the timeout
            chunks = []
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return ""
    return b"".join(chunks).decode("utf-8", "replace").strip()
