"""The host's records: a listening socket and the process holding it, as NamedTuples.

Deliberately *without* `from __future__ import annotations`: a NamedTuple turns each string
annotation into a ForwardRef, which compiles it (17 compiles, ~2 ms of every command that
imports the host). Evaluated annotations cost nothing of the kind.
"""

from typing import Any, NamedTuple


class Owner(NamedTuple):
    """The process holding a socket: pid, short name, command line, user (None = not known).

    A NamedTuple, not a dataclass: making a dataclass class costs ~0.5 ms at every start-up.
    """

    pid: int
    process: str | None
    cmdline: str | None
    user: str | None


class Listener(NamedTuple):
    """One listening socket. Immutable; a NamedTuple because a scan builds tens of thousands
    (a frozen dataclass costs ~5x more to construct)."""

    port: int
    protocol: str  # "tcp" | "udp"
    address: str
    family: str  # "ipv4" | "ipv6"
    inode: int = 0
    pid: int | None = None  # None: owner unknown (not visible to us)
    process: str | None = None
    cmdline: str | None = None
    user: str | None = None
    namespace: str | None = None  # None: the host's own network namespace
    uid: int | None = None  # the socket's owner uid, as the kernel reports it
    # An IPv6 `[::]` socket without IPV6_V6ONLY also serves IPv4; None where unknown
    # (the /proc/net fallback cannot tell).
    dual_stack: bool | None = None
    # Every process holding the socket, lowest first (`pid` is the first): a pre-fork server's
    # parent and workers all hold its listening socket, and `ss -p` lists them all.
    pids: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = self._asdict()
        del out["inode"]
        out["pids"] = list(self.pids)
        return out

    @property
    def sort_key(self) -> tuple[int, str, str, str, str, int]:
        return (self.port, self.protocol, self.namespace or "", self.family, self.address,
                self.inode)  # fmt: skip
