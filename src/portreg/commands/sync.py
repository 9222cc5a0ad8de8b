"""`sync [--check]`: bring every rewritten or generated file in line with the registry."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.views import Lines, View

if TYPE_CHECKING:
    from portreg.rewrite.plan import FileChange


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The files that drift (`--check`) or were brought in line."""

    files: tuple[FileChange, ...]
    check: bool

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PROBLEMS if self.check and self.files else ExitCode.OK

    def to_json(self) -> Any:
        return {
            "check": self.check,
            "in_sync": not self.files,
            "files": [
                {
                    "file": f.path,
                    "lines": [
                        {"line": n, "found": old, "expected": new}
                        for n, old, new in f.changed_lines()
                    ],
                }
                for f in self.files
            ],
        }

    def views(self) -> list[View]:
        if not self.files:
            return [Lines(("in sync: every file agrees with the registry",))]
        lines: list[str] = []
        if self.check:
            for f in self.files:
                numbers = dict.fromkeys(n for n, _old, _new in f.changed_lines())
                lines.extend(f"drift: {f.path}:{n}" for n in numbers)
            for f in self.files:
                lines.extend(f.diff().rstrip("\n").split("\n"))
            lines.append(f"{len(self.files)} file(s) drift from the registry; `portreg sync` fixes")
        else:
            for f in self.files:
                n = len(f.changed_lines())
                lines.append(f"updated {f.path} ({n} line{'s' if n != 1 else ''})")
        return [Lines(tuple(lines))]


def run(env: Environment, args: argparse.Namespace) -> SyncResult:
    path = env.registry_path()
    if args.check:
        # Before the registry or any compose file is parsed: a repository whose registry and
        # files are byte for byte those of its last clean check is clean (rewrite/cleancache).
        from portreg.rewrite.cleancache import unchanged

        if unchanged(path):
            return SyncResult((), True)
    from portreg.rewrite.plan import sync

    files = sync(path, bool(args.check))
    return SyncResult(tuple(files), bool(args.check))
