"""Processes from /proc: which one holds a socket inode, and which network namespace it is in.

Every read here can fail because a process exits mid-scan or hides its files (another user's
process, or `/proc/1/fd` even for root in some sandboxes): each failure only means "not known",
never an exception to the caller.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class Owner:
    """The process holding a socket: pid, short name, command line, user (None = not known)."""

    pid: int
    process: str | None
    cmdline: str | None
    user: str | None


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


def socket_holders(wanted: Iterable[int], all_pids: Iterable[int]) -> dict[int, int]:
    """{socket inode: pid} for the wanted inodes, walking /proc/<pid>/fd in pid order.

    Stops as soon as every wanted inode has a holder. A socket shared by several processes
    (a forked server's workers) is given to the first, i.e. lowest, pid. Inodes no readable
    process holds are left out: their owner is unknown.
    """
    links = {f"socket:[{ino}]": ino for ino in wanted}
    found: dict[int, int] = {}
    left = len(links)
    if not left:
        return found
    readlink, listdir, open_, close = os.readlink, os.listdir, os.open, os.close
    get = links.get
    for pid in all_pids:
        try:
            dfd = open_(f"/proc/{pid}/fd", _DIR_FLAGS)
        except OSError:
            continue
        try:
            try:
                names = listdir(dfd)
            except OSError:
                continue
            for name in names:
                try:
                    ino = get(readlink(name, dir_fd=dfd))
                except PermissionError:
                    break  # ptrace access is per process: none of its fds will read
                except OSError:
                    continue  # the fd closed meanwhile
                if ino is not None and ino not in found:
                    found[ino] = pid
                    left -= 1
                    if not left:
                        return found
        finally:
            close(dfd)
    return found


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
