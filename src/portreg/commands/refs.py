"""`refs PORT`: every mention of a port in the repository, and whether portreg rewrites it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.rewrite.refs import Mention
from portreg.views import Lines, View


@dataclass(frozen=True, slots=True)
class RefsResult:
    """The files and lines that mention a port."""

    port: int
    root: str
    mentions: tuple[Mention, ...]
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> Any:
        return [m.to_json() for m in self.mentions]

    def views(self) -> list[View]:
        if not self.mentions:
            return [Lines((f"no mention of {self.port} under {self.root}",))]
        lines = [
            f"{m.path}:{m.line}: [{m.how if m.rewritable else 'manual'}] {m.text}"
            for m in self.mentions
        ]
        manual = sum(1 for m in self.mentions if not m.rewritable)
        files = len({m.path for m in self.mentions})
        lines.append(
            f"{len(self.mentions)} mention(s) of {self.port} in {files} file(s); "
            f"{manual} to review by hand (portreg rewrites the rest on move/sync)"
        )
        return [Lines(tuple(lines))]


def _root(env: Environment) -> tuple[Path, Path | None]:
    """The registry's directory when there is a local registry, else the git top level or cwd."""
    import subprocess

    if not env.is_remote:
        from portreg.locate import find_registry

        found = find_registry(env.cwd, env.environ, env.registry_option)
        if found is not None and found.is_file():
            path = found if found.is_absolute() else env.cwd / found
            return path.parent, path
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=env.cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if proc.returncode == 0 and proc.stdout.strip():
            return Path(proc.stdout.strip()), None
    except (OSError, subprocess.SubprocessError):
        pass
    return env.cwd, None


def run(env: Environment, args: argparse.Namespace) -> RefsResult:
    from portreg.rewrite.refs import find

    root, registry = _root(env)
    exclude: tuple[str, ...] = ()
    if registry is not None:
        from portreg.store import load

        exclude = load(registry).exclude
    mentions = find(root, args.port, skip=registry, exclude=exclude)
    return RefsResult(args.port, str(root), tuple(mentions))
