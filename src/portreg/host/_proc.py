"""Processes from /proc: which one holds a socket inode, and which network namespace it is in.

Every read here can fail because a process exits mid-scan or hides its files (another user's
process, or `/proc/1/fd` even for root in some sandboxes): each failure only means "not known",
never an exception to the caller.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from portreg.host._records import Owner

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def pids(proc: str = "/proc") -> list[int]:
    """Process ids in /proc, ascending (parents before the children they forked, mostly)."""
    try:
        names = os.listdir(proc)
    except OSError:
        return []
    return sorted(int(n) for n in names if n.isdigit())


def own_netns() -> int | None:
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return None


def foreign_netns(all_pids: Iterable[int], own: int | None) -> dict[int, int]:
    """{namespace inode: first pid in it} for every network namespace other than ours."""
    found: dict[int, int] = {}
    stat = os.stat
    for pid in all_pids:
        try:
            ino = stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            continue  # exited, or not ours to look at
        if ino != own and ino not in found:
            found[ino] = pid
    return found


def netns_names(run_dir: str = "/run/netns") -> dict[int, str]:
    """{namespace inode: name} for the namespaces `ip netns add` named (bind mounts there)."""
    out: dict[int, str] = {}
    try:
        entries = list(os.scandir(run_dir))
    except OSError:
        return out
    for entry in entries:
        try:
            out.setdefault(os.stat(entry.path).st_ino, entry.name)
        except OSError:
            continue
    return out


_PROBE_MIN = 64  # fds a process must hold before its fd numbers are probed (see below)
_PROBE_SLACK = 16  # gaps in the fd numbers probed for before the directory is listed
_CHUNK = 256  # fds read in one go between checks for "every wanted inode found"
_names: list[list[bytes]] = [[]]


def _fd_names(n: int) -> list[bytes]:
    """b"0", b"1", ... b"n-1" (made once, shared by every process walked). Two walking threads
    may ask at once: a longer list is built whole and then swapped in (one atomic store), never
    extended in place, where the two threads' appends could interleave."""
    names = _names[0]
    if len(names) < n:
        names = [b"%d" % i for i in range(max(n, 2 * len(names)))]
        _names[0] = names
    return names[:n]


def socket_holders(
    wanted: Iterable[int], all_pids: Iterable[int]
) -> tuple[dict[int, int], dict[int, list[int]]]:
    """({socket inode: first pid}, {socket inode: [other pids]}) for the wanted inodes, walking
    /proc/<pid>/fd in pid order (the second mapping only for sockets several processes hold).

    A socket shared by several processes lists them all, lowest pid first, as `ss -p` does.
    Sharing comes from fork (a pre-fork server's workers; systemd's socket activation): once
    every wanted inode has a holder, only processes related to holders are read further
    (`_related`: children, and a holder's parent), not every other process's fds (a shared
    socket passed over a Unix socket to an unrelated process is the case this leaves out).
    Inodes no readable process holds are left out: their owner is unknown.

    The cost is one readlink per open fd (~2.5-5 us, nearly all of it in the kernel, which
    releases the GIL): two threads read two processes at once (measured here: 1.4-1.5x the
    speed of one; two threads on one process's fd table gain nothing). Each process's hits
    are merged in pid order afterwards, so the answer does not depend on which thread was
    first; a thread may read a process or two past the point where every inode was found,
    which can only add a holder.
    """
    links = {b"socket:[%d]" % ino: ino for ino in wanted}
    found: dict[int, int] = {}
    more: dict[int, list[int]] = {}
    if not links:
        return found, more
    pids = list(all_pids)
    hits: dict[int, list[int]] = {}
    read: set[int] = set()
    seen: set[int] = set()
    queue = iter(pids)

    def walk() -> None:
        for pid in queue:  # a list iterator's next() is atomic: each pid goes to one thread
            if len(seen) >= len(links):
                return
            inodes = _held(pid, links)
            read.add(pid)
            if inodes:
                hits[pid] = inodes
                seen.update(inodes)

    if len(pids) > 1:
        import threading

        other = threading.Thread(target=walk, daemon=True)
        other.start()
        walk()
        other.join()
    else:
        walk()
    holding: dict[int, set[int]] = {}
    for pid, inodes in hits.items():
        for ino in inodes:
            holding.setdefault(ino, set()).add(pid)
    if len(seen) >= len(links):
        _related(pids, read, links, holding)
    for ino, holders in holding.items():
        first, *others = sorted(holders)
        found[ino] = first
        if others:
            more[ino] = others
    return found, more


