"""The Python API reads a server's registry when PORTREG_REGISTRY is its URL."""

from __future__ import annotations

import pytest

from portreg import api
from portreg.errors import PortregError
from tests.server.conftest import StartServer, http


def test_port_for_against_a_server(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(env={"PORTREG_READ_AUTH": "token"})
    token = server.token("write")
    status, body = http("POST", server.api + "/assignments", {"service": "billing"}, token=token)
    assert status == 201, body
    monkeypatch.setenv("PORTREG_REGISTRY", server.url)
    monkeypatch.delenv("PORTREG_TOKEN", raising=False)
    with pytest.raises(PortregError, match="401"):
        api.port_for("billing", environ={})  # reads need a token on this server
    monkeypatch.setenv("PORTREG_TOKEN", server.token("read"))
    assert api.port_for("billing", environ={}) == body["port"]
    assert api.load_registry(server.url + "/api/v1").services["billing"].ports == {
        "development": body["port"]
    }
