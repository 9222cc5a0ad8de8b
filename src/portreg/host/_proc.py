"""Processes from /proc: which one holds a socket inode, and which network namespace it is in.

Every read here can fail because a process exits mid-scan or hides its files (another user's
process, or `/proc/1/fd` even for root in some sandboxes): each failure only means "not known",
never an exception to the caller.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from portreg.host._records import Owner

_K = TypeVar("_K", int, bytes)  # what a walk reports per fd: an inode, or the link text
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
    wanted: Iterable[int], all_pids: Iterable[int], walk: FdWalk | None = None
) -> tuple[dict[int, int], dict[int, list[int]]]:
    """({socket inode: first pid}, {socket inode: [other pids]}) for the wanted inodes, walking
    /proc/<pid>/fd in pid order (the second mapping only for sockets several processes hold).

    A socket shared by several processes lists them all, lowest pid first, as `ss -p` does.
    Sharing comes from fork (a pre-fork server's workers; systemd's socket activation): once
    every wanted inode has a holder, only processes related to holders are read further
    (`_related`: children, and a holder's parent), not every other process's fds (a shared
    socket passed over a Unix socket to an unrelated process is the case this leaves out).
    Inodes no readable process holds are left out: their owner is unknown.

    The cost is one readlink per open fd (~1.7-5 us, nearly all of it in the kernel). On a host
    with many fds a forked child shares the walk (`FdWalk`; `walk` is one started before the
    inodes were known, over `all_pids`); the answer is the same either way.
    """
    links = {b"socket:[%d]" % ino: ino for ino in wanted}
    found: dict[int, int] = {}
    more: dict[int, list[int]] = {}
    if not links:
        return found, more
    pids = list(all_pids)
    hits, read = (walk or FdWalk(pids, links)).holders(links)
    holding: dict[int, set[int]] = {}
    for pid, inodes in hits.items():
        for ino in inodes:
            holding.setdefault(ino, set()).add(pid)
    if len(holding) >= len(links):
        _related(pids, read, links, holding)
    for ino, holders in holding.items():
        first, *others = sorted(holders)
        found[ino] = first
        if others:
            more[ino] = others
    return found, more


_SPLIT_MIN_FDS = 4000  # fewer open fds on the host than this: a fork costs more than it saves


def _walk(
    pids: Iterable[int], links: Mapping[bytes, _K], *, stop: bool = True
) -> tuple[dict[int, list[_K]], set[int]]:
    """({pid: wanted inodes it holds}, pids read), in order, until every inode has a holder
    (never with `stop=False` or `_EVERY_LINK`: every process is read)."""
    hits: dict[int, list[_K]] = {}
    read: set[int] = set()
    seen: set[_K] = set()
    for pid in pids:
        if stop and links is not _EVERY_LINK and len(seen) >= len(links):
            break
        inodes = _held(pid, links)
        read.add(pid)
        if inodes:
            hits[pid] = inodes
            seen.update(inodes)
    return hits, read


class FdWalk:
    """The /proc fd walk of `socket_holders`, shared with a forked child on a host with many
    fds: both take pids, lowest first, from one queue (a pipe of 4-byte pids: a read that small
    is atomic), so neither waits for the other however the fds are spread.

    Not threads: readlink releases the GIL for ~2 us at a time, and two threads handing it
    back and forth were slower than one (measured here: 99 ms for two, 56 ms for one, 28,000
    fds); two processes share nothing. Made with `links=None` (before the kernel's dump says
    which inodes are wanted), the child reads every link while this process dumps, and
    `holders` picks the wanted ones from what it sends.

    Pids leave the queue in order, so when every inode has a holder, every lower pid has been
    read by one of the two: the lowest holder is found as by one walk in pid order (either
    may read a process or two more, which can only add a holder). Only a single-threaded
    process forks (a fork copies one thread, and whatever locks the others hold); if the child
    fails in any way, what it took is read here."""

    def __init__(self, pids: list[int], links: dict[bytes, int] | None = None) -> None:
        self._pids, self._texts = pids, links is None
        self._child, self._pipe, self._queue = 0, -1, -1
        if not _may_fork() or sum(_fd_count(pid) for pid in pids) < _SPLIT_MIN_FDS:
            return
        self._queue = _queue(pids)
        if self._queue < 0:
            return
        import marshal

        rfd, wfd = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child's coverage is not collected
            code = 1
            try:
                os.close(rfd)
                if links is None:  # every link: the wanted inodes are not known yet
                    data = marshal.dumps(_walk(_taken(self._queue), _EVERY_LINK))
                else:
                    data = marshal.dumps(_walk(_taken(self._queue), links))
                with open(wfd, "wb") as out:
                    out.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(wfd)
        self._child, self._pipe = child, rfd

    def holders(self, links: dict[bytes, int]) -> tuple[dict[int, list[int]], set[int]]:
        """({pid: wanted inodes it holds}, pids read), until every inode has a holder."""
        if not self._child:
            return _walk(self._pids, links)
        import select

        hits: dict[int, list[int]] = {}
        read: set[int] = set()
        seen: set[int] = set()
        theirs: tuple[dict[int, list[Any]], list[int]] | None = None
        try:
            for pid in _taken(self._queue):
                inodes = _held(pid, links)
                read.add(pid)
                if inodes:
                    hits[pid] = inodes
                    seen.update(inodes)
                if theirs is None and select.select([self._pipe], [], [], 0)[0]:
                    theirs = self._result()  # the child is done: what it found counts now
                    seen.update(self._merge(theirs, links, hits, read))
                if len(seen) >= len(links):
                    break
            if theirs is None and len(seen) < len(links):
                theirs = self._result()  # the queue is empty: wait for the child's share
                self._merge(theirs, links, hits, read)
        finally:
            self.close()
        return hits, read

    def _result(self) -> tuple[dict[int, list[Any]], list[int]]:
        import marshal

        with open(self._pipe, "rb", closefd=False) as pipe:
            data = pipe.read()
        self._reap(killed=False)
        try:
            if self._status != 0:
                raise ValueError(self._status)
            got: tuple[dict[int, list[Any]], list[int]] = marshal.loads(data)
            return got
        except (ValueError, EOFError, TypeError):
            return {}, []

    def _merge(
        self,
        theirs: tuple[dict[int, list[Any]], list[int]],
        links: dict[bytes, int],
        hits: dict[int, list[int]],
        read: set[int],
    ) -> set[int]:
        """The child's hits into ours; the inodes they hold. If the child failed (nothing
        read), the pids it may have taken are read here."""
        their_hits, their_read = theirs
        if not their_read:
            rest = [p for p in self._pids if p not in read]
            walked, walked_read = _walk(rest, links, stop=False)
            their_hits, their_read = dict(walked), list(walked_read)
            self._texts = False
        found: set[int] = set()
        for pid, held in their_hits.items():
            # Link texts (a walk started without the inodes), else the inodes.
            inodes = sorted({links[x] for x in held if x in links} if self._texts else held)
            if inodes:
                hits[pid] = inodes
                found.update(inodes)
        read.update(their_read)
        return found

    def close(self) -> None:
        """Stop the child if it is still at work (every inode found without it, or nothing
        wanted at all), and let go of the pipes."""
        if self._child:
            self._reap(killed=True)
        for fd in (self._pipe, self._queue):
            if fd >= 0:
                os.close(fd)
        self._pipe = self._queue = -1

    def _reap(self, *, killed: bool) -> None:
        if killed:  # it may be blocked on a full pipe
            with contextlib.suppress(OSError):
                os.kill(self._child, 9)
        _, self._status = os.waitpid(self._child, 0)
        self._child = 0


def _queue(pids: list[int]) -> int:
    """A pipe holding `pids`, its write end closed; -1 if they do not fit in its buffer."""
    qr, qw = os.pipe()
    data = b"".join(pid.to_bytes(4, "little") for pid in pids)
    os.set_blocking(qw, False)  # a pipe's buffer can be a single page when limits are hit
    try:
        sent = os.write(qw, data)
    except BlockingIOError:
        sent = 0
    os.close(qw)
    if sent == len(data):
        return qr
    os.close(qr)
    return -1


def _taken(queue: int) -> Iterator[int]:
    """Pids from a queue two processes share (see FdWalk), until it is empty."""
    while len(got := os.read(queue, 4)) == 4:
        yield int.from_bytes(got, "little")


def _may_fork() -> bool:
    import sys

    threading = sys.modules.get("threading")
    return hasattr(os, "fork") and (threading is None or threading.active_count() == 1)


def _fd_count(pid: int) -> int:
    """How many fds `pid` has open: /proc/<pid>/fd's st_size (Linux >= 6.2), else 1."""
    try:
        return os.stat(f"/proc/{pid}/fd").st_size or 1
    except OSError:
        return 0


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


def _held(pid: int, links: Mapping[bytes, _K]) -> list[_K]:
    """The wanted socket inodes among `pid`'s open fds (each once), [] if none or unreadable.
    (With `_EVERY_LINK` for `links`: every link text, for a walk that starts before the
    wanted inodes are known.)

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
    out: set[_K | None] = set()
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


def _inodes(found: set[_K | None]) -> list[_K]:
    return sorted(i for i in found if i is not None)


class _EveryLink(dict[bytes, bytes]):
    """A mapping of every link text to itself (what `_held` picks with it: everything)."""

    def get(self, key: bytes, default: object = None) -> bytes:
        return key


_EVERY_LINK = _EveryLink()


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
