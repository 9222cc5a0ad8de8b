"""`scan` against `ss`, on this machine's real services and on thousands of sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import Run, netns
from tests.host._support import compare_with_ss, free_port, holding, scan, ss

# The servers that run on this machine, by port and process name (as /proc/<pid>/comm says).
REAL_SERVICES = {
    5432: "postgres",
    6379: "redis-server",
    5672: "beam.smp",  # RabbitMQ
    3306: "mariadbd",
    1883: "mosquitto",
    4222: "nats-server",
}


def test_scan_matches_ss_including_the_real_servers() -> None:
    ours = compare_with_ss()
    found = scan()
    for port, name in REAL_SERVICES.items():
        holders = [d for d in found if d["port"] == port and d["protocol"] == "tcp"]
        assert holders, f"nothing found on {port} ({name})"
        assert all(d["process"] == name and d["pid"] for d in holders), holders
        assert all(d["user"] and d["cmdline"] for d in holders), holders
    assert len(ours) >= len(REAL_SERVICES)


def test_json_objects_have_the_contract_fields() -> None:
    with holding({"tcp6_loop": 1}) as h:
        port = h["tcp6_loop"][0]
        found = [d for d in scan("--range", f"{port}-{port}") if d["pid"] == h["pid"]]
    assert len(found) == 1
    d = found[0]
    for key in ("port", "protocol", "address", "family", "pid", "process", "cmdline", "user",
                "namespace"):  # fmt: skip
        assert key in d
    assert (d["port"], d["protocol"], d["address"], d["family"]) == (port, "tcp", "::1", "ipv6")
    assert d["process"].startswith("python")
    assert "holder.py" in d["cmdline"]
    assert d["namespace"] is None


def test_ipv6_loopback_udp_and_dual_stack_listeners() -> None:
    spec = {"tcp6_loop": 1, "udp6_loop": 1, "dual": 1, "v6only": 1}
    with holding(spec) as h, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp4:
        udp4.bind(("127.0.0.1", 0))
        udp4_port = udp4.getsockname()[1]
        mine = {(d["protocol"], d["address"], d["port"]): d for d in scan()
                if d["pid"] in (h["pid"], os.getpid())}  # fmt: skip
        on_ss = {(p, a, port) for p, a, port, pids in ss() if pids & {h["pid"], os.getpid()}}
    tcp6, udp6, dual, v6only = (h[k][0] for k in ("tcp6_loop", "udp6_loop", "dual", "v6only"))
    assert (
        set(mine)
        == on_ss
        == {
            ("tcp", "::1", tcp6),
            ("udp", "::1", udp6),
            ("tcp", "::", dual),
            ("tcp", "::", v6only),
            ("udp", "127.0.0.1", udp4_port),
        }
    )
    assert mine[("tcp", "::", dual)]["dual_stack"] is True
    assert mine[("tcp", "::", v6only)]["dual_stack"] is False
    assert mine[("tcp", "::1", tcp6)]["dual_stack"] is False
    assert mine[("udp", "127.0.0.1", udp4_port)]["family"] == "ipv4"
    assert mine[("udp", "127.0.0.1", udp4_port)]["pid"] == os.getpid()


def test_range_filter_returns_exactly_the_sockets_in_range() -> None:
    with holding({"tcp6_loop": 3, "udp6_loop": 2}) as h:
        ports = sorted(h["tcp6_loop"] + h["udp6_loop"])
        everything = scan()
        ranged = scan("--range", f"{ports[0]}-{ports[-1]}")
    # Other tests' sockets come and go: only ours are certain to be in both scans.
    assert all(ports[0] <= d["port"] <= ports[-1] for d in ranged)
    assert any(not ports[0] <= d["port"] <= ports[-1] for d in everything)
    assert {d["port"] for d in ranged if d["pid"] == h["pid"]} == set(ports)
    assert {d["port"] for d in everything if d["pid"] == h["pid"]} == set(ports)


@pytest.mark.slow
def test_twenty_thousand_listeners_over_several_processes_match_ss() -> None:
    """20,000 listeners (the per-process fd limit is 20,000, so five holders of 4,000), in a
    namespace of the test's own so no other test's sockets come and go meanwhile."""
    with netns() as ns:
        prefix = ["ip", "netns", "exec", ns]
        specs = [{"tcp4": [20000 + i * 4000, 3980], "udp4": [40000 + i * 20, 10],
                  "tcp6_loop": 5, "dual": 5} for i in range(5)]  # fmt: skip
        with holding(specs[0], prefix) as h0, holding(specs[1], prefix) as h1, \
                holding(specs[2], prefix) as h2, holding(specs[3], prefix) as h3, \
                holding(specs[4], prefix) as h4:  # fmt: skip
            holders = [h0, h1, h2, h3, h4]
            ours = compare_with_ss(prefix, attempts=2)
        pids = {h["pid"] for h in holders}
        assert sum(n for (_, _, _, held), n in ours.items() if held & pids) == 5 * 4000
        # The host's own listeners are seen too, labelled with the host namespace.
        inside = scan(prefix=prefix)
        outside = [d for d in inside if d["namespace"] is not None]
        assert any(d["port"] == 5432 and d["process"] == "postgres" for d in outside)


def test_listener_in_another_network_namespace_is_found_and_labelled(run: Run) -> None:
    with netns() as ns:
        port = free_port()  # nothing on the host uses it
        spec = {"tcp4": [port, 1], "udp4": [port, 1]}
        with holding(spec, ["ip", "netns", "exec", ns]) as h:
            assert h["tcp4"] == [port] and h["udp4"] == [port]
            found = [d for d in scan() if d["port"] == port]
            host_ss = [row for row in ss("-tulnH") if row[2] == port]
            who = run("who", str(port), "--json")
            who_text = run("who", str(port))
    assert host_ss == []
    assert {(d["protocol"], d["namespace"], d["pid"]) for d in found} == {
        ("tcp", ns, h["pid"]),
        ("udp", ns, h["pid"]),
    }
    assert who.returncode == 0
    assert {d["namespace"] for d in json.loads(who.stdout)} == {ns}
    assert f"in network namespace {ns}" in who_text.stdout


def test_listener_with_unreadable_owner_is_reported_owner_unknown() -> None:
    """/proc/1/fd cannot be read here even as root: such listeners stay, with pid null."""
    try:
        os.readlink(f"/proc/1/fd/{os.listdir('/proc/1/fd')[0]}")
    except PermissionError:
        pass
    else:
        pytest.skip("every process' fds are readable here")
    unknown = [d for d in scan() if d["pid"] is None and d["namespace"] is None]
    no_users = [row for row in ss() if not row[3]]
    assert {(d["protocol"], d["address"], d["port"]) for d in unknown} == {
        (p, a, port) for p, a, port, _ in no_users
    }
    assert all(d["process"] is None and d["user"] for d in unknown)


def test_listener_no_process_holds_is_reported_owner_unknown(run: Run) -> None:
    """A listening socket in flight over a unix socket (SCM_RIGHTS, never received) has no
    fd in any process: it still listens, and portreg names its owner as unknown."""
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    lst = socket.socket()
    try:
        lst.bind(("127.0.0.1", 0))
        lst.listen()
        port = lst.getsockname()[1]
        socket.send_fds(left, [b"x"], [lst.fileno()])
        lst.close()
        found = scan("--range", f"{port}-{port}")
        on_ss = ss(f"-tulnpH sport = :{port}")
        who = run("who", str(port))
    finally:
        left.close()
        right.close()
    assert [(p, a, pids) for p, a, _, pids in on_ss] == [("tcp", "127.0.0.1", frozenset())]
    assert len(found) == 1
    assert found[0]["pid"] is None and found[0]["process"] is None
    assert found[0]["user"] == "root" if os.getuid() == 0 else found[0]["user"]
    assert who.returncode == 0
    assert "owner unknown" in who.stdout


def test_processes_exiting_mid_scan_never_break_it() -> None:
    """Many short-lived listeners come and go while scans run: every scan succeeds."""
    churn = subprocess.Popen(
        ["python3", "-c", _CHURN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(8):
            found = scan()
            assert all(isinstance(d["port"], int) for d in found)
    finally:
        churn.kill()
        churn.wait()


_CHURN = """
import os, socket, time
end = time.time() + 60
while time.time() < end:
    pid = os.fork()
    if pid == 0:
        socks = []
        for _ in range(50):
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); socks.append(s)
        time.sleep(0.003)
        os._exit(0)
    os.waitpid(pid, 0)
