"""`import FILE...`: seed-style Markdown pages, docker-compose files and .env files.

With no registry yet, the import creates ports.toml where `init` would. All files are read
and parsed before anything is written: one bad file means no change at all.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portreg.environment import Environment
from portreg.errors import ExitCode, PortregError
from portreg.importers import MergeReport
from portreg.views import Lines, View, Warning


@dataclass(frozen=True, slots=True)
class ImportResult:
    path: str
    report: MergeReport

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if self.report.clashes else ExitCode.OK

    def to_json(self) -> Any:
        r = self.report
        return {
            "registry": self.path,
            "added": list(r.added),
            "updated": list(r.updated),
            "clashes": list(r.clashes),
            "warnings": list(r.warnings),
        }

    def views(self) -> list[View]:
        r = self.report
        if r.added or r.updated:
            text = f"{self.path}: {len(r.added)} added, {len(r.updated)} updated"
        else:
            text = f"{self.path}: already up to date"
        out: list[View] = [Lines((text,))]
        if r.clashes or r.warnings:
            out.append(Warning(tuple(r.clashes) + tuple(r.warnings)))
        return out


def run(env: Environment, args: argparse.Namespace) -> ImportResult:
    from portreg import importers, store
    from portreg.importers.published import is_env_file, project_variables
    from portreg.model import Registry
    from portreg.ops import Stamp

    files: list[tuple[str, Path, bytes]] = []
    for name in args.files:
        path = Path(name) if Path(name).is_absolute() else env.cwd / name
        try:
            data = path.read_bytes()
        except IsADirectoryError:
            raise PortregError(f"{name}: is a directory") from None
        except OSError as exc:
            raise PortregError(f"cannot read {name}: {exc.strerror}") from None
        files.append((name, path, data))
    # `.env*`, `env.example`, `*.env.example` named in this import: the intended defaults.
    named = [data.decode("utf-8", "replace") for name, _p, data in files if is_env_file(name)]
    pieces = []
    for name, path, data in files:
        # `${API_PORT}` in a compose file: the project's .env (what compose reads) over the
        # env files named in this same import.
        project_env = path.parent / ".env"
        own = project_env.read_text("utf-8", "replace") if project_env.is_file() else None
        pieces.append(importers.parse(name, data, project_variables(own, named)))

    target = env.registry_path(must_exist=False)
    stamp = Stamp(env.who, env.now())

    def change(registry: Registry) -> tuple[Registry, MergeReport]:
        report = importers.merge(registry, pieces, stamp)
        return report.registry, report

    if not target.exists():
        fresh = Registry(project=env.cwd.name)
        report = importers.merge(fresh, pieces, stamp)
        try:
            store.create(target, report.registry)
        except PortregError:
            report = store.mutate(target, change)  # created meanwhile by another process
    else:
        report = store.mutate(target, change)
    return ImportResult(str(target), report)
