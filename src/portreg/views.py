"""What a command hands the renderer: plain, typed views of its result (no Rich, no I/O).

A command returns a `Result`; `portreg.cli.output` turns its `views()` into text or Rich
tables, or prints `to_json()` under `--json`. Commands never print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from portreg.errors import ExitCode


@dataclass(frozen=True, slots=True)
class Table:
    """Rows under column headings; rendered as a Rich table."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Lines:
    """Text printed as is (no markup), one line each: e.g. `assign` prints the port alone."""

    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Warning:
    """Lines for stderr: warnings that do not change the exit code."""

    lines: tuple[str, ...]


View = Table | Lines | Warning


class Result(Protocol):
    @property
    def exit_code(self) -> ExitCode: ...

    def to_json(self) -> Any: ...

    def views(self) -> list[View]: ...


@dataclass(frozen=True, slots=True)
class Simple:
    """A result that is only text and an optional JSON value."""

    text: tuple[str, ...] = ()
    data: Any = None
    code: ExitCode = ExitCode.OK
    warnings: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> ExitCode:
        return self.code

    def to_json(self) -> Any:
        return self.data

    def views(self) -> list[View]:
        out: list[View] = [Lines(self.text)] if self.text else []
        if self.warnings:
            out.append(Warning(self.warnings))
        return out
