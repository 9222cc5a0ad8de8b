"""The result of a write command (add, assign, reserve, release)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portreg.errors import ExitCode
from portreg.ops import Outcome
from portreg.views import Lines, View, Warning


@dataclass(frozen=True, slots=True)
class Written:
    """A write command's outcome and its one line of text."""

    outcome: Outcome
    text: str
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> Any:
        o = self.outcome
        return {
            "service": o.service,
            "environment": o.environment or None,
            "port": o.port,
            "changed": o.changed,
        }

    def views(self) -> list[View]:
        out: list[View] = [Lines((self.text,))]
        if self.outcome.warnings:
            out.append(Warning(self.outcome.warnings))
        return out
