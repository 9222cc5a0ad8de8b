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

from portreg.server.metrics import ASGIApp, Receive, Scope, Send
from portreg.server.state import State

PREFIX = "/api/v1/services/"
ROUTE = "/api/v1/services/{sid}"
_JSON = (b"content-type", b"application/json")


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
            if body is not None and (self.st.settings.read_auth != "token" or self._may(scope)):
                start = time.perf_counter()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [_JSON, (b"content-length", b"%d" % len(body))],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                self.st.metrics.observe("GET", ROUTE, 200, time.perf_counter() - start)
                return
        await self.app(scope, receive, send)

    def _may(self, scope: Scope) -> bool:
        """A bearer token this worker already knows (no query); else the route decides."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return False
                return self.st.tokens.cached(token.strip()) is not None
        return False
