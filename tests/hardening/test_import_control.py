"""A control character inside a ports.toml is refused by the reader whichever path a service
takes through it (the plain-service fast path skipped the check: an imported NUL reached
PostgreSQL and was answered 503 "database unavailable" instead of 400)."""

from __future__ import annotations

import pytest

from portreg import store
from portreg.errors import PortregError
from tests.hardening.test_server_input import still_answers
from tests.server.conftest import Server, http

PLAIN = '[services.svc]\n{field} = "{value}"\nports = {{development = 53500}}\n'
BAD = [
    ("name", "a\\u0000b"),
    ("notes", "n\\u0000"),
    ("description", "esc\\u001b[31m"),
    ("protocol", "http\\u0007"),
]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_the_reader_refuses_a_control_character_in_a_plain_service(field: str, value: str) -> None:
    with pytest.raises(PortregError, match=f"services.svc.{field}: has a control character"):
        store.loads(PLAIN.format(field=field, value=value), source="t")


def test_line_breaks_and_tabs_in_a_plain_service_stay() -> None:
    doc = PLAIN.format(field="description", value="two\\nlines\\tand a tab")
    assert store.loads(doc, source="t").services["svc"].description == "two\nlines\tand a tab"


def test_an_imported_nul_is_400_on_every_database(server: Server) -> None:
    token = server.token()
    for field, value in BAD[:2]:
        doc = PLAIN.format(field=field, value=value)
        status, body = http("POST", server.api + "/import", text=doc, token=token)
        assert status == 400, (field, status, body)
        assert "control character" in str(body), body
    still_answers(server)
