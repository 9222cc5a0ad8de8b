"""The hot read, `GET /api/v1/services/{id}`, answered from this worker's cache in plain ASGI.

The FastAPI route (`routes.services.get_service`) stays the definition of the endpoint (OpenAPI,
validation, errors, the first read of a service): `queries.service_body` builds the body — the
service and its history — once, pre-serialised to bytes, and stores it in `ReadCache.details`.
This middleware sits in front of the router and, when the body is cached and the caller may
read, sends those bytes itself: no routing, no dependency solving, no SQL session, no pydantic.
Anything else — a miss, an unknown service, a token this worker has not checked yet, a malformed
header — falls through to the route, which answers exactly as before.

Consistency (why a cached body is never wrong for long):

- *Same worker*: every write ends by invalidating the cache before its response is sent — the
  broker delivers the write's events locally (`Broker.publish` → `ReadCache.invalidate`), and
  `commit.write` also drops the cache after any committed write transaction, events or not. A
  body computed by a read that overlapped a write is not stored (the cache's epoch moved). So a
  read that starts after a write was acknowledged by this worker always sees that write.
- *Other workers* learn of a write through the change-notification mechanism that already
  feeds the SSE stream: Redis pub/sub (one network hop after the commit) and, when Redis is
  down or absent, the broker's poll of the events table every PORTREG_POLL_SECONDS (five times
  slower while Redis is healthy, as a safety net only). That bounds cross-worker staleness; a
  client that needs read-your-writes across workers keeps its connection (HTTP keep-alive
  pins it to one worker) or follows the change stream.
"""

from __future__ import annotations

import time
from typing import Any

from portreg.server.metrics import ASGIApp, Receive, Scope, Send
from portreg.server.state import ALL_SERVICES, State

PREFIX = "/api/v1/services/"
ROUTE = "/api/v1/services/{sid}"
ASSIGN = "/api/v1/assignments"
LIST = "/api/v1/services"
_JSON = (b"content-type", b"application/json")
MAX_ASSIGN_BODY = 64 * 1024  # an assignment request is a few hundred bytes


class FastReads:
    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.st = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(PREFIX)
            and not scope.get("root_path")
        ):
            sid = scope["path"][len(PREFIX) :]
            body = self.st.cache.details.get(sid) if sid and "/" not in sid else None
            await self._cached(scope, receive, send, body, ROUTE)
            return
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] == LIST
            and not scope.get("query_string")
            and not scope.get("root_path")
        ):
            await self._cached(scope, receive, send, self.st.cache.lists.get(ALL_SERVICES), LIST)
            return
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == ASSIGN
            and not scope.get("root_path")
        ):
            await self._assign(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _cached(
        self, scope: Scope, receive: Receive, send: Send, body: bytes | None, route: str
    ) -> None:
        """A cached body when there is one and the caller may read; else the route."""
        if body is not None and (self.st.settings.read_auth != "token" or self._may(scope)):
            start = time.perf_counter()
            headers = [_JSON, (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            self.st.metrics.observe("GET", route, 200, time.perf_counter() - start)
            return
        await self.app(scope, receive, send)

    async def _assign(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST /api/v1/assignments without routing or dependency solving: the same model
        validates the body, the same `commit.assign` writes, the same errors answer. A caller
        this worker cannot decide on at once (no cached token, a body the model refuses, a
        large body) goes to the FastAPI route with the body replayed, which answers as ever."""
        from pydantic import ValidationError

        from portreg.errors import PortregError
        from portreg.server import commit
        from portreg.server.auth import ANONYMOUS
        from portreg.server.responses import payload
        from portreg.server.schemas import AssignmentIn

        who = self._writer(scope)
        if who is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if size > MAX_ASSIGN_BODY:
                break
        body = b"".join(chunks)
        try:
            if more:
                raise ValueError("large body")
            request = AssignmentIn.model_validate_json(body)
        except (ValidationError, ValueError):
            await self.app(scope, _replay(body, more, receive), send)
            return
        start = time.perf_counter()
        try:
            out = await commit.assign(
                self.st,
                ANONYMOUS if who == "open" else who,
                request.service,
                request.environment,
                request.protocol,
                request.transport,
                request.reason,
                request.host,
            )
        except PortregError as exc:
            status, data = exc.http_status, payload({"detail": exc.message})
        except self.st.db_errors:
            self.st.metrics.db_errors.inc()
            status, data = 503, payload({"detail": "database unavailable, try again shortly"})
        else:
            status, data = (201 if out["created"] else 200), payload(out)
        headers = [_JSON, (b"content-length", b"%d" % len(data))]
        if status == 503:
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
        self.st.metrics.observe("POST", ASSIGN, status, time.perf_counter() - start)

    def _writer(self, scope: Scope) -> Any:
        """The principal of a write this worker can authorise at once; None: let the route."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return None
                who = self.st.tokens.cached(token.strip())
                return who if who is not None and who.can_write else None
        return "open" if self.st.settings.write_auth == "open" else None

    def _may(self, scope: Scope) -> bool:
        """A bearer token this worker already knows (no query); else the route decides."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return False
                who = self.st.tokens.cached(token.strip())
                return who is not None and who.can_read
        return False


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A `receive` that gives back what was read, then the rest of the stream."""
    sent = False

    async def again() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again