def _related(
    pids: list[int], read: set[int], links: dict[bytes, int], holding: dict[int, set[int]]
) -> None:
    """Every socket has a holder: read on only in processes related to the holders, until no
    more are found: their children (pre-fork workers), and the parent of a holder (the master
    that made the socket). Pid order alone says nothing here: once pids wrap around, a worker
    can have a lower pid than its master, so the master is read as a holder's parent."""
    parents: dict[int, int | None] = {}

    def parent_of(pid: int) -> int | None:
        if pid not in parents:
            parents[pid] = parent(pid)
        return parents[pid]

    holders = {p for pids_ in holding.values() for p in pids_}
    subtree = set(holders)  # holders and the descendants of holders read so far
    pending = [p for p in pids if p not in read]
    grew = True
    while grew:
        grew = False
        ups = {parent_of(h) for h in holders}
        for pid in pending:
            if pid in read:
                continue
            child = parent_of(pid) in subtree
            if not child and pid not in ups:
                continue
            read.add(pid)
            grew = True
            inodes = _held(pid, links)
            for ino in inodes:
                holding.setdefault(ino, set()).add(pid)
            if inodes:
                holders.add(pid)
            if inodes or child:
                subtree.add(pid)  # its own children may hold the socket too


def _held(pid: int, links: dict[bytes, int]) -> list[int]:
    """The wanted socket inodes among `pid`'s open fds (each once), [] if none or unreadable.

    Listing /proc/<pid>/fd costs ~0.6 us per fd on top of the readlinks; for a process with
    many fds it is skipped when it can be: the directory's st_size is its number of open fds
    (Linux >= 6.2), and fds are numbered densely from 0 in most processes, so fds 0, 1, 2, ...
    are read until that many have been seen. Only where the numbers have more gaps than
    `_PROBE_SLACK` (or st_size is 0: an older kernel) is the directory listed for the rest.
    Links are read as bytes: no decoding.
    """
    readlink, get = os.readlink, links.get
    try:
        dfd = os.open(f"/proc/{pid}/fd", _DIR_FLAGS)
    except OSError:
        return []
    out: set[int | None] = set()
    try:
        try:
            count = os.fstat(dfd).st_size
        except OSError:
            return []
        probed = 0  # fd numbers below this one have been read
        if count >= _PROBE_MIN:
            numbers = _fd_names(count)
            for at in range(0, count, _CHUNK):
                try:  # the common case, as one comprehension (less overhead than a loop)
                    out.update({get(readlink(n, dir_fd=dfd)) for n in numbers[at : at + _CHUNK]})
                except OSError:  # a gap in the numbers, a closed fd, or no access
                    break
                probed = at + _CHUNK
            else:
                return _inodes(out)  # fds 0..count-1 all read: every fd the process has
            # Gaps in the numbering: read on one fd at a time from where it failed.
            seen = probed
            for name in _fd_names(count + _PROBE_SLACK)[probed:]:
                try:
                    out.add(get(readlink(name, dir_fd=dfd)))
                except FileNotFoundError:
                    continue  # a gap in the numbering, or closed meanwhile
                except PermissionError:
                    return _inodes(out)  # ptrace access is per process: no fd of it reads
                except OSError:
                    continue
                seen += 1
                if seen >= count:
                    return _inodes(out)
            probed = count + _PROBE_SLACK  # more gaps than that: list the rest
        try:
            names = os.listdir(dfd)
        except OSError:
            return _inodes(out)
        for text in names:
            if probed and int(text) < probed:
                continue
            try:
                out.add(get(readlink(text.encode(), dir_fd=dfd)))
            except PermissionError:
                break
            except OSError:
                continue  # the fd closed meanwhile
        return _inodes(out)
    finally:
        os.close(dfd)


def _inodes(found: set[int | None]) -> list[int]:
    return sorted(i for i in found if i is not None)


def parent(pid: int) -> int | None:
    """The parent's pid, from /proc/<pid>/stat (None when the process is gone or hidden)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split(b" ", 2)  # the name may hold ")" and spaces
    return int(fields[1]) if len(fields) > 1 else None


_users: dict[int, str | None] = {}


def user_name(uid: int | None) -> str | None:
    if uid is None:
        return None
    if uid not in _users:
        import pwd

        try:
            _users[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _users[uid] = str(uid)
    return _users[uid]


def owner(pid: int) -> Owner:
    """Name, command line and user of a process; fields it could not read are None."""
    base = f"/proc/{pid}"
    process: str | None = None
    cmdline: str | None = None
    uid: int | None = None
    try:
        with open(f"{base}/comm", "rb") as fh:
            process = fh.read().decode(errors="replace").rstrip("\n")
    except OSError:
        pass
    try:
        with open(f"{base}/cmdline", "rb") as fh:
            raw = fh.read()
        cmdline = " ".join(p.decode(errors="replace") for p in raw.rstrip(b"\0").split(b"\0"))
    except OSError:
        pass
    with contextlib.suppress(OSError):
        uid = os.stat(base).st_uid
    return Owner(pid, process, cmdline or None, user_name(uid))
