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
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from portreg.host._records import Listener as Listener

if TYPE_CHECKING:
    from portreg.host._netlink import Raw
    from portreg.host._proc import FdWalk


JSON_FIELDS = tuple(f for f in Listener._fields if f != "inode")
assert Listener._fields[:4] + Listener._fields[5:] == JSON_FIELDS


def json_chunks(found: list[Listener], *, lines: bool = False) -> Iterator[str]:
    """`json.dumps([l.to_json() for l in found], indent=2) + "\n"`, the same text, in pieces.

    `lines=True`: NDJSON instead, one `json.dumps(l.to_json())` per line (same keys, same
    order), for hosts so big a consumer wants to stream. `Scan.json_chunks` makes the same text
    without building Listener tuples.
    """
    return _emit(((lst[0], lst[1:4] + lst[5:]) for lst in found), _same, lines=lines)


def _same(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return key


def _emit(
    rows: Iterable[tuple[int, Hashable]],
    values_of: Callable[[Any], tuple[Any, ...]],
    *,
    lines: bool,
) -> Iterator[str]:
    """The JSON text of (port, key) rows, a few large pieces at a time.

    The standard encoder falls back to pure Python under `indent` (~9 us a socket, plus a
    chunk list that doubles peak memory). Here the text after the port is made once per
    distinct key, from `values_of(key)` (the fields after `port`, in JSON_FIELDS order): the
    sockets of one process on one address differ by port only, so only the port is formatted
    per socket.
    """
    import json

    dumps, names = json.dumps, JSON_FIELDS[1:]
    if lines:

        def tail(values: tuple[Any, ...]) -> str:
            return ", ".join(f'"{n}": {dumps(v)}' for n, v in zip(names, values, strict=True))
    else:

        def tail(values: tuple[Any, ...]) -> str:
            return ",\n".join(f'    "{n}": {dumps(v)}' for n, v in zip(names, values, strict=True))

    tails: dict[Hashable, str] = {}
    batch: list[str] = []
    first = True
    for port, key in rows:
        text = tails.get(key) or tails.setdefault(key, tail(values_of(key)))
        if lines:
            batch.append(f'{{"port": {port}, {text}}}\n')
        else:
            lead = "[\n" if first else ",\n"
            batch.append(f'{lead}  {{\n    "port": {port},\n{text}\n  }}')
        first = False
        if len(batch) >= 2048:  # few large writes: a write per socket costs more than the text
            yield "".join(batch)
            batch.clear()
    if not lines:
        batch.append("[]\n" if first else "\n]\n")
    yield "".join(batch)


class Scan:
    """What one look at the host found: the kernel's records, their holders, sorted by port.

    `listeners()` makes Listener tuples (tables, the registry checks); `json_chunks()` writes
    the same JSON straight from the records, without them: a 20,000-socket scan would spend
    more making tuples than the kernel spends dumping the sockets. Address text, owners
    (process, cmdline, user) and holder lists are made once per distinct value.
    """

    __slots__ = ("_addresses", "_every", "_first", "_owners", "_raws")

    def __init__(
        self,
        ordered: tuple[list[tuple[Raw, str | None]], dict[bytes, str]],
        first: dict[int, int],
        more: dict[int, list[int]],
    ) -> None:
        """`ordered`: `_order`'s (records sorted, address texts); `first`, `more`: their
        holders, as `_proc.socket_holders` answers."""
        from portreg.host import _proc

        raws, self._addresses = ordered
        self._first = first
        self._every = {ino: (first[ino], *pids) for ino, pids in more.items()}
        owners: dict[tuple[int | None, int], tuple[str | None, str | None, str | None]] = {}
        for pid, uid in {(first.get(raw[4]), raw[5]) for raw, _ in raws}:
            if pid is None:
                owners[(pid, uid)] = (None, None, _proc.user_name(uid))
            else:
                o = _proc.owner(pid)
                owners[(pid, uid)] = (o.process, o.cmdline, o.user or _proc.user_name(uid))
        self._owners = owners
        self._raws = raws

    def __len__(self) -> int:
        return len(self._raws)

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        """(port, protocol, address, family, inode, pid, process, cmdline, user, namespace,
        uid, dual_stack, pids) per socket: Listener's fields, in order."""
        addresses, owners, hget, pget = (
            self._addresses,
            self._owners,
            self._first.get,
            self._every.get,
        )
        for (proto, family, addr, port, inode, uid, v6only), namespace in self._raws:
            text = addresses[addr]
            pid = hget(inode)
            pids = pget(inode) or ((pid,) if pid is not None else ())
            dual = _dual(family, v6only, text)
            yield (port, proto, text, family, inode, pid, *owners[(pid, uid)], namespace, uid,
                   dual, pids)  # fmt: skip

    def listeners(self) -> list[Listener]:
        new = tuple.__new__
        return [new(Listener, row) for row in self._rows()]

    def json_chunks(self, *, lines: bool = False) -> Iterator[str]:
        """The text `json_chunks(self.listeners())` gives, without the Listener tuples (nor
        the rows `listeners` makes them from): each row's key is the raw values the text
        after its port is made from, once per distinct key."""
        addresses, owners, hget, pget = (
            self._addresses,
            self._owners,
            self._first.get,
            self._every.get,
        )

        def values_of(key: tuple[Any, ...]) -> tuple[Any, ...]:
            proto, family, addr, uid, v6only, namespace, pid, more = key
            text = addresses[addr]
            pids = more or ((pid,) if pid is not None else ())
            return (proto, text, family, pid, *owners[(pid, uid)], namespace, uid,
                    _dual(family, v6only, text), pids)  # fmt: skip

        rows = (
            (port, (proto, family, addr, uid, v6only, namespace, hget(inode), pget(inode)))
            for (proto, family, addr, port, inode, uid, v6only), namespace in self._raws
        )
        return _emit(rows, values_of, lines=lines)


def _dual(family: str, v6only: bool | None, address: str) -> bool | None:
    """Whether the socket also serves IPv4: an IPv6 `[::]` socket without IPV6_V6ONLY does;
    None where the kernel's answer is unknown (the /proc/net fallback)."""
    if family == "ipv4":
        return False
    return None if v6only is None else not v6only and address == "::"


def scan(
    port_range: tuple[int, int] | None = None,
    *,
    owners: bool = True,
    namespaces: bool = True,
    ports: Collection[int] | None = None,
) -> Scan:
    """Every listening TCP socket and unconnected UDP socket, IPv4 and IPv6, in every network
    namespace this process can see, sorted by port (see `listeners` for the options)."""
    from portreg.host import _proc

    all_pids: list[int] | None = None
    walk: FdWalk | None = None
    if owners and ports is None and (port_range is None or port_range[1] - port_range[0] >= 64):
        # A wide look: the fd walk starts now, shared with a child, while the kernel dumps its
        # sockets here. A narrow one (`who PORT`, `ports`) wants few inodes: it walks after
        # the (then quick) dump, and both walkers stop at the first holders.
        all_pids = _proc.pids()
        walk = _proc.FdWalk(all_pids)
    try:
        return _scan(port_range, owners, namespaces, ports, all_pids, walk)
    finally:
        if walk is not None:
            walk.close()


def _scan(
    port_range: tuple[int, int] | None,
    owners: bool,
    namespaces: bool,
    ports: Collection[int] | None,
    all_pids: list[int] | None,
    walk: FdWalk | None,
) -> Scan:
    from portreg.host import _netlink, _proc, _procnet

    try:
        host = _netlink.dump(port_range)
    except _netlink.Refused:
        host = _procnet.dump(port_range)
    raws: list[tuple[Raw, str | None]] = [(raw, None) for raw in host]

    if namespaces:
        all_pids = all_pids or _proc.pids()
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
    first: dict[int, int] = {}
    more: dict[int, list[int]] = {}
    if not raws:
        return Scan(([], {}), first, more)
    gc_was_on = gc.isenabled()
    gc.disable()  # tens of thousands of fresh tuples would set off full collections for nothing
    try:
        ordered = _order(raws)  # before the walk: a child may still be walking meanwhile
        wanted = {raw[4] for raw, _ in raws if raw[4]}
        if owners and wanted:
            first, more = _proc.socket_holders(
                wanted, _proc.pids() if all_pids is None else all_pids, walk
            )
        return Scan(ordered, first, more)
    finally:
        if gc_was_on:
            gc.enable()


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
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return scan(port_range, owners=owners, namespaces=namespaces, ports=ports).listeners()
    finally:
        if gc_was_on:
            gc.enable()


_PROTO = {"tcp": 0, "udp": 1}
_FAMILY = {"ipv4": 0, "ipv6": 1}


def _order(
    raws: list[tuple[Raw, str | None]],
) -> tuple[list[tuple[Raw, str | None]], dict[bytes, str]]:
    """(the records sorted, {raw address: its text}), what a Scan is made of besides owners."""
    ntop = socket.inet_ntop
    addresses = {
        addr: ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr)
        for addr in {raw[2] for raw, _ in raws}
    }
    return _sorted(raws, addresses), addresses


def _sorted(
    raws: list[tuple[Raw, str | None]], addresses: dict[bytes, str]
) -> list[tuple[Raw, str | None]]:
    """The records ordered by (port, protocol, family, address text, inode), as `ss` lists
    them, by one integer key each: comparing ints is several times cheaper than tuples, and
    the few distinct address texts are ranked once."""
    rank = {addr: i for i, addr in enumerate(sorted(addresses, key=addresses.__getitem__))}
    width = max(len(rank), 1)
    n = len(raws)
    shift = n.bit_length()
    keys = [
        ((((((r[3] << 1 | _PROTO[r[0]]) << 1 | _FAMILY[r[1]]) * width + rank[r[2]]) << 64)
          | r[4]) << shift) | i
        for i, (r, _) in enumerate(raws)
    ]  # fmt: skip
    keys.sort()
    mask = (1 << shift) - 1
    return [raws[k & mask] for k in keys]


def live_ports(port_range: tuple[int, int] | None = None) -> set[int]:
    """The port numbers something listens on (TCP or UDP, any address), without owners."""
    return {lst.port for lst in listeners(port_range, owners=False)}
