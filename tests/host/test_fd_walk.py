"""The /proc fd walk shared with a forked child (`_proc.FdWalk`) answers what one walk does.

Run in a fresh single-threaded interpreter (an xdist worker has threads, and FdWalk never forks
a process with threads), over real holders of thousands of sockets in a namespace of the test's
own, so the walk is big enough to be split."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import netns
from tests.host._support import holding

CHECK = r"""
import json, os, sys
from portreg.host import _proc, _procnet
ports = {int(pid): set(p) for pid, p in json.loads(sys.argv[1]).items()}
holders = list(ports)
table = _procnet.dump(None, f"/proc/{holders[0]}/net")  # the three share one namespace
inodes = {pid: sorted({r[4] for r in table if r[3] in ports[pid] and r[4]}) for pid in holders}
pids = _proc.pids()
every = {ino for held in inodes.values() for ino in held}
links = {b"socket:[%d]" % ino: ino for ino in every}

def answer(hits, read):
    return {str(pid): sorted(set(v) & every) for pid, v in hits.items() if set(v) & every}

one = answer(*_proc._walk(pids, links))
out = {"one": one, "holders": {str(p): v for p, v in inodes.items()}}
walk = _proc.FdWalk(pids, links)
out["forked"] = bool(walk._child)
out["split"] = answer(*walk.holders(links))
early = _proc.FdWalk(pids)                     # started before the inodes are known
out["early"] = answer(*early.holders(links))
broken = _proc.FdWalk(pids)                    # a child that dies: its share is read here
os.kill(broken._child, 9)
out["broken"] = answer(*broken.holders(links))
first = holders[0]
lone = {b"socket:[%d]" % inodes[first][0]: inodes[first][0]}
stop = _proc.FdWalk(pids, lone)                # one inode: stops at its holder
out["lone"] = answer(*stop.holders(lone))
out["children_left"] = [
    p for p in _proc.pids()
    if _proc.parent(p) == os.getpid() and os.path.exists(f"/proc/{p}/fd")
]
print(json.dumps(out))
"""


def test_a_walk_shared_with_a_child_finds_every_holder_as_one_walk_does() -> None:
    with netns() as ns:
        prefix = ["ip", "netns", "exec", ns]
        specs = [{"tcp4": [20000 + i * 2000, 1500]} for i in range(3)]
        with holding(specs[0], prefix) as h0, holding(specs[1], prefix) as h1, \
                holding(specs[2], prefix) as h2:  # fmt: skip
            pids = [h["pid"] for h in (h0, h1, h2)]
            ports = {h["pid"]: h["tcp4"] for h in (h0, h1, h2)}
            done = subprocess.run(
                [sys.executable, "-c", CHECK, json.dumps(ports)],
                capture_output=True, text=True, check=True, timeout=60,
            )  # fmt: skip
    out = json.loads(done.stdout)
    expected = out["holders"]
    assert all(len(held) == 1500 for held in expected.values())
    assert out["one"] == expected  # the plain walk, as the reference
    assert out["forked"]  # 4,500+ fds: the walk was shared
    assert out["split"] == expected
    assert out["early"] == expected
    assert out["broken"] == expected
    lone_pid = str(pids[0])
    assert list(out["lone"]) == [lone_pid] and len(out["lone"][lone_pid]) == 1
    assert out["children_left"] == []  # every child reaped
