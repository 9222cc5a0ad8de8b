"""PostgreSQL change-stream payloads: the event id and the port land in their own fields, and
digits that look like the function's markers elsewhere stay as they were."""

from __future__ import annotations

import json

from tests.server.conftest import StartServer, http, pg_query


def test_marker_digits_in_a_name_survive(start_server: StartServer, pg_url: str) -> None:
    server = start_server(env={"PORTREG_DATABASE_URL": pg_url})
    token = server.token()
    name = "svc-987654320-987654321"
    status, body = http("POST", server.api + "/assignments", {"service": name}, token=token)
    assert status == 201, body
    (event,) = [
        r for r in pg_query(pg_url, "SELECT id, payload FROM events") if name in r["payload"]
    ]
    payload = json.loads(event["payload"])
    assert payload["id"] == event["id"]
    assert payload["service"] == name and payload["row"]["name"] == name
    assert payload["new"] == body["port"] == payload["row"]["port"]