"""


def test_scan_human_output_names_owners_and_the_registered_service(run: Run, tmp_path) -> None:
    with holding({"tcp6_loop": 1}) as h:
        port = h["tcp6_loop"][0]
        wide = {"COLUMNS": "200"}  # a table narrower than its text wraps words mid-way
        bare = run("scan", "--range", f"{port}-{port}", env=wide)
        assert run("init").returncode == 0
        add = run("add", "ghost-api", "--port", str(port), "--force")
        assert add.returncode == 0, add.stderr
        registered = run("scan", "--range", f"{port}-{port}", env=wide)
    assert bare.returncode == 0, bare.stderr
    assert f"pid {h['pid']}" in bare.stdout and "[::1]" in bare.stdout, bare.stdout
    assert "no registry found" in bare.stdout
    assert "Registered to" not in bare.stdout
    assert registered.returncode == 0, registered.stderr
    assert "Registered to" in registered.stdout, registered.stdout
    assert "ghost-api" in registered.stdout, registered.stdout


def test_a_socket_shared_by_several_processes_lists_them_all_like_ss() -> None:
    """A pre-fork server: the parent and its workers hold one listening socket."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(60)"],
                pass_fds=[listening.fileno()],
            )
            for _ in range(2)
        ]
        expected = sorted([os.getpid(), *(w.pid for w in workers)])
        try:
            # Under a loaded machine a worker may still be starting when the first look is
            # taken; both views are read again until they settle (or the deadline passes).
            deadline = time.monotonic() + 10
            while True:
                found = [d for d in scan("--range", f"{port}-{port}") if d["protocol"] == "tcp"]
                on_ss = [pids for p, _a, sport, pids in ss() if sport == port and p == "tcp"]
                settled = on_ss == [frozenset(expected)] and len(found) == 1
                if settled or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            for w in workers:
                w.kill()
                w.wait()
    assert len(found) == 1
    assert found[0]["pids"] == expected and found[0]["pid"] == expected[0]
    assert on_ss == [frozenset(expected)]
