"""The one object that owns a command's I/O: streams, working directory, environment, clock."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TextIO

from portreg.errors import PortregError


@dataclass
class Environment:
    """Streams, working directory, environment variables and options of one command run."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    cwd: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    registry_option: str | None = None  # --registry as given
    json: bool = False

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

    @cached_property
    def who(self) -> str:
        """Who makes a change: git's user.name, else the login name."""
        import subprocess

        try:
            out = subprocess.run(
                ["git", "config", "user.name"],
                capture_output=True,
                text=True,
                timeout=2,
                cwd=self.cwd,
                check=False,
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
        return self.environ.get("USER") or self.environ.get("LOGNAME") or "unknown"

    def now(self) -> datetime:
        from portreg.store import now

        return now()
