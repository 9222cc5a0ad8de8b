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

import _socket as socket  # not `socket`: ~2.5 ms of start-up for nothing used here
import gc
from collections.abc import Collection, Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from portreg.host._netlink import Raw


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


JSON_FIELDS = tuple(f for f in Listener._fields if f != "inode")


def json_chunks(found: list[Listener]) -> Iterator[str]:
    """`json.dumps([l.to_json() for l in found], indent=2) + "\n"`, the same text, in pieces.

    The standard encoder falls back to pure Python under `indent` (~9 us a socket, plus a
    chunk list that doubles peak memory). Here the fields come in three groups that repeat
    across sockets (where, owner, namespace), each group's text is built once.
    """
    import json

    if not found:
        yield "[]\n"
        return

    def block(names: tuple[str, ...], values: tuple[Any, ...]) -> str:
        return "".join(f'    "{n}": {json.dumps(v)},\n' for n, v in zip(names, values, strict=True))

    where_f, owner_f, ns_f = Listener._fields[1:4], Listener._fields[5:9], Listener._fields[9:]
    assert ("port", *where_f, *owner_f, *ns_f) == JSON_FIELDS
    where: dict[tuple[Any, ...], str] = {}
    owner: dict[tuple[Any, ...], str] = {}
    ns: dict[tuple[Any, ...], str] = {}
    last = len(found) - 1
    batch: list[str] = ["[\n"]
    for i, lst in enumerate(found):
        k1, k2, k3 = lst[1:4], lst[5:9], lst[9:]
        b1 = where.get(k1) or where.setdefault(k1, block(where_f, k1))
        b2 = owner.get(k2) or owner.setdefault(k2, block(owner_f, k2))
        b3 = ns.get(k3) or ns.setdefault(k3, block(ns_f, k3)[:-2] + "\n")
        end = "  },\n" if i < last else "  }\n]\n"
        batch.append(f'  {{\n    "port": {lst[0]},\n{b1}{b2}{b3}{end}')
        if len(batch) >= 2048:  # few large writes: a write per socket costs more than the text
            yield "".join(batch)
            batch.clear()
    yield "".join(batch)


def listeners(
    port_range: tuple[int, int] | None = None,
    *,
    owners: bool = True,
    namespaces: bool = True,
    ports: Collection[int] | None = None,
) -> list[Listener]:
    """Every listening TCP socket and unconnected UDP socket, IPv4 and IPv6, in every network
    namespace this process can see, sorted by port.

    `owners=False` skips the /proc/*/fd walk (pid, process, cmdline stay None), the costly part;
    the walk also never runs when nothing listens. `namespaces=False` looks at the caller's own
    network namespace only (no /proc/<pid>/ns/net stat per process, no /proc/<pid>/net reads).
    `ports` keeps only those port numbers of `port_range` (before owners are looked up).
    """
    from portreg.host import _netlink, _proc, _procnet

    try:
        host = _netlink.dump(port_range)
    except _netlink.Refused:
        host = _procnet.dump(port_range)
    raws: list[tuple[Raw, str | None]] = [(raw, None) for raw in host]

    all_pids: list[int] | None = None
    if namespaces:
        all_pids = _proc.pids()
        foreign = _proc.foreign_netns(all_pids, _proc.own_netns())
        if foreign:
            names = _proc.netns_names()
            for ns_ino, ns_pid in foreign.items():
                label = names.get(ns_ino) or f"net:[{ns_ino}]"
                raws.extend(
                    (raw, label) for raw in _procnet.dump(port_range, f"/proc/{ns_pid}/net")
                )
    if ports is not None:
        raws = [r for r in raws if r[0][3] in ports]
    if not raws:
        return []

    gc_was_on = gc.isenabled()
    gc.disable()  # tens of thousands of fresh tuples would set off full collections for nothing
    try:
        first: dict[int, int] = {}
        more: dict[int, list[int]] = {}
        wanted = {raw[4] for raw, _ in raws if raw[4]}
        if owners and wanted:
            first, more = _proc.socket_holders(
                wanted, _proc.pids() if all_pids is None else all_pids
            )
        return _build(raws, first, more)
    finally:
        if gc_was_on:
            gc.enable()


def _build(
    raws: list[tuple[Raw, str | None]], first: dict[int, int], more: dict[int, list[int]]
) -> list[Listener]:
    """Listener tuples, sorted by port. Many sockets share a few addresses and owners: each
    address text and each owner's (process, cmdline, user) is made once."""
    from portreg.host import _proc

    ntop = socket.inet_ntop
    addresses = {
        addr: ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr)
        for addr in {raw[2] for raw, _ in raws}
    }
    owners: dict[tuple[int | None, int], tuple[str | None, str | None, str | None]] = {}
    every = {ino: (first[ino], *pids) for ino, pids in more.items()}
    for pid, uid in {(first.get(raw[4]), raw[5]) for raw, _ in raws}:
        if pid is None:
            owners[(pid, uid)] = (None, None, _proc.user_name(uid))
        else:
            o = _proc.owner(pid)
            owners[(pid, uid)] = (o.process, o.cmdline, o.user or _proc.user_name(uid))
    new, hget, pget = tuple.__new__, first.get, every.get
    out = [
        new(
            Listener,
            (
                port,
                proto,
                (text := addresses[addr]),
                family,
                inode,
                (pid := hget(inode)),
                *owners[(pid, uid)],
                namespace,
                uid,
                False
                if family == "ipv4"
                else None
                if v6only is None
                else (not v6only and text == "::"),
                pget(inode) or ((pid,) if pid is not None else ()),
            ),
        )
        for (proto, family, addr, port, inode, uid, v6only), namespace in raws
    ]
    out.sort(key=_ORDER)
    return out


_ORDER = itemgetter(0, 1, 3, 2, 4)  # port, protocol, family, address, inode (unique)


def live_ports(port_range: tuple[int, int] | None = None) -> set[int]:
    """The port numbers something listens on (TCP or UDP, any address), without owners."""
    return {lst.port for lst in listeners(port_range, owners=False)}
