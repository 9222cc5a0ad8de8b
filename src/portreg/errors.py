"""The one exception type commands raise, and the exit codes of the command line."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1  # a check, audit, sync --check or import found something
    BAD_INPUT = 2  # usage error, bad value, unreadable registry; nothing was changed


class PortregError(Exception):
    """Bad input or a refused operation. Its message is printed as one `error: ` line."""

    def __init__(self, message: str, code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        # One line, always: a multi-line message would break the CLI contract.
        return " ".join(str(self).split())
