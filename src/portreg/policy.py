"""The seed's port rules as pure functions: which port comes next, and whether a port is allowed.

"Live" ports are passed in as a set, so the rules never touch the host themselves.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, timedelta

from portreg.errors import ErrorKind, PortregError
from portreg.model import PORT_MAX, PORT_MIN, Policy, Registry, Service


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

    def __init__(self, port: int, problems: tuple[Problem, ...]) -> None:
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


class Problem(str):
    """One broken rule: its message (a plain `str`, as every door prints it) and a code to act on.

    Codes: `avoided`, `out-of-range` (bad input: no request with that port can succeed),
    `registered`, `live` (conflicts with what the registry or the host holds now).
    """

    __slots__ = ("code",)
    code: str

    def __new__(cls, code: str, message: str) -> Problem:
        self = super().__new__(cls, message)
        self.code = code
        return self

    @property
    def kind(self) -> ErrorKind:
        return ErrorKind.CONFLICT if self.code in _CONFLICTS else ErrorKind.BAD_INPUT


_CONFLICTS = frozenset({"registered", "live"})
POLICY_CODES = frozenset({"avoided", "out-of-range"})  # the policy alone, neither registry nor host


def holders_on(
    registry: Registry, port: int, *, host: str = "", transport: str | None = None
) -> list[tuple[Service, str]]:
    """Every (service, environment) holding `port` on `host` with `transport` (None: any).

    The uniqueness rule, written once: a port is unique per (host, transport, port). The same
    number may be registered on two hosts, or for TCP and UDP on one host, never twice for one
    (host, transport). The local store, `ops` and the server's writes all ask this (the
    server's UNIQUE constraint is the same triple).
    """
    wanted = (None,) if transport is None else tuple(transport.split("+"))
    seen: dict[tuple[str, str], tuple[Service, str]] = {}
    for t in wanted:
        for s, env in registry.holders(port, t):
            if s.host == host:
                seen.setdefault((s.id, env), (s, env))
    return list(seen.values())


def taken_on(registry: Registry, host: str = "") -> set[int]:
    """Every port number registered on `host`, any transport: what picking a port skips.

    Picking is stricter than uniqueness (it skips the number in both transports), so a new
    service never gets a number another service on that host holds for the other transport.
    """
    return {
        p
        for s in registry.services.values()
        if s.host == host
        for _, start in s.assigned()
        for p in range(start, start + s.width)  # a range holds each of its ports
    }


def judge(
    registry: Registry,
    port: int,
    *,
    live: Collection[int] = (),
    owner: str | None = None,
    host: str = "",
    transport: str | None = None,
) -> Verdict:
    """Every rule of the seed that `port` breaks, for a service named `owner` (may be None),
    on `host` over `transport` (`tcp`, `udp`, `tcp+udp`; None: a registration on either
    transport counts, which is what picking a new port needs)."""
    policy = registry.policy
    problems: list[Problem] = []
    if port in policy.avoid:
        problems.append(Problem("avoided", f"port {port} is a standard port on the avoid list"))
    if not policy.in_range(port):
        problems.append(
            Problem(
                "out-of-range",
                f"port {port} is outside the range {policy.range_start}-{policy.range_end}",
            )
        )
    held = holders_on(registry, port, host=host, transport=transport)
    others = sorted({s.id for s, _ in held if s.id != owner})
    on = f" on host {host}" if host else ""
    if others:
        problems.append(
            Problem("registered", f"port {port} is already registered to {', '.join(others)}{on}")
        )
    if port in live:
        where = f"host {host}" if host else "the host"
        problems.append(Problem("live", f"port {port} is in use on {where}"))
    return Verdict(port, tuple(problems))


def refusal(problems: Sequence[Problem], prefix: str = "", suffix: str = "") -> PortregError:
    """The error for a refused port: its kind from the problems (a conflict if any is one)."""
    kind = (
        ErrorKind.CONFLICT
        if any(p.kind is ErrorKind.CONFLICT for p in problems)
        else ErrorKind.BAD_INPUT
    )
    return PortregError(prefix + "; ".join(problems) + suffix, kind=kind)


def candidates(policy: Policy, start: int | None = None, end: int | None = None) -> range:
    """The policy's sequence of ports ("53000, 53001, 53002…"), within `start`-`end` if given."""
    lo = policy.range_start if start is None else start
    hi = policy.range_end if end is None else end
    return range(lo, hi + 1, max(policy.step, 1))


def first_free(
    policy: Policy,
    taken: Collection[int],
    live: Collection[int] = (),
    *,
    start: int | None = None,
    end: int | None = None,
) -> int:
    """The first port of the policy's sequence that is not avoided, taken or live.

    `taken` is every registered port (reserved ones included): the local store passes the
    registry's, the server the database's. A full range is an error, never a silent overwrite.
    """
    avoid = policy.avoid
    for port in candidates(policy, start, end):
        if port not in taken and port not in live and port not in avoid:
            return port
    lo = policy.range_start if start is None else start
    hi = policy.range_end if end is None else end
    raise no_free_port(lo, hi)


def no_free_port(lo: int, hi: int) -> PortregError:
    return PortregError(
        f"no free port left in {lo}-{hi}: every port is avoided, registered or in use",
        kind=ErrorKind.CONFLICT,
    )


def next_free(
    registry: Registry,
    live: Collection[int] = (),
    *,
    start: int | None = None,
    end: int | None = None,
    host: str = "",
) -> int:
    """The first port of the range, in sequence, that no rule forbids ("auto-increment").

    Skips avoided ports, ports of any service on `host` in any environment (reserved ones
    included) and ports live on that host.
    """
    return first_free(registry.policy, taken_on(registry, host), live, start=start, end=end)


def next_audit(policy: Policy) -> date | None:
    """When the next audit is due: `audit_interval_days` days after the last one (a plain count
    of days, not a calendar month), or None when the registry was never audited (due now)."""
    if policy.last_audit is None:
        return None
    return policy.last_audit + timedelta(days=policy.audit_interval_days)


def format_port_list(ports: Iterable[int]) -> str:
    """Sorted, runs of consecutive ports as `A-B`: the kernel's own compact form.

    >>> format_port_list([54002, 5432, 54000, 54001, 6379])
    '5432,6379,54000-54002'
    """
    out: list[str] = []
    run_start = prev = None
    for port in sorted(set(ports)):
        if prev is not None and port == prev + 1:
            prev = port
            continue
        if run_start is not None and prev is not None:
            out.append(_run(run_start, prev))
        run_start = prev = port
    if run_start is not None and prev is not None:
        out.append(_run(run_start, prev))
    return ",".join(out)


def _run(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"
