"""The pure rules of many hosts: uniqueness per (host, transport, port), the per-host audit,
and the repair loop's three sightings."""

from __future__ import annotations

from datetime import datetime

import pytest

from portreg import ops
from portreg.audit import HostReport, audit, host_audit
from portreg.errors import PortregError
from portreg.host import Listener
from portreg.model import Registry, Service
from portreg.policy import holders_on, judge, next_free
from portreg.repair import SIGHTINGS, RepairState, repair_pass

STAMP = ops.Stamp("test", datetime(2026, 12, 2, 12, 0, 0))


def reg(*services: Service) -> Registry:
    return Registry(services={s.id: s for s in services})


def svc(sid: str, port: int, host: str = "", transport: str = "tcp") -> Service:
    return Service(id=sid, name=sid, ports={"development": port}, host=host, transport=transport)


def lst(port: int, protocol: str = "tcp") -> Listener:
    return Listener(port, protocol, "0.0.0.0", "ipv4")


def report(host: str, *ports: int, at: str = "t1", age: float = 1.0) -> HostReport:
    return HostReport(host, age, 30.0, tuple(lst(p) for p in ports), at)


def test_one_port_on_two_hosts_never_twice_on_one() -> None:
    r = reg(svc("web", 53000, "h1"))
    r, out = ops.add(r, "web-2", 53000, "development", STAMP, host="h2")
    assert out.changed
    with pytest.raises(PortregError, match="already registered to web-2 on host h2"):
        ops.add(r, "web-3", 53000, "development", STAMP, host="h2")
    # The default host is a host of its own.
    r, _ = ops.add(r, "web-here", 53000, "development", STAMP)
    assert {s.id for s, _ in holders_on(r, 53000, host="h2")} == {"web-2"}
    assert {s.id for s, _ in holders_on(r, 53000)} == {"web-here"}


def test_tcp_and_udp_on_one_number_are_two_slots_but_picking_skips_both() -> None:
    r = reg(svc("dns", 53000, "h1", "udp"))
    assert not judge(r, 53000, host="h1", transport="tcp").problems
    assert [p.code for p in judge(r, 53000, host="h1", transport="udp").problems] == ["registered"]
    assert next_free(r, host="h1") == 53001
    assert next_free(r, host="h2") == 53000


def test_assign_on_a_host_skips_its_live_ports_and_keeps_the_service_there() -> None:
    r = reg(svc("web", 53000, "h2"))
    r, out = ops.assign(r, "api", "development", STAMP, live={53001, 53002}, host="h2")
    assert (out.port, r.services["api"].host) == (53003, "h2")
    with pytest.raises(PortregError, match="lives on h2"):
        ops.assign(r, "api", "staging", STAMP, host="h3")
    r, out = ops.assign(r, "api", "staging", STAMP)  # its own host, without naming it
    assert out.port == 53001  # no live ports were given this time


def test_move_to_another_host_checks_every_port_there() -> None:
    r = reg(
        Service(id="db", name="db", ports={"development": 53000, "staging": 53001}),
        svc("other", 53001, "h2"),
    )
    with pytest.raises(PortregError, match="staging"):
        ops.move(r, "db", 53005, "development", STAMP, reason="x", host="h2")
    moved, _ = ops.move(r, "db", 53005, "development", STAMP, reason="x", host="h3")
    assert moved.services["db"].host == "h3"


def test_bad_host_names_are_bad_input() -> None:
    with pytest.raises(PortregError, match="not a usable host name"):
        ops.assign(reg(), "api", "development", STAMP, host="a/b")


def test_duplicates_are_per_host() -> None:
    r = reg(svc("a", 53000, "h1"), svc("b", 53000, "h2"), svc("c", 53001, "h1"),
            svc("d", 53001, "h1"))  # fmt: skip
    dup = [f for f in audit(r, [], datetime(2026, 1, 1).date()) if f.code == "duplicate-port"]
    assert [f.port for f in dup] == [53001]


def test_host_audit_names_the_host_and_believes_the_report() -> None:
    r = reg(svc("web", 53000, "h1"), svc("api", 53001, "h1"), svc("far", 53002, "h9"))
    found = host_audit(r, [report("h1", 53000, 53050), report("h2", 53000)])
    got = {(f.host, f.code, f.port) for f in found}
    assert got == {
        ("h1", "not-listening", 53001),
        ("h1", "undocumented-listener", 53050),
        ("h2", "undocumented-listener", 53000),
        ("h9", "host-stale", None),  # registered there, never reported
    }
    assert all(f.to_json()["host"] == f.host for f in found)


def test_a_stale_host_is_not_judged_on_its_old_report() -> None:
    r = reg(svc("api", 53001, "h1"))
    found = host_audit(r, [report("h1", 53050, age=91.0)])
    assert [(f.code, f.host) for f in found] == [("host-stale", "h1")]
    assert not host_audit(r, [report("h1", 53001, age=89.0)])


def test_repair_holds_an_orphan_after_three_reports_and_lets_it_go_after_three_misses() -> None:
    r = reg(svc("web", 53000, "h1"))
    state = RepairState()
    held: set[tuple[str, str, int]] = set()
    for n in range(1, SIGHTINGS + 1):
        # The same report seen twice is one sighting.
        for _ in range(2):
            actions = repair_pass(state, r, [report("h1", 53000, 53007, at=f"t{n}")], held)
        if n < SIGHTINGS:
            assert not actions.hold
    assert actions.hold == {("h1", "tcp", 53007)}
    held |= actions.hold
    for n in range(SIGHTINGS):
        actions = repair_pass(state, r, [report("h1", 53000, at=f"m{n}")], held)
        if n < SIGHTINGS - 1:
            assert not actions.unhold
    assert actions.unhold == {("h1", "tcp", 53007)}


def test_repair_lifts_a_hold_once_the_port_is_registered_and_flags_leaks() -> None:
    held = {("h1", "tcp", 53007)}
    r = reg(svc("web", 53000, "h1"), svc("late", 53007, "h1"))
    state = RepairState()
    actions = repair_pass(state, r, [report("h1", 53007, at="a")], held)
    assert actions.unhold == held
    for n in range(SIGHTINGS - 1):
        actions = repair_pass(state, r, [report("h1", 53007, at=f"b{n}")], set())
    assert actions.leaked == {("h1", "tcp", 53000): SIGHTINGS}
    # A stale report is no evidence: nothing counts, nothing is acted on.
    before = dict(state.leaks)
    repair_pass(state, r, [report("h1", at="c", age=1000.0)], set())
    assert state.leaks == before
