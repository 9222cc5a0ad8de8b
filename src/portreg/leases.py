"""Host-wide leases of ports to processes: one JSON state file under one lock, for the user.

State lives in `$XDG_STATE_HOME/portreg/state.json` (default `~/.local/state/portreg/`), read
and written only while holding `fcntl.flock` on `state.lock` beside it, and replaced with a
temp file + `os.replace`, so every `portreg run`, `lease`, pytest worker and checkout on the
host sees one truth. Worktree blocks (`portreg.worktree`) live in the same file.

A lease is keyed to its holder: pid plus the process start time (field 22 of /proc/PID/stat),
so a holder killed with SIGKILL — or a pid reused by another process — ends the lease the next
time anyone reads the state. A lease without a holder (`portreg lease --ttl S`) ends when its
ttl runs out. An ended lease cools down for `$PORTREG_LEASE_COOLDOWN` seconds (default 60)
before its port is lent again, because a just-freed port is often still in someone's config or
TIME_WAIT. Ports come from the policy's `lease_range` (default 20000-29999: apart from the
assignment range and below Linux's default ephemeral range 32768-60999), never a registered
or avoided one, and must bind on TCP and UDP, IPv4 and IPv6 when handed out. A cursor in the
state walks the band round-robin, so a freed port is the last to come back.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from portreg.errors import PortregError

DEFAULT_COOLDOWN = 60.0
STATE_FILE = "state.json"


def state_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "portreg"


def cooldown(environ: dict[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    raw = env.get("PORTREG_LEASE_COOLDOWN", "")
    try:
        return max(float(raw), 0.0) if raw else DEFAULT_COOLDOWN
    except ValueError:
        raise PortregError(f"PORTREG_LEASE_COOLDOWN: expected seconds, got {raw!r}") from None


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


@dataclass(frozen=True, slots=True)
class Lease:
    """One port leased to a process until it exits (or the lease expires)."""

    port: int
    pid: int | None  # None: a ttl-only lease
    start: str  # the holder's start time; "" for a ttl-only lease
    name: str
    since: float
    expires: float | None = None  # ttl-only leases
    released: float | None = None  # set when the lease ended; it cools down from then

    def state(self) -> str:
        return "active" if self.released is None else "cooling"

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "pid": self.pid,
            "name": self.name,
            "since": _iso(self.since),
            "state": self.state(),
            **({"expires": _iso(self.expires)} if self.expires is not None else {}),
        }


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- the state file --------------------------------------------------------------------------


@contextlib.contextmanager
def locked_state(directory: Path | None = None) -> Iterator[dict[str, Any]]:
    """The state, under the host-wide lock; changes made to the dict are written back."""
    import fcntl

    directory = directory or state_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "state.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise PortregError(f"cannot open the state in {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = directory / STATE_FILE
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if text.strip() else {}
        except FileNotFoundError:
            text, data = "", {}
        except (OSError, ValueError) as exc:
            raise PortregError(f"{path}: unreadable state ({exc})") from None
        if not isinstance(data, dict):
            raise PortregError(f"{path}: unreadable state (not an object)")
        yield data
        new = json.dumps(data, indent=1, sort_keys=True) + "\n"
        if new != text:
            from portreg.store import atomic_write

            atomic_write(path, new)
    finally:
        os.close(fd)


def _load(data: dict[str, Any]) -> list[Lease]:
    return [Lease(**raw) for raw in data.get("leases", [])]


def _save(data: dict[str, Any], leases: list[Lease]) -> None:
    data["leases"] = [asdict(lease) for lease in leases]


def settle(leases: list[Lease], now: float, cool: float) -> list[Lease]:
    """End leases whose holder died or ttl ran out; drop those that have cooled down."""
    out: list[Lease] = []
    for held in leases:
        lease = held
        if lease.released is None:
            dead = (lease.expires is not None and now >= lease.expires) or (
                lease.pid is not None and start_time(lease.pid) != lease.start
            )
            if dead:
                lease = replace(lease, released=now)
        if lease.released is not None and now - lease.released >= cool:
            continue
        out.append(lease)
    return out


# --- handing out -------------------------------------------------------------------------------


def bindable(port: int) -> bool:
    """Whether `port` binds right now on TCP and UDP, IPv4 and IPv6 (any address)."""
    import socket

    families = [(socket.AF_INET, "0.0.0.0")]
    if socket.has_ipv6:
        families.append((socket.AF_INET6, "::"))
    opened: list[socket.socket] = []
    try:
        for family, host in families:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                try:
                    sock = socket.socket(family, kind)
                except OSError as exc:
                    if exc.errno == errno.EAFNOSUPPORT:
                        break  # no IPv6 on this host: nothing can clash there
                    raise
                opened.append(sock)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    if exc.errno == errno.EADDRNOTAVAIL and family == socket.AF_INET6:
                        break
                    return False
        return True
    finally:
        for sock in opened:
            sock.close()


def acquire(
    *,
    lease_range: tuple[int, int],
    excluded: Collection[int] = (),
    pid: int | None,
    name: str = "",
    ttl: float | None = None,
    directory: Path | None = None,
) -> int:
    """Lend one port of `lease_range`, held by `pid` (or for `ttl` seconds when pid is None)."""
    holder = "" if pid is None else start_time(pid)
    if holder is None:
        raise PortregError(f"no process {pid} to hold the lease")
    now = time.time()
    with locked_state(directory) as data:
        leases = settle(_load(data), now, cooldown())
        taken = {lease.port for lease in leases} | set(excluded)
        lo, hi = lease_range
        size = hi - lo + 1
        cursor = data.get("cursor", lo)
        cursor = cursor if isinstance(cursor, int) and lo <= cursor <= hi else lo
        for i in range(size):
            port = lo + (cursor - lo + i) % size
            if port in taken or not bindable(port):
                continue
            expires = None if ttl is None else now + ttl
            leases.append(Lease(port, pid, holder, name, now, expires))
            data["cursor"] = lo + (port - lo + 1) % size
            _save(data, leases)
            return port
        _save(data, leases)
    raise PortregError(f"no free port to lend in the lease range {lo}-{hi}")


def release(port: int, pid: int | None, directory: Path | None = None) -> bool:
    """End `pid`'s lease of `port` now (it starts cooling down); False if it held none."""
    now = time.time()
    with locked_state(directory) as data:
        leases = settle(_load(data), now, cooldown())
        found = False
        for i, lease in enumerate(leases):
            if lease.port == port and lease.pid == pid and lease.released is None:
                leases[i] = replace(lease, released=now)
                found = True
        _save(data, leases)
    return found


def current(directory: Path | None = None) -> list[Lease]:
    """The live leases (active and cooling), oldest first."""
    with locked_state(directory) as data:
        leases = settle(_load(data), time.time(), cooldown())
        _save(data, leases)
    return sorted(leases, key=lambda lease: (lease.since, lease.port))


def policy_for(cwd: Path, environ: dict[str, str], explicit: str | None = None) -> Any:
    """The lease band and the ports it must skip: from the nearest registry, if there is one."""
    from portreg.locate import find_registry
    from portreg.model import Policy
    from portreg.store import load

    found = None
    if not (explicit or "").startswith(("http://", "https://")):
        found = find_registry(cwd, environ, explicit)
    if found is None:
        return Policy().lease_range, set(Policy().avoid)
    registry = load(found if found.is_absolute() else cwd / found)
    return registry.policy.lease_range, set(registry.policy.avoid) | registry.taken_ports()
