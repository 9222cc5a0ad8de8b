"""The readers underneath: netlink against /proc/net, the kernel filter, vanished processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from portreg.host import Listener, _netlink, _proc, _procnet, json_chunks, listeners
from tests.conftest import Run
from tests.host._support import holding


def _keys(raws: list[_netlink.Raw]) -> set[tuple[str, str, bytes, int, int]]:
    return {(p, f, a, port, ino) for p, f, a, port, ino, _uid, _v6 in raws}


def test_netlink_and_proc_net_agree() -> None:
    with holding({"tcp6_loop": 2, "udp6_loop": 2, "dual": 1, "v6only": 1}):
        for _ in range(5):  # other tests' sockets may come and go between the two reads
            nl, pn = _netlink.dump(), _procnet.dump()
            if _keys(nl) == _keys(pn):
                break
    assert _keys(nl) == _keys(pn)
    assert {(r[3], r[5]) for r in nl} == {(r[3], r[5]) for r in pn}  # same uids
    assert all(r[6] is None for r in pn)
    assert all((r[6] is None) == (r[1] == "ipv4") for r in nl)  # SKV6ONLY on every v6 socket


def test_kernel_range_filter_keeps_exactly_the_range() -> None:
    with holding({"tcp6_loop": 4, "udp6_loop": 2}) as h:
        ports = sorted(h["tcp6_loop"] + h["udp6_loop"])
        lo, hi = ports[1], ports[-2]
        everything = _netlink.dump()
        ranged = _netlink.dump((lo, hi))
        single = _netlink.dump((ports[0], ports[0]))
    assert set(ranged) <= set(everything)
    assert all(lo <= r[3] <= hi for r in ranged)
    mine = {r[3] for r in ranged if r[3] in ports}
    assert mine == {p for p in ports if lo <= p <= hi}
    assert ports[0] in {r[3] for r in single} and all(r[3] == ports[0] for r in single)
    assert len(_netlink.bytecode((lo, hi))) == 16


def test_a_process_that_exited_is_simply_not_known() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = child.pid
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        ino = next(r[4] for r in _netlink.dump() if r[3] == s.getsockname()[1])
        assert _proc.socket_holders({ino}, [gone, 999_999_999]) == ({}, {})
        assert _proc.foreign_netns([gone], None) == {}
        assert _procnet.dump(None, f"/proc/{gone}/net") == []
        owner = _proc.owner(gone)
        assert (owner.process, owner.cmdline, owner.user) == (None, None, None)
        assert _proc.socket_holders({ino}, [gone, os.getpid()]) == ({ino: os.getpid()}, {})


def test_listeners_without_owners_skip_the_fd_walk() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        bare = listeners((port, port), owners=False)
        full = listeners((port, port))
    # Only the UDP socket on 127.0.0.1 is ours; a TCP one may share the number.
    assert [x.pid for x in bare if x.protocol == "udp" and x.address == "127.0.0.1"] == [None]
    comm = Path("/proc/self/comm").read_text().strip()
    mine = [x for x in full if x.protocol == "udp" and x.address == "127.0.0.1"]
    assert [(x.pid, x.process) for x in mine] == [(os.getpid(), comm)]


def test_fast_json_text_is_what_json_dumps_prints() -> None:
    odd = 'tricky "quoted" \\ back\tslash — ünïcode \u2028 \x01'
    found = [
        Listener(
            1883,
            "tcp",
            "127.0.0.1",
            "ipv4",
            11,
            42,
            "mosquitto",
            odd,
            "mosquitto",
            None,
            105,
            False,
        ),
        Listener(
            53000, "udp", "::", "ipv6", 12, None, None, None, "root", "net:[4026532]", 0, None
        ),
        Listener(53001, "tcp", "::", "ipv6", 13, 7, "x", odd, "root", "blue", 0, True),
        Listener(53002, "tcp", "::", "ipv6", 14, 7, "x", odd, "root", "blue", 0, True),
    ]
    for rows in (found, found[:1], []):
        expected = json.dumps([x.to_json() for x in rows], indent=2) + "\n"
        assert "".join(json_chunks(rows)) == expected


def test_scan_writes_the_json_of_its_listeners_without_making_them() -> None:
    """`Scan.json_chunks` (what `scan --json` prints) is the JSON of the Listener objects, in
    the same order, indented as `json_chunks` of them writes it (`pids` on one line);
    `lines=True` is their NDJSON, the standard encoder's text byte for byte."""
    from portreg.host import scan

    with holding({"tcp6_loop": 3, "udp6_loop": 2, "dual": 1, "v6only": 1}):
        found = scan()
        rows = found.listeners()
    assert len(found) == len(rows) > 5
    text = "".join(found.json_chunks())
    assert json.loads(text) == [x.to_json() for x in rows]
    assert text == "".join(json_chunks(rows)) and text.count("\n  {\n") == len(rows)
    ndjson = "".join(found.json_chunks(lines=True)).splitlines()
    assert ndjson == [json.dumps(x.to_json()) for x in rows]
    order = [(x.port, x.protocol, x.family, x.address, x.inode) for x in rows]
    assert order == sorted(order)


def test_scan_ndjson_prints_one_object_a_line(run: Run) -> None:
    with holding({"tcp6_loop": 2}) as h:
        port = h["tcp6_loop"][0]
        pretty = run("scan", "--json", "--range", f"{port}-{port}")
        lines = run("scan", "--ndjson", "--range", f"{port}-{port}")
        # `--range=A-B` is left to argparse (the quick parser takes only the plain form).
        slow = run("scan", f"--range={port}-{port}", "--ndjson")
    assert pretty.returncode == lines.returncode == 0
    assert [json.loads(line) for line in lines.stdout.splitlines()] == json.loads(pretty.stdout)
    assert slow.stdout == lines.stdout and lines.stdout.count("\n") >= 1


def test_a_masters_socket_is_found_when_its_workers_come_first_in_pid_order() -> None:
    """Once pids wrap around, a pre-fork server's workers can have lower pids than their
    master: the walk meets a worker first, and must still list the master (the worker's
    parent) and the other worker (the master's child), as `ss -p` does. Real processes; the
    pid order of a wrapped-around machine is given as the walk's order."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        inode = os.fstat(listening.fileno()).st_ino
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(30)"],
                pass_fds=[listening.fileno()],
            )
            for _ in range(2)
        ]
        try:
            others = [p for p in _proc.pids() if p not in {os.getpid(), *(w.pid for w in workers)}]
            order = [workers[0].pid, *others, workers[1].pid, os.getpid()]
            first, more = _proc.socket_holders([inode], order)
        finally:
            for w in workers:
                w.kill()
                w.wait()
    expected = sorted([os.getpid(), *(w.pid for w in workers)])
    assert [first[inode], *more.get(inode, [])] == expected
