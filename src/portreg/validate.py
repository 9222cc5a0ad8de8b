"""What a value must be before any door stores it: text fields, environments, policy values.

Names have their own rules (`portreg.naming`). Everything here is bad input when broken, with a
message naming the field, so the command line, the registry file's reader and the server refuse
alike — before a database sees the value (PostgreSQL rejects NUL; SQLite would store it and
break every later export).
"""

from __future__ import annotations

import re
from datetime import date

from portreg.errors import PortregError
from portreg.model import PORT_MAX, PORT_MIN

MAX_TEXT = 500  # a table cell or one line of the page
MAX_BODY = 100_000  # an imported page's section, kept verbatim
MAX_AUDIT_INTERVAL_DAYS = 36_500  # a century: anything longer overflows date arithmetic soon
MAX_AVOID = PORT_MAX
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# A host name as agents report it: a hostname, an `ip netns` name or an address (no `/`, so it
# is one path segment of `/api/v1/hosts/{host}`).
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


def _control(c: str, multiline: bool) -> bool:
    code = ord(c)
    if multiline and c in "\n\t":
        return False
    return code < 32 or 127 <= code < 160 or c in "\u2028\u2029"


def control_char(value: str, *, multiline: bool = False) -> str | None:
    """The first character no text a door stores may hold, or None: C0 and C1 controls and
    the Unicode line and paragraph separators (a line break in a one-line table cell); a
    newline or tab only where the field is multi-line. Every door asks this one rule."""
    return next((c for c in value if _control(c, multiline)), None)


def text(value: str, field: str, *, limit: int = MAX_TEXT, multiline: bool = False) -> str:
    """A free-text field (notes, reason, purpose, …): no control characters (a newline only
    where the field is multi-line), at most `limit` characters."""
    if len(value) > limit:
        raise PortregError(f"{field} is longer than {limit} characters")
    bad = control_char(value, multiline=multiline)
    if bad is not None:
        raise PortregError(f"{field} has a control character ({bad!r}): not allowed in {field}")
    return value


def environment(value: str) -> str:
    """An environment name: letters, digits, `_`, `.`, `-`, at most 100 characters."""
    if not _ENVIRONMENT.match(value):
        raise PortregError(
            f"not a usable environment name: {value!r} (letters, digits, _ . -; at most 100)"
        )
    return value


def host(value: str) -> str:
    """A host name: letters, digits, `_ . : -`, at most 200 characters; "" is the default host."""
    if value and not _HOST.match(value):
        raise PortregError(
            f"not a usable host name: {value!r} (letters, digits, _ . : -; at most 200)"
        )
    return value


def policy_values(
    start: int,
    end: int,
    avoid: tuple[int, ...],
    step: int,
    interval: int,
    last_audit: date | None = None,
) -> None:
    """The policy's values within sane bounds (absurd ones break date and range arithmetic)."""
    for name, port in (("range start", start), ("range end", end)):
        if not PORT_MIN <= port <= PORT_MAX:
            raise PortregError(f"policy {name} {port} is out of bounds (1-65535)")
    if start > end:
        raise PortregError(f"policy range {start}-{end} is empty")
    if len(avoid) > MAX_AVOID:
        raise PortregError(f"policy avoid list has more than {MAX_AVOID} ports")
    bad = next((p for p in avoid if not PORT_MIN <= p <= PORT_MAX), None)
    if bad is not None:
        raise PortregError(f"policy avoid list: port {bad} is out of bounds (1-65535)")
    if not 1 <= step <= PORT_MAX:
        raise PortregError(f"policy step {step} is out of bounds (1-65535)")
    if not 1 <= interval <= MAX_AUDIT_INTERVAL_DAYS:
        raise PortregError(
            f"policy audit_interval_days {interval} is out of bounds (1-{MAX_AUDIT_INTERVAL_DAYS})"
        )
    if last_audit is not None and (date.max - last_audit).days < interval:
        raise PortregError(
            f"policy last_audit {last_audit.isoformat()} is too late: the next audit, "
            f"{interval} days on, would fall after {date.max.isoformat()}"
        )
