"""The one exception type every door raises, its kinds, and the exit codes of the command line.

An error carries a *kind*, never a sentence to be matched: the command line's exit code and the
server's HTTP status both come from the kind (`exit_code`, `http_status`), and the message is
the same word for word at every door.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1  # a check, audit, sync --check or import found something
    BAD_INPUT = 2  # usage error, bad value, unreadable registry, refusal; nothing was changed


class ErrorKind(Enum):
    """What went wrong, as the caller can act on it."""

    BAD_INPUT = "bad-input"  # a value no rule accepts: fix the request
    NOT_FOUND = "not-found"  # names something the registry does not hold
    CONFLICT = "conflict"  # clashes with what the registry or the host holds now
    UNAVAILABLE = "unavailable"  # a part portreg needs cannot be reached: try again later

    @property
    def http_status(self) -> int:
        return _HTTP[self]


_HTTP = {
    ErrorKind.BAD_INPUT: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 503,
}


class PortregError(Exception):
    """Bad input or a refused operation. Its message is printed as one `error: ` line.

    `code` is the command line's exit code: 2 for every kind (nothing was changed), unless a
    command says otherwise (e.g. 1 for "problems found").
    """

    kind: ErrorKind = ErrorKind.BAD_INPUT

    def __init__(
        self,
        message: str,
        code: ExitCode = ExitCode.BAD_INPUT,
        *,
        kind: ErrorKind | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        if kind is not None:
            self.kind = kind

    @property
    def message(self) -> str:
        # One line, always: a multi-line message would break the CLI contract.
        return " ".join(str(self).split())

    @property
    def http_status(self) -> int:
        return self.kind.http_status


class NotFound(PortregError):
    kind = ErrorKind.NOT_FOUND


class Conflict(PortregError):
    kind = ErrorKind.CONFLICT


class Unavailable(PortregError):
    kind = ErrorKind.UNAVAILABLE
