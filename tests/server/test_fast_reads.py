"""GET /services/{id} answered from the worker's cache (portreg.server.fastpath): never stale
after a write the same worker acknowledged, fresh on other workers once the change notification
arrives, and no cheaper to get at without a token than the route itself. Plus the change
stream's `?access_token=` for browsers, and the PostgreSQL allocation hint (migration 0003)."""

from __future__ import annotations

import http.client as httpc
import json
import time
from typing import Any
from urllib.parse import urlparse

from tests.server.conftest import StartServer, http


class KeepAlive:
    """One HTTP/1.1 connection for several requests: with several workers it stays on one."""

    def __init__(self, url: str, token: str | None = None) -> None:
        u = urlparse(url)
        self.conn = httpc.HTTPConnection(u.hostname, u.port, timeout=30)
        self.prefix = u.path
        self.token = token

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body)
        self.conn.request(method, self.prefix + path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None

    def close(self) -> None:
        self.conn.close()


def _detail(api: str, sid: str) -> dict[str, Any]:
    status, body = http("GET", f"{api}/services/{sid}")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def test_a_cached_read_never_outlives_a_write_of_the_same_worker(
    start_server: StartServer,
) -> None:
    server = start_server()
    token = server.token()
    c = KeepAlive(server.api, token)
    try:
        assert c("POST", "/assignments", {"service": "billing"})[0] == 201
        first = c("GET", "/services/billing")[1]
        assert c("GET", "/services/billing")[1] == first  # now from the cache
        assert first["notes"] == "" and len(first["history"]) == 1

        assert c("PATCH", "/services/billing", {"notes": "invoices"})[0] == 200
        after_patch = c("GET", "/services/billing")[1]
        assert after_patch["notes"] == "invoices"
        assert [h["action"] for h in after_patch["history"]] == ["assign", "update"]

        port = after_patch["ports"]["development"]
        moved = c("POST", "/services/billing/move", {"port": port + 7, "reason": "clash"})
        assert moved[0] == 200, moved
        assert c("GET", "/services/billing")[1]["ports"] == {"development": port + 7}

        # A service that has never been read is not in the cache: same answers as before.
        assert c("GET", "/services/nope")[0] == 404
        assert c("DELETE", "/services/billing?reason=gone")[0] == 200
        assert c("GET", "/services/billing")[0] == 404
    finally:
        c.close()
    # The fast path still counts its answers in the metrics, under the route's name.
    metrics = http("GET", server.url + "/metrics")[1]
    assert 'route="/api/v1/services/{sid}",status="200"' in metrics


def test_other_workers_catch_up_through_the_change_notification(
    start_server: StartServer, pg_url: str, redis_env: dict[str, str]
) -> None:
    server = start_server(workers=2, env={"PORTREG_DATABASE_URL": pg_url, **redis_env})
    token = server.token()
    assert http("POST", server.api + "/assignments", {"service": "cache-me"}, token=token)[0] == 201
    # Fresh connections spread over both workers: each caches the body.
    for _ in range(20):
        assert _detail(server.api, "cache-me")["notes"] == ""
    writer = KeepAlive(server.api, token)
    try:
        assert writer("PATCH", "/services/cache-me", {"notes": "v2"})[0] == 200
        # Read-your-writes on the connection (the worker) that acknowledged the write.
        assert writer("GET", "/services/cache-me")[1]["notes"] == "v2"
    finally:
        writer.close()
    # Every worker converges once Redis has delivered the event; bounded wait, no timing asserted.
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = [_detail(server.api, "cache-me")["notes"] for _ in range(20)]
        if set(seen) == {"v2"}:
            break
        time.sleep(0.1)
    assert set(seen) == {"v2"}, seen


def test_a_cached_body_is_no_reason_to_skip_the_token_check(start_server: StartServer) -> None:
    server = start_server(env={"PORTREG_READ_AUTH": "token"})
    write, read = server.token("write"), server.token("read")
    assert http("POST", server.api + "/assignments", {"service": "secret"}, token=write)[0] == 201
    url = server.api + "/services/secret"
    for _ in range(3):  # cached after the first
        assert http("GET", url, token=read)[0] == 200
    assert http("GET", url)[0] == 401
    assert http("GET", url, token="prt_not-a-token")[0] == 401
    assert http("GET", url, headers={"Authorization": "Basic abc"})[0] == 401
    assert http("GET", url, headers={"Authorization": f"Bearer {read}"})[0] == 200


def _open_stream(url: str) -> httpc.HTTPResponse:
    u = urlparse(url)
    conn = httpc.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("GET", u.path + ("?" + u.query if u.query else ""))
    return conn.getresponse()


def test_the_change_stream_takes_the_token_as_a_query_parameter(
    start_server: StartServer,
) -> None:
    server = start_server(env={"PORTREG_READ_AUTH": "token"})
    write, read = server.token("write"), server.token("read")
    events = server.api + "/events"
    assert http("GET", events, timeout=10)[0] == 401
    assert http("GET", events + "?access_token=prt_wrong", timeout=10)[0] == 401
    # Only the stream takes it: elsewhere a query token is no token.
    assert http("GET", server.api + "/services?access_token=" + read)[0] == 401

    resp = _open_stream(events + "?access_token=" + read)
    try:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        while not resp.readline().startswith(b"retry:"):
            pass
        status, body = http("POST", server.api + "/assignments", {"service": "s1"}, token=write)
        assert status == 201
        lines: list[bytes] = []
        while not lines or not lines[-1].startswith(b"data: "):
            lines.append(resp.readline())
        assert json.loads(lines[-1][6:])["new"] == body["port"]
    finally:
        resp.close()
    log = server.log.read_text()
    assert read not in log and write not in log


def test_postgres_allocation_reuses_the_lowest_freed_port_and_follows_the_policy(
    start_server: StartServer, pg_url: str
) -> None:
    server = start_server(env={"PORTREG_DATABASE_URL": pg_url})
    token = server.token()

    def assign(name: str) -> int:
        status, body = http("POST", server.api + "/assignments", {"service": name}, token=token)
        assert status == 201, body
        return int(body["port"])

    a, b, c = assign("a"), assign("b"), assign("c")
    assert b == a + 1 and c == b + 1
    # Releasing b frees a port below the allocator's hint: the next assignment takes it.
    assert http("DELETE", server.api + "/services/b?reason=x", token=token)[0] == 200
    assert assign("d") == b
    assert assign("e") == c + 1
    # A moved-away port is free again too.
    moved = http(
        "POST", server.api + "/services/a/move", {"port": 54990, "reason": "x"}, token=token
    )
    assert moved[0] == 200, moved
    assert assign("f") == a
    # An existing service in a new environment (the second call of portreg_assign).
    status, body = http(
        "POST",
        server.api + "/assignments",
        {"service": "d", "environment": "staging"},
        token=token,
    )
    assert status == 201 and body["port"] == c + 2
    detail = http("GET", server.api + "/services/d")[1]
    assert detail["ports"] == {"development": b, "staging": c + 2}
    # A new policy range voids the hint.
    doc = '[registry]\nproject = "p"\n\n[policy]\nrange = [40000, 40010]\n'
    assert http("POST", server.api + "/import", text=doc, token=token)[0] == 200
    assert assign("g") == 40000
