"""The kernel's own port use: the ephemeral range and `ip_local_reserved_ports`.

Linux picks the local port of an outgoing connection from `ip_local_port_range`
(32768-60999 by default), which holds the seed's 53000-54999. Any registered port in it can
be taken by a client socket at any moment, and the service then fails to bind. Ports listed
in `ip_local_reserved_ports` are never picked. Both settings are per network namespace.

Parsing and formatting are pure; `read()` and `write_reserved()` are the only I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from portreg.errors import PortregError
from portreg.policy import format_port_list

SYSCTL_DIR = Path("/proc/sys/net/ipv4")
RANGE_FILE = "ip_local_port_range"
RESERVED_FILE = "ip_local_reserved_ports"
SETTING = "net.ipv4.ip_local_reserved_ports"


@dataclass(frozen=True, slots=True)
class KernelPorts:
    """What the kernel of this network namespace does with local ports."""

    ephemeral: tuple[int, int]  # ip_local_port_range, inclusive
    reserved: frozenset[int]  # ip_local_reserved_ports

    def at_risk(self, ports: Iterable[int]) -> list[int]:
        """The ports the kernel may hand to an outgoing connection: ephemeral, not reserved."""
        lo, hi = self.ephemeral
        return sorted({p for p in ports if lo <= p <= hi and p not in self.reserved})


def parse_port_list(text: str) -> set[int]:
    """`53000-53010,54000` (the kernel's format; blanks and an empty list allowed) as a set.

    >>> sorted(parse_port_list("5432, 53000-53002,"))
    [5432, 53000, 53001, 53002]
    """
    ports: set[int] = set()
    for raw in text.replace("\n", ",").split(","):
        item = raw.strip()
        if not item:
            continue
        lo_s, sep, hi_s = item.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if sep else lo
        except ValueError:
            raise PortregError(f"not a port list item: {item!r} (expected N or A-B)") from None
        if not 0 <= lo <= hi <= 65535:
            raise PortregError(f"not a port list item: {item!r} (expected 0-65535, A <= B)")
        ports.update(range(lo, hi + 1))
    return ports


def parse_range(text: str) -> tuple[int, int]:
    """`ip_local_port_range` ("32768\\t60999")."""
    parts = text.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise PortregError(f"unexpected {RANGE_FILE} value: {text.strip()!r}")
    return int(parts[0]), int(parts[1])


def protected(current: Iterable[int], wanted: Iterable[int]) -> set[int]:
    """The reserved set that keeps what is reserved already and adds every wanted port."""
    return set(current) | set(wanted)


def setting_line(ports: Iterable[int]) -> str:
    """The sysctl line (`sysctl -p` / /etc/sysctl.d format)."""
    return f"{SETTING} = {format_port_list(ports)}"


# --- I/O ---------------------------------------------------------------------------------------


def _read(directory: Path, name: str) -> str:
    try:
        return (directory / name).read_text(encoding="ascii")
    except OSError as exc:
        raise PortregError(f"cannot read {directory / name}: {exc.strerror or exc}") from None


def read(directory: Path = SYSCTL_DIR) -> KernelPorts:
    """The settings of the caller's network namespace."""
    return KernelPorts(
        parse_range(_read(directory, RANGE_FILE)),
        frozenset(parse_port_list(_read(directory, RESERVED_FILE))),
    )


def write_reserved(ports: Iterable[int], directory: Path = SYSCTL_DIR) -> KernelPorts:
    """Write `ip_local_reserved_ports` (needs root, and a writable /proc/sys), then read back."""
    import os

    path = directory / RESERVED_FILE
    value = format_port_list(ports)
    if os.geteuid() != 0:
        raise PortregError(
            f"cannot write {path}: needs root (run `sudo portreg protect --apply`, "
            f"or add `{setting_line(ports)}` to /etc/sysctl.d/)"
        )
    try:
        with open(path, "w", encoding="ascii") as fh:
            # The kernel rejects an empty write; "" is spelt as a lone newline.
            fh.write(value + "\n")
    except OSError as exc:
        raise PortregError(f"cannot write {path}: {exc.strerror or exc}") from None
    after = read(directory)
    missing = set(parse_port_list(value)) - after.reserved
    if missing:
        raise PortregError(f"{path} did not keep ports {format_port_list(missing)} after writing")
    return after
