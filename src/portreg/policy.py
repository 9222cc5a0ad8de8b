"""The seed's port rules as pure functions: which port comes next, and whether a port is allowed.

"Live" ports are passed in as a set, so the rules never touch the host themselves.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from portreg.errors import PortregError
from portreg.model import PORT_MAX, PORT_MIN, Policy, Registry


def parse_port(text: str | int) -> int:
    """A port from user input; anything outside 1–65535 is bad input, named as given."""
    if isinstance(text, int):
        port = text
    else:
        raw = text.strip()
        if not raw.isdigit():
            raise PortregError(f"not a port number: {text!r} (expected an integer 1-65535)")
        port = int(raw)
    if not PORT_MIN <= port <= PORT_MAX:
        raise PortregError(f"port {port} is out of bounds (expected 1-65535)")
    return port


def parse_range(text: str) -> tuple[int, int]:
    """`A-B` with 1 <= A <= B <= 65535."""
    lo, sep, hi = text.partition("-")
    if not sep:
        raise PortregError(f"not a port range: {text!r} (expected A-B, e.g. 53000-54999)")
    start, end = parse_port(lo), parse_port(hi)
    if start > end:
        raise PortregError(f"port range {text!r} is empty: {start} > {end}")
    return start, end


class Verdict:
    """Why a port may or may not be handed out. `problems` is empty when it is allowed.

    A plain value class rather than a dataclass: `check` imports this module on every run,
    and making a dataclass class costs ~0.5 ms of start-up.
    """

    __slots__ = ("port", "problems")

    def __init__(self, port: int, problems: tuple[str, ...]) -> None:
        self.port = port
        self.problems = problems

    @property
    def allowed(self) -> bool:
        return not self.problems

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return (self.port, self.problems) == (other.port, other.problems)

    def __hash__(self) -> int:
        return hash((self.port, self.problems))

    def __repr__(self) -> str:
        return f"Verdict(port={self.port!r}, problems={self.problems!r})"


def judge(
    registry: Registry,
    port: int,
    *,
    live: Collection[int] = (),
    owner: str | None = None,
) -> Verdict:
    """Every rule of the seed that `port` breaks, for a service named `owner` (may be None)."""
    policy = registry.policy
    problems: list[str] = []
    if port in policy.avoid:
        problems.append(f"port {port} is a standard port on the avoid list")
    if not policy.in_range(port):
        problems.append(f"port {port} is outside the range {policy.range_start}-{policy.range_end}")
    others = sorted({s.id for s, _ in registry.holders(port) if s.id != owner})
    if others:
        problems.append(f"port {port} is already registered to {', '.join(others)}")
    if port in live:
        problems.append(f"port {port} is in use on this host")
    return Verdict(port, tuple(problems))


def candidates(policy: Policy, start: int | None = None, end: int | None = None) -> Iterable[int]:
    lo = policy.range_start if start is None else start
    hi = policy.range_end if end is None else end
    return range(lo, hi + 1, max(policy.step, 1))


def next_free(
    registry: Registry,
    live: Collection[int] = (),
    *,
    start: int | None = None,
    end: int | None = None,
) -> int:
    """The first port of the range, in sequence, that no rule forbids ("auto-increment").

    Skips avoided ports, ports of any service in any environment (reserved ones included)
    and ports live on the host. A full range is an error, never a silent overwrite.
    """
    policy = registry.policy
    blocked = set(policy.avoid) | registry.taken_ports() | set(live)
    for port in candidates(policy, start, end):
        if port not in blocked:
            return port
    lo = policy.range_start if start is None else start
    hi = policy.range_end if end is None else end
    raise PortregError(
        f"no free port left in {lo}-{hi}: every port is avoided, registered or in use"
    )
