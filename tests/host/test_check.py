"""`check PORT`: a port held live by another process is never reported free, and its holder is
named; TCP and UDP, IPv4 and IPv6."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Run
from tests.host._support import free_port, holding


@pytest.mark.parametrize(
    ("kind", "protocol", "address"),
    [
        ("tcp4", "tcp", "127.0.0.1"),
        ("udp4", "udp", "127.0.0.1"),
        ("tcp6_loop", "tcp", "::1"),
        ("udp6_loop", "udp", "::1"),
    ],
)
def test_check_finds_a_port_held_by_another_process(
    run: Run, kind: str, protocol: str, address: str
) -> None:
    spec: dict[str, object] = {kind: [free_port(), 1]} if kind.endswith("4") else {kind: 1}
    with holding(spec) as h:
        port = h[kind][0]
        js = run("check", str(port), "--json")
        text = run("check", str(port))
    assert js.returncode == 1, js.stderr
    (result,) = json.loads(js.stdout)
    assert result["port"] == port
    assert result["free"] is False and result["in_use"] is True
    mine = [d for d in result["listeners"] if d["pid"] == h["pid"]]
    assert [(d["protocol"], d["address"]) for d in mine] == [(protocol, address)]
    assert mine[0]["process"].startswith("python") and "holder.py" in mine[0]["cmdline"]
    assert text.returncode == 1
    assert f"{port}: NOT free" in text.stdout
    assert f"in use: {protocol} {address} by python" in text.stdout
    assert f"pid {h['pid']}" in text.stdout


def test_check_of_a_free_port_without_a_registry_is_free(run: Run) -> None:
    port = free_port()
    js = run("check", str(port), "--json")
    text = run("check", str(port))
    assert js.returncode == 0, js.stderr
    assert json.loads(js.stdout) == [
        {
            "port": port,
            "free": True,
            "registered": [],
            "allowed": None,
            "problems": [],
            "in_use": False,
            "listeners": [],
        }
    ]
    assert text.returncode == 0
    assert text.stdout.splitlines() == [
        f"{port}: free",
        "  registry: none found (host only)",
        "  in use: no",
    ]


def test_check_of_several_ports_reports_each_and_only_its_own_listeners(run: Run) -> None:
    with holding({"tcp6_loop": 1, "udp6_loop": 1}) as h:
        held = sorted({h["tcp6_loop"][0], h["udp6_loop"][0]})
        free = free_port()
        proc = run("check", str(free), *map(str, held), str(free), "--json")
    assert proc.returncode == 1, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["port"] for r in results] == [free, *held]  # asked order, duplicates once
    assert results[0]["free"] is True and results[0]["listeners"] == []
    for r in results[1:]:
        assert r["in_use"] is True
        assert all(d["port"] == r["port"] for d in r["listeners"])
        assert h["pid"] in {d["pid"] for d in r["listeners"]}
