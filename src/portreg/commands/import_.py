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
from portreg.importers._result import Imported
from portreg.views import Lines, View, Warning


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import added and updated, and its warnings."""

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
    pieces = read_all(files)

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


def read_all(files: list[tuple[str, Path, bytes]]) -> list[Imported]:
    """Each (name, path, content) parsed, compose files reading `${VAR}` as compose would:
    the project directory's `.env`, over the `.env*` / `env.example` files of this import
    (the intended defaults)."""
    from portreg import importers
    from portreg.importers.published import project_variables
    from portreg.rewrite import is_env_file

    examples = [
        data.decode("utf-8", "replace")
        for name, _p, data in files
        if is_env_file(name) and Path(name).name != ".env"
    ]
    examples += [
        data.decode("utf-8", "replace") for name, _p, data in files if Path(name).name == ".env"
    ]
    pieces = []
    for name, path, data in files:
        project_env = path.parent / ".env"
        dotenv = project_env.read_text(errors="replace") if project_env.is_file() else None
        variables = project_variables(dotenv, examples)
        pieces.append(importers.parse(name, data, variables))
    return pieces


def project_files(root: Path) -> list[tuple[str, Path, bytes]]:
    """Every file under `root` that `import` reads (compose files of any name, `.env*`,
    Markdown), sorted."""
    from portreg.rewrite import is_compose_file, is_env_file, is_markdown_file

    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        yaml = rel.endswith((".yml", ".yaml")) and b"services:" in data
        if is_compose_file(rel) or yaml or is_env_file(rel) or is_markdown_file(rel):
            out.append((rel, path, data))
    return out
