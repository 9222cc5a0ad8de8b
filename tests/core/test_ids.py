"""Ids keep letters of every script, and a name that only shares an id is refused, never given
another service's port."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings, strategies as st

from portreg import ops
from portreg.errors import ErrorKind, PortregError
from portreg.model import Registry, service_id

STAMP = ops.Stamp(who="t", at=datetime(2026, 12, 2))


def test_ids_keep_every_script() -> None:
    assert service_id("API Server") == "api-server"
    assert service_id("日本-api") != service_id("中国-api")
    assert service_id("Köln") == "köln"
    assert service_id("Сервис") == "сервис"  # Cyrillic kept, not dropped
    assert service_id("ＡＰＩ") == "api"  # NFKC: full-width letters are the same name


def test_two_scripts_are_two_services_with_two_ports() -> None:
    r, a = ops.assign(Registry(), "日本-api", "development", STAMP)
    r, b = ops.assign(r, "中国-api", "development", STAMP)
    assert a.service != b.service and a.port != b.port


def test_a_name_that_only_shares_the_id_is_refused() -> None:
    r, first = ops.assign(Registry(), "svc", "development", STAMP)
    with pytest.raises(PortregError) as info:
        ops.assign(r, "svc-😀", "development", STAMP)
    assert info.value.kind is ErrorKind.CONFLICT
    assert "would get the id 'svc'" in info.value.message
    # the same service spelled otherwise is still that service
    _, again = ops.assign(r, "SVC", "development", STAMP)
    assert (again.service, again.port, again.changed) == ("svc", first.port, False)
    with pytest.raises(PortregError, match="unknown service"):
        ops.release(r, "svc-😀", STAMP)


names = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(names, min_size=2, max_size=6, unique=True))
def test_different_names_never_share_a_port_silently(refs: list[str]) -> None:
    registry = Registry()
    given_to: dict[int, str] = {}
    for ref in refs:
        try:
            registry, out = ops.assign(registry, ref, "development", STAMP)
        except PortregError:
            continue  # refused with an error: never silently merged
        assert out.port is not None
        owner = registry.services[out.service]
        if out.port in given_to:
            # only the same service again (its id, or its name spelled otherwise)
            assert given_to[out.port] == owner.id
        given_to[out.port] = owner.id
    assert len(set(given_to)) == len(registry.services)
