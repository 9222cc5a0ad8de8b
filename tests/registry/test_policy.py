"""The seed's rules as pure functions: no files, no sockets."""

from __future__ import annotations

import pytest

from portreg.errors import PortregError
from portreg.model import Policy, Registry, Service, service_id
from portreg.policy import judge, next_free, parse_port, parse_range


def reg(*services: Service, policy: Policy | None = None) -> Registry:
    return Registry(policy=policy or Policy(), services={s.id: s for s in services})


def test_service_id_rule_of_design() -> None:
    assert service_id("API Server") == "api-server"
    assert service_id("PostgreSQL") == "postgresql"
    assert service_id("  SSE -- Worker (v2) ") == "sse-worker-v2"
    assert service_id("!!!") == ""


def test_sequential_from_range_start() -> None:
    assert next_free(reg()) == 53000
    taken = Service("a", "a", {"development": 53000})
    assert next_free(reg(taken)) == 53001


def test_skips_avoided_registered_reserved_and_live() -> None:
    policy = Policy(range_start=7999, range_end=8010)
    services = (
        Service("a", "a", {"development": 7999}),
        Service("r", "r", {"development": 8001}, status="reserved"),
        Service("s", "s", {"staging": 8002}),
    )
    # 8000 is on the avoid list; 8003 is live on the host.
    assert next_free(reg(*services, policy=policy), live={8003}) == 8004


def test_registered_in_any_environment_counts_and_tbd_does_not() -> None:
    s = Service("a", "a", {"development": None, "production": 53000})
    assert next_free(reg(s)) == 53001


def test_step_is_honoured() -> None:
    policy = Policy(range_start=53000, range_end=53100, step=10)
    s = Service("a", "a", {"development": 53000})
    assert next_free(reg(s, policy=policy)) == 53010


def test_full_range_is_an_error() -> None:
    policy = Policy(range_start=53000, range_end=53001)
    services = (Service("a", "a", {"development": 53000}),)
    with pytest.raises(PortregError, match="no free port left in 53000-53001"):
        next_free(reg(*services, policy=policy), live={53001})


def test_judge_names_every_broken_rule() -> None:
    r = reg(Service("pg", "pg", {"development": 5432}))
    problems = judge(r, 5432, live={5432}, owner="other").problems
    assert len(problems) == 4
    assert any("avoid list" in p for p in problems)
    assert any("outside the range" in p for p in problems)
    assert any("registered to pg" in p for p in problems)
    assert any("in use" in p for p in problems)
    assert judge(r, 53000).allowed
    assert judge(r, 5432, owner="pg").problems == (
        "port 5432 is a standard port on the avoid list",
        "port 5432 is outside the range 53000-54999",
    )


@pytest.mark.parametrize("text", ["0", "65536", "abc", "-1", "", "1.5", " "])
def test_bad_ports(text: str) -> None:
    with pytest.raises(PortregError):
        parse_port(text)


def test_ranges() -> None:
    assert parse_range("1-65535") == (1, 65535)
    for bad in ("5-4", "a-b", "53000", "0-10", "10-70000"):
        with pytest.raises(PortregError):
            parse_range(bad)
