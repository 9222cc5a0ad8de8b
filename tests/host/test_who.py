"""`who PORT`: who holds a port, for one port only; it never signals anything."""

from __future__ import annotations

import json
import os
import socket

from tests.conftest import Run, assert_one_line_error
from tests.host._support import free_port, holding, ss


def test_who_names_the_holder_and_leaves_it_running(run: Run) -> None:
    with holding({"tcp6_loop": 1, "udp6_loop": 1}) as h:
        port = h["tcp6_loop"][0]
        proc = run("who", str(port), "--json")
        text = run("who", str(port))
        alive = os.path.exists(f"/proc/{h['pid']}")
        on_ss = {min(pids) for _, _, _, pids in ss(f"-tulnpH sport = :{port}")}
    assert proc.returncode == 0, proc.stderr
    # The port is ours on ::1 only: another process may hold it on another address.
    found = [d for d in json.loads(proc.stdout) if d["pid"] == h["pid"]]
    assert [(d["port"], d["protocol"], d["address"]) for d in found] == [(port, "tcp", "::1")]
    assert h["pid"] in on_ss
    assert found[0]["process"].startswith("python") and "holder.py" in found[0]["cmdline"]
    assert text.returncode == 0
    assert f"pid {h['pid']}" in text.stdout and "holder.py" in text.stdout
    assert alive  # who reports; the holder still runs


def test_who_on_a_real_server(run: Run) -> None:
    proc = run("who", "5432", "--json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found and all(d["process"] == "postgres" and d["user"] == "postgres" for d in found)


def test_who_sees_tcp_and_udp_on_one_port(run: Run) -> None:
    with holding({"tcp6_loop": 1}) as h, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as u:
        port = h["tcp6_loop"][0]
        u.bind(("::1", port))
        found = json.loads(run("who", str(port), "--json").stdout)
    mine = {(d["protocol"], d["pid"]) for d in found if d["address"] == "::1"}
    assert mine == {("tcp", h["pid"]), ("udp", os.getpid())}


def test_who_on_a_free_port_exits_1_and_says_so(run: Run) -> None:
    port = free_port()
    text = run("who", str(port))
    js = run("who", str(port), "--json")
    assert text.returncode == 1
    assert text.stdout.strip() == f"{port}: nothing listens (tcp or udp, any address)"
    assert text.stderr == ""
    assert js.returncode == 1
    assert json.loads(js.stdout) == []


def test_who_rejects_a_port_that_is_not_a_number(run: Run) -> None:
    for bad in ("http", "0", "65536", "-1", "54000x"):
        assert_one_line_error(run("who", bad))
    assert_one_line_error(run("scan", "--range", "9-2"))
    assert_one_line_error(run("scan", "--range", "abc"))


def test_who_shows_the_registered_service_when_a_registry_exists(run: Run) -> None:
    with holding({"tcp6_loop": 1}) as h:
        port = h["tcp6_loop"][0]
        assert run("init").returncode == 0
        assert run("add", "ghost-api", "--port", str(port), "--force").returncode == 0
        text = run("who", str(port))
        js = run("who", str(port), "--json")
    assert "registered to: ghost-api (development)" in text.stdout
    assert h["pid"] in [d["pid"] for d in json.loads(js.stdout)]
