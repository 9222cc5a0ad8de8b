"""What is listening on this host, and who holds it.

Interface used by the rest of portreg: `Listener`, `listeners()`, `live_ports()`.

How it is found (all Linux, no psutil, no pyroute2, no shelling out to `ss`):

1. The host's own network namespace: a NETLINK_SOCK_DIAG dump of LISTEN TCP and unconnected
   UDP sockets, v4 and v6, with a port range as a kernel-side filter (`_netlink`). Where netlink
   is refused, /proc/net/{tcp,tcp6,udp,udp6} (`_procnet`).
2. Other network namespaces (containers, `ip netns`): invisible to the host's netlink and
   /proc/net. One process per distinct /proc/<pid>/ns/net is picked and its /proc/<pid>/net/*
   tables are read once; those listeners carry `namespace` (the `ip netns` name when
   /run/netns names it, else `net:[inode]`).
3. Owners: each socket inode is looked up among /proc/<pid>/fd links, stopping once every
   inode has a holder. A listener whose holder cannot be seen (an exited process, fds this user
   may not read) keeps `pid=None` ("owner unknown"), and `user` from the socket's own uid.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Listener:
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

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in _JSON_FIELDS}

    @property
    def sort_key(self) -> tuple[int, str, str, str, int]:
        return (self.port, self.protocol, self.family, self.address, self.inode)


_JSON_FIELDS = tuple(f for f in fields(Listener) if f.name != "inode")


def listeners(port_range: tuple[int, int] | None = None, *, owners: bool = True) -> list[Listener]:
    """Every listening TCP socket and unconnected UDP socket, IPv4 and IPv6, in every network
    namespace this process can see, sorted by port.

    `owners=False` skips the /proc/*/fd walk (pid, process, cmdline stay None), the costly part.
    """
    from portreg.host import _netlink, _proc, _procnet

    try:
        host = _netlink.dump(port_range)
    except _netlink.Refused:
        host = _procnet.dump(port_range)
    raws: list[tuple[_netlink.Raw, str | None]] = [(raw, None) for raw in host]

    all_pids = _proc.pids()
    foreign = _proc.foreign_netns(all_pids, _proc.own_netns())
    if foreign:
        names = _proc.netns_names()
        for ns_ino, ns_pid in foreign.items():
            label = names.get(ns_ino) or f"net:[{ns_ino}]"
            raws.extend((raw, label) for raw in _procnet.dump(port_range, f"/proc/{ns_pid}/net"))

    holders: dict[int, int] = {}
    if owners:
        holders = _proc.socket_holders({raw[4] for raw, _ in raws if raw[4]}, all_pids)
    known: dict[int, _proc.Owner] = {}

    out: list[Listener] = []
    ntop = socket.inet_ntop
    for (proto, family, addr, port, inode, uid, v6only), namespace in raws:
        pid = holders.get(inode)
        owner: _proc.Owner | None = None
        if pid is not None:
            owner = known.get(pid)
            if owner is None:
                owner = known[pid] = _proc.owner(pid)
        text = ntop(socket.AF_INET if family == "ipv4" else socket.AF_INET6, addr)
        dual: bool | None = False
        if family == "ipv6":
            dual = None if v6only is None else (not v6only and text == "::")
        out.append(
            Listener(
                port=port,
                protocol=proto,
                address=text,
                family=family,
                inode=inode,
                pid=pid,
                process=owner.process if owner else None,
                cmdline=owner.cmdline if owner else None,
                user=(owner.user if owner and owner.user else _proc.user_name(uid)),
                namespace=namespace,
                uid=uid,
                dual_stack=dual,
            )
        )
    out.sort(key=lambda lst: lst.sort_key)
    return out


def live_ports(port_range: tuple[int, int] | None = None) -> set[int]:
    """The port numbers something listens on (TCP or UDP, any address), without owners."""
    return {lst.port for lst in listeners(port_range, owners=False)}
