"""The pure audit: registry + listeners + health + kernel settings → findings."""

from __future__ import annotations

from datetime import date

import pytest

from portreg.audit import audit, checklist, process_matches, summary, worst
from portreg.health import HealthResult
from portreg.host import Listener
from portreg.host.kernel import KernelPorts
from portreg.model import Policy, Registry, Service

TODAY = date(2026, 2, 1)


def reg(*services: Service, last_audit: date | None = TODAY, **policy: object) -> Registry:
    return Registry(
        policy=Policy(last_audit=last_audit, **policy),  # type: ignore[arg-type]
        services={s.id: s for s in services},
    )


def svc(sid: str, port: int | None, env: str = "development", **kw: object) -> Service:
    return Service(id=sid, name=sid, ports={env: port}, **kw)  # type: ignore[arg-type]


def lst(
    port: int,
    process: str | None = "python3",
    cmdline: str | None = None,
    pid: int | None = 4242,
    namespace: str | None = None,
    protocol: str = "tcp",
) -> Listener:
    command = cmdline if cmdline is not None else process
    return Listener(port, protocol, "127.0.0.1", "ipv4", 1, pid, process, command, "dev", namespace)


def found(findings: list, code: str) -> list:  # type: ignore[type-arg]
    return [f for f in findings if f.code == code]


def test_clean_registry_has_no_findings() -> None:
    r = reg(svc("api-server", 54000, protocol="http", process="Uvicorn ASGI server"))
    holders = [lst(54000, "uvicorn", "/venv/bin/python -m uvicorn app:app --port 54000")]
    assert audit(r, holders, TODAY, [], KernelPorts((32768, 60999), frozenset({54000}))) == []


def test_not_listening_only_for_active_services_in_live_environments() -> None:
    r = reg(
        svc("api", 54000),
        svc("stage-api", 54010, env="staging"),
        svc("old", 54020, status="deprecated"),
        svc("tbd", None),
    )
    fs = audit(r, [], TODAY)
    assert [(f.code, f.service, f.port) for f in found(fs, "not-listening")] == [
        ("not-listening", "api", 54000)
    ]
    assert found(fs, "not-listening")[0].severity == "warning"
    # Other environments can be declared live (a staging host runs the audit).
    fs = audit(r, [], TODAY, live_environments=("staging",))
    assert [f.service for f in found(fs, "not-listening")] == ["stage-api"]


def test_listener_in_another_namespace_does_not_hold_the_hosts_port() -> None:
    r = reg(svc("api", 54000))
    fs = audit(r, [lst(54000, namespace="ctr1"), lst(54005, namespace="ctr1")], TODAY)
    assert found(fs, "not-listening")
    assert not found(fs, "undocumented-listener")


def test_transport_must_match() -> None:
    r = reg(svc("dns", 54053, transport="udp"))
    assert found(audit(r, [lst(54053, protocol="tcp")], TODAY), "not-listening")
    assert not found(audit(r, [lst(54053, protocol="udp")], TODAY), "not-listening")


def test_undocumented_listener_in_range_only_and_one_finding_per_port() -> None:
    r = reg(svc("api", 54000))
    holders = [
        lst(54000),
        lst(54007, "nc"),
        Listener(54007, "tcp", "::1", "ipv6", 2, 4243, "nc", "nc -l 54007", "dev"),
        lst(8080, "nginx"),  # outside the range: not the registry's business
    ]
    fs = found(audit(r, holders, TODAY), "undocumented-listener")
    assert [(f.port, f.service, f.severity) for f in fs] == [(54007, None, "warning")]
    assert "127.0.0.1" in fs[0].message and "::1" in fs[0].message and "nc" in fs[0].message


@pytest.mark.parametrize(
    ("registered", "name", "cmdline", "expected"),
    [
        ("Uvicorn ASGI server", "uvicorn", "/venv/bin/python /venv/bin/uvicorn app:app", True),
        ("Uvicorn ASGI server", "python3", "python3 -m uvicorn app:app --port 54000", True),
        ("Uvicorn ASGI server", "gunicorn", "gunicorn -k uvicorn.workers.UvicornWorker", True),
        ("Uvicorn ASGI server", "node", "node server.js", False),
        ("postgres", "postgres", "/usr/lib/postgresql/15/bin/postgres -D /var/lib/pg", True),
        ("PostgreSQL 15", "postgres", "postgres: checkpointer", True),
        ("redis-server", "redis-server", "/usr/bin/redis-server 127.0.0.1:6379", True),
        ("Redis", "redis-server", "redis-server *:6379", True),
        ("redis-server", "postgres", "/usr/lib/postgresql/15/bin/postgres -D x", False),
        ("postgres", "docker-proxy", "/usr/bin/docker-proxy -proto tcp -host-port 54432", True),
        ("postgres", None, None, None),  # owner not visible: no judgement
        ("", "anything", "anything", None),  # nothing registered: no judgement
    ],
)
def test_process_matching_rule(
    registered: str, name: str | None, cmdline: str | None, expected: bool | None
) -> None:
    assert process_matches(registered, name, cmdline) is expected


