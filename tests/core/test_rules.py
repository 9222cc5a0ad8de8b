"""The rulebook on plain values, in process: no file, no socket, no subprocess.

The command line's contract keeps its subprocess tests; these pin the rules themselves, which
every door (local store, server on SQLite, server on PostgreSQL) takes from the core.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from portreg import ops
from portreg.errors import ErrorKind, PortregError
from portreg.model import Policy, Registry, Service
from portreg.naming import new_id, usable
from portreg.policy import first_free, judge, next_audit, next_free
from portreg.protocols import canonical, health_kind, image_protocol, named_kind

STAMP = ops.Stamp(who="tester", at=datetime(2026, 12, 2, 9, 0, 0))
POLICY = Policy(range_start=100, range_end=110, avoid=(102,), step=1)


def reg(*services: Service, policy: Policy = POLICY) -> Registry:
    return Registry(policy=policy, services={s.id: s for s in services})


API = Service(id="api", name="API", ports={"development": 100, "staging": None})
DB = Service(id="db", name="DB", ports={"development": 101})
CACHE = Service(id="cache", name="Cache", ports={"development": 103}, status="reserved")


# --- picking --------------------------------------------------------------------------------


def test_first_free_skips_avoided_taken_and_live() -> None:
    assert first_free(POLICY, taken={100, 101}, live={103}) == 104
    assert first_free(POLICY, taken=set()) == 100
    assert first_free(Policy(100, 110, avoid=(), step=5), taken={100}) == 105


def test_a_full_range_is_a_conflict_never_an_overwrite() -> None:
    with pytest.raises(PortregError) as info:
        first_free(Policy(100, 101, avoid=()), taken={100, 101})
    assert info.value.kind is ErrorKind.CONFLICT
    assert info.value.message == (
        "no free port left in 100-101: every port is avoided, registered or in use"
    )


def test_next_free_counts_reserved_ports_as_taken() -> None:
    assert next_free(reg(API, DB, CACHE)) == 104  # 102 avoided, 103 reserved


# --- judging --------------------------------------------------------------------------------


def test_judge_names_every_broken_rule_with_a_code() -> None:
    verdict = judge(reg(API, DB), 102, live={102})
    assert [p.code for p in verdict.problems] == ["avoided", "live"]
    assert verdict.problems[0] == "port 102 is a standard port on the avoid list"
    outside = judge(reg(API), 200).problems
    assert [(p.code, p.kind) for p in outside] == [("out-of-range", ErrorKind.BAD_INPUT)]
    taken = judge(reg(API, DB), 101).problems
    assert [(p.code, p.kind) for p in taken] == [("registered", ErrorKind.CONFLICT)]
    assert judge(reg(API, DB), 101, owner="db").allowed  # its own port


# --- operations -----------------------------------------------------------------------------


def test_assign_is_sequential_and_idempotent() -> None:
    r, out = ops.assign(reg(API, DB, CACHE), "Worker", "development", STAMP)
    assert (out.service, out.port, out.changed) == ("worker", 104, True)
    again, same = ops.assign(r, "worker", "development", STAMP)
    assert (same.port, same.changed) == (104, False)
    assert again is r
    assert r.changes[-1].action == "assign" and r.changes[-1].new_port == 104


def test_move_refuses_what_any_door_refuses() -> None:
    r = reg(API, DB)
    cases = {
        (101, "development"): (ErrorKind.CONFLICT, "cannot move api to 101: port 101 is already "
                               "registered to db"),
        (102, "development"): (ErrorKind.BAD_INPUT, "cannot move api to 102: port 102 is a "
                               "standard port on the avoid list"),
        (105, "staging"): (ErrorKind.BAD_INPUT, "api has no port in staging; use `portreg "
                           "assign` or `portreg add` to give it one"),
    }  # fmt: skip
    for (port, env), (kind, message) in cases.items():
        with pytest.raises(PortregError) as info:
            ops.move(r, "api", port, env, STAMP, reason="r")
        assert (info.value.kind, info.value.message) == (kind, message)
    with pytest.raises(PortregError, match="in use on the host"):
        ops.move(r, "api", 105, "development", STAMP, reason="r", live={105})
    with pytest.raises(PortregError, match="needs a reason"):
        ops.move(r, "api", 105, "development", STAMP, reason=" ")


def test_move_of_a_range_checks_every_port_it_covers() -> None:
    with pytest.raises(PortregError, match=r"cannot move api to 103-105: 103: .*registered"):
        ops.move(reg(API, CACHE), "api", 103, "development", STAMP, reason="r", width=2)
    moved, out = ops.move(reg(API, CACHE), "api", 104, "development", STAMP, reason="r", width=2)
    assert out.changed and moved.services["api"].ports["development"] == 104


def test_move_to_the_same_port_changes_nothing() -> None:
    r = reg(API)
    same, out = ops.move(r, "api", 100, "development", STAMP, reason="r")
    assert same is r and not out.changed


def test_release_of_a_missing_port_is_an_error_and_unknown_services_are_not_found() -> None:
    with pytest.raises(PortregError, match="api has no port in staging; nothing to release"):
        ops.release(reg(API), "api", STAMP, environment="staging")
    with pytest.raises(PortregError) as info:
        ops.release(reg(API), "ghost", STAMP)
    assert info.value.kind is ErrorKind.NOT_FOUND
    freed, out = ops.release(reg(API), "api", STAMP, environment="development")
    assert out.changed and freed.services["api"].ports["development"] is None


def test_reserve_and_add_follow_the_same_rules() -> None:
    r, out = ops.reserve(reg(API, DB), "Planned", STAMP)
    assert (out.port, r.services["planned"].status) == (102 + 1, "reserved")
    with pytest.raises(PortregError) as info:
        ops.reserve(reg(API, DB), "api", STAMP)
    assert info.value.kind is ErrorKind.CONFLICT
    with pytest.raises(PortregError, match="pass --force"):
        ops.add(reg(API, DB), "x", 102, "development", STAMP)  # avoided: a known exception
    # --force records an exception to the policy, never a port a service already holds
    with pytest.raises(PortregError, match=r"already registered to db$") as twice:
        ops.add(reg(API, DB), "x", 101, "development", STAMP, force=True)
    assert twice.value.kind is ErrorKind.CONFLICT
    forced, _ = ops.add(reg(API, DB), "x", 5000, "development", STAMP, force=True)
    assert forced.services["x"].forced
    _, warned = ops.add(reg(API), "running", 105, "development", STAMP, live={105})
    assert warned.warnings == ("warning: port 105 is in use on the host",)


# --- names, dates, protocols ----------------------------------------------------------------


def test_names() -> None:
    assert new_id("API Server") == "api-server"
    for bad, why in (("a\nb", "control character"), ("!!!", "letter or digit"), ("x" * 101, "100")):
        with pytest.raises(PortregError, match=why):
            new_id(bad)
    assert usable("Köln") == "Köln"


def test_next_audit_is_a_count_of_days() -> None:
    assert next_audit(Policy(last_audit=date(2026, 1, 31), audit_interval_days=30)) == date(
        2026, 3, 2
    )
    assert next_audit(Policy(last_audit=date(2026, 1, 10))) == date(2026, 2, 9)
    assert next_audit(Policy()) is None  # never audited: due now


def test_one_protocol_table() -> None:
    assert canonical("PG") == canonical("postgresql") == canonical("db") == "postgres"
    assert canonical("mq") == canonical("rabbitmq") == "amqp"
    assert named_kind("pg") == ("PostgreSQL", "postgres")
    assert named_kind("nginx") is None  # names a protocol, not a kind of service
    assert image_protocol("bitnami/postgresql:16") == "postgres"
    assert image_protocol("ghcr.io/acme/db:1") is None  # someone's own image
    assert [health_kind(p) for p in ("https", "pg", "redis", "amqp")] == [
        "http", "postgres", "redis", "tcp",
    ]  # fmt: skip
