"""POST /api/v1/assignments answered by the plain-ASGI fast path once the worker knows the
token: the same answers, statuses and errors as the FastAPI route, and every odd request falls
through to the route with its body intact."""

from __future__ import annotations

from tests.server.conftest import StartServer, http


def test_fast_path_answers_as_the_route(start_server: StartServer) -> None:
    server = start_server()
    token, url = server.token("write"), server.api + "/assignments"
    # the first use of a token goes through the route (which caches it), the rest take the
    # fast path: both answer alike
    first = http("POST", url, {"service": "alpha"}, token=token)
    second = http("POST", url, {"service": "beta"}, token=token)
    again = http("POST", url, {"service": "beta"}, token=token)
    assert first[0] == second[0] == 201 and again[0] == 200
    assert set(first[1]) == set(second[1]) == {"service", "environment", "port", "created"}
    assert second[1]["port"] == first[1]["port"] + 1 == again[1]["port"]
    assert again[1]["created"] is False
    # a refusal by the core: its kind's status and its message
    assert http("POST", url, {"service": "!!!"}, token=token) == (
        400, {"detail": "not a usable service name: '!!!' (it needs a letter or digit)"}
    )  # fmt: skip
    # a body the model refuses is replayed to the route: the route's 422
    status, body = http("POST", url, {"service": 5}, token=token)
    assert status == 422 and body["detail"].startswith("invalid request")
    status, body = http("POST", url, text="not json", token=token)
    assert status == 422
    # no token, a read token: the route decides (401, 403)
    assert http("POST", url, {"service": "gamma"})[0] == 401
    reader = server.token("read")
    assert http("POST", url, {"service": "gamma"}, token=reader)[0] == 403
    assert http("POST", url, {"service": "gamma"}, token=reader)[0] == 403  # cached: still no
    status, listed = http("GET", server.api + "/services")
    assert sorted(r["service"] for r in listed) == ["alpha", "beta"]