def test_unexpected_process_is_an_error_and_unknown_owner_is_not() -> None:
    r = reg(svc("postgresql", 54432, process="redis-server"))
    fs = audit(r, [lst(54432, "postgres", "/usr/lib/postgresql/bin/postgres")], TODAY)
    (f,) = found(fs, "unexpected-process")
    assert (f.severity, f.service, f.port) == ("error", "postgresql", 54432)
    assert "postgres" in f.message and "redis-server" in f.message
    assert not found(audit(r, [lst(54432, None, None, pid=None)], TODAY), "unexpected-process")


def test_health_failures_locked_and_suppressed_no_response() -> None:
    r = reg(svc("api", 54000), svc("cache", 54379), svc("db", 54432), svc("gone", 54001))
    holders = [lst(54000), lst(54379), lst(54432)]
    results = [
        HealthResult("api", "development", 54000, "http", "unhealthy", "HTTP 500", 3.0),
        HealthResult("cache", "development", 54379, "redis", "locked", "NOAUTH", 1.0),
        HealthResult("db", "development", 54432, "postgres", "rejecting", "starting up", 1.0),
        HealthResult("gone", "development", 54001, "tcp", "no-response", "refused", 1.0),
    ]
    fs = audit(r, holders, TODAY, results)
    failed = {f.service: f.severity for f in found(fs, "health-failed")}
    assert failed == {"api": "error", "db": "warning"}  # "gone" is reported as not-listening
    assert [f.service for f in found(fs, "not-listening")] == ["gone"]
    assert [(f.service, f.severity) for f in found(fs, "health-locked")] == [("cache", "info")]
    assert fs[0].severity == "error"  # most severe first
    assert worst(fs) == "error"


def test_policy_findings_forced_is_info() -> None:
    r = reg(
        svc("postgresql", 5432, forced=True),
        svc("web", 8080),
        svc("odd", 40000),
    )
    holders = [lst(5432, "postgres"), lst(8080), lst(40000)]
    fs = audit(r, holders, TODAY)
    got = {(f.code, f.service, f.severity) for f in fs}
    assert got == {
        ("avoided-port", "postgresql", "info"),
        ("out-of-range", "postgresql", "info"),
        ("avoided-port", "web", "warning"),
        ("out-of-range", "web", "warning"),
        ("out-of-range", "odd", "warning"),
    }


def test_duplicate_port_two_services_error_one_service_two_envs_warning() -> None:
    r = reg(
        svc("a", 54000),
        svc("b", 54000, env="staging"),
        Service("c", "c", {"development": 54100, "production": 54100}),
        svc("dns-tcp", 54200),
        svc("dns-udp", 54200, transport="udp"),  # tcp and udp on one number: no conflict
    )
    fs = found(audit(r, [lst(54000), lst(54100), lst(54200), lst(54200, protocol="udp")],
                     TODAY), "duplicate-port")  # fmt: skip
    assert [(f.port, f.severity, f.service) for f in fs] == [
        (54000, "error", None),
        (54100, "warning", "c"),
    ]
    assert "a (development)" in fs[0].message and "b (staging)" in fs[0].message


def test_reserved_port_in_use() -> None:
    r = reg(svc("sse-worker", 54001, status="planned"), svc("monitoring", 54002,
                                                              status="reserved"))  # fmt: skip
    fs = audit(r, [lst(54001, "nc")], TODAY)
    assert [(f.code, f.service, f.port) for f in fs] == [
        ("reserved-port-in-use", "sse-worker", 54001)
    ]  # a reserved port nobody uses is fine, and is never "not listening"


@pytest.mark.parametrize(
    ("last", "overdue"),
    [(None, True), (date(2026, 1, 2), False), (date(2026, 1, 1), True), (TODAY, False)],
)
def test_audit_overdue(last: date | None, overdue: bool) -> None:
    fs = found(audit(reg(last_audit=last), [], TODAY), "audit-overdue")
    assert bool(fs) is overdue
    if last is None:
        assert "never" in fs[0].message


def test_ephemeral_overlap_names_the_ports_at_risk() -> None:
    r = reg(svc("api", 54000), svc("sse", 54001, status="planned"), svc("x", 54002),
            svc("low", 30000), range_start=30000)  # fmt: skip
    kernel = KernelPorts((32768, 60999), frozenset({54002}))
    (f,) = found(audit(r, [lst(54000), lst(54002), lst(30000)], TODAY, None, kernel),
                 "ephemeral-overlap")  # fmt: skip
    assert "54000-54001" in f.message and "54002" not in f.message and "30000" not in f.message
    assert "protect" in f.hint
    protected = KernelPorts((32768, 60999), frozenset({54000, 54001, 54002}))
    assert not found(audit(r, [], TODAY, None, protected), "ephemeral-overlap")


def test_checklist_and_summary() -> None:
    r = reg(svc("api", 54000), svc("pg", 5432, forced=True), last_audit=None)
    fs = audit(r, [lst(54009)], TODAY)
    ticks = {line: ok for ok, line, _ in checklist(fs)}
    assert ticks == {
        "Verify all documented ports are in use": False,
        "Check for undocumented services on high ports": False,
        "Verify port ranges don't conflict with new services": True,  # forced = info only
        "Update reserved ports list if needed": True,
    }
    s = summary(fs)
    assert (s["errors"], s["warnings"], s["info"]) == (0, 4, 2)  # 2 not-listening
    assert s["by_code"]["audit-overdue"] == 1
    assert s["total"] == len(fs)
