"""The door in front of everything (outside the fast path): what is refused before any work.

In this order, each answered with one `{"detail": ...}` and without reading the body:

- a NUL byte in the path or query (PostgreSQL refuses NUL in text, SQLite would store it: bad
  input on every database, 422, never a "database unavailable");
- in open write mode (`PORTREG_WRITE_AUTH=open`), a write whose `Host` is not a trusted host, or
  that a browser sends from another origin (`Origin`, `Sec-Fetch-Site: cross-site`): 403. A web
  page can POST `text/plain` anywhere without a CORS preflight, and DNS rebinding gives an
  attacker's name to 127.0.0.1; with no token to steal, these headers are the only check;
- in token write mode, a write without a valid write token: 401 (403 for a read token);
- the docs and the OpenAPI document when they are not public (`PORTREG_PUBLIC_DOCS`; by
  default public exactly when reads are), the metrics when `PORTREG_PUBLIC_METRICS=false`
  (public by default: scrapers often cannot send a token): 401 without a read token;
- a body larger than `PORTREG_MAX_BODY`: 413, by its `Content-Length` or, for a chunked body,
  as soon as the bytes read pass the limit. The body is read here, at most that many bytes, and
  replayed to the app, so nothing behind this door holds more.

The routes keep their own checks (`deps`): this door only makes the refusals cheap and early.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from portreg.server.metrics import ASGIApp, Message, Receive, Scope, Send
from portreg.server.state import State

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# An agent's report: the one write an `agent` token may make.
_REPORT = re.compile(r"^/api/v1/hosts/[^/]+/listeners$")
TICKET = "/api/v1/stream-tickets"  # a read token asks for a stream ticket: not a write
DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
METRICS = "/metrics"


def trusted(host: str | None, allowed: frozenset[str]) -> bool:
    """Whether `host` (a hostname, without port) is one the server answers to."""
    if "*" in allowed:
        return True
    return host is not None and host.lower().rstrip(".") in allowed


def host_of(header: str) -> str | None:
    """The hostname of a `Host` header value (`[::1]:54000` → `::1`)."""
    try:
        return urlsplit("//" + header).hostname
    except ValueError:
        return None


class Guard:
    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.st = state
        settings = state.settings
        self.max_body = settings.max_body
        self.hosts = frozenset(
            h.strip().lower().strip("[]") for h in settings.trusted_hosts.split(",") if h.strip()
        )
        self.public_docs = (
            settings.public_docs
            if settings.public_docs is not None
            else settings.read_auth == "open"
        )
        self.public_metrics = settings.public_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        if scope["method"] in SAFE:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _answer(send, 413, f"request body larger than {self.max_body} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _answer(send, 413, f"request body larger than {self.max_body} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        if "\x00" in path or b"\x00" in query or b"%00" in query:
            return 422, "invalid request: a NUL character in the URL"
        if scope["method"] not in SAFE:
            if self.st.settings.write_auth == "open":
                return self._foreign(_headers(scope))
            if path == TICKET:
                return None  # the route wants a read token; nothing large to read
            report = scope["method"] == "PUT" and _REPORT.match(path) is not None
            return await self._token(_headers(scope), write=True, report=report)
        if (path in DOCS and not self.public_docs) or (path == METRICS and not self.public_metrics):
            return await self._token(_headers(scope), write=False)
        return None

    def _foreign(self, headers: dict[str, str]) -> tuple[int, str] | None:
        """Open write mode: refuse a write for another host or from another origin."""
        if not trusted(host_of(headers.get("host", "")), self.hosts):
            return 403, ("writes need a trusted Host (open write mode; see PORTREG_TRUSTED_HOSTS)")
        origin = headers.get("origin")
        if origin is not None:
            try:
                origin_host = urlsplit(origin).hostname if origin != "null" else None
            except ValueError:
                origin_host = None
            if not trusted(origin_host, self.hosts):
                return 403, f"cross-origin write refused (Origin {origin[:100]!r})"
        if headers.get("sec-fetch-site") == "cross-site":
            return 403, "cross-site write refused"
        return None

    async def _token(
        self, headers: dict[str, str], *, write: bool, report: bool = False
    ) -> tuple[int, str] | None:
        header = headers.get("authorization")
        if not header:
            if write:
                return 401, "writes need a write token (Authorization: Bearer <token>)"
            return 401, "reads need a token (Authorization: Bearer <token>)"
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, "invalid Authorization header (expected: Bearer <token>)"
        try:
            who = await self.st.tokens.lookup(token.strip())
        except self.st.db_errors:
            return None  # the route answers 503 as for any database failure
        if who is None:
            return 401, "invalid token"
        if report and who.scope == "agent":
            return None  # an agent token reports its host's listeners, and nothing else
        if write and not who.can_write:
            return 403, f"token {who.name!r} has scope {who.scope!r}; writes need scope 'write'"
        return None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"connection", b"close"),  # the unread body must not be taken for the next request
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the buffered body once, then waits on the connection."""
    sent = False

    async def again() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            message: Message = {"type": "http.request", "body": body, "more_body": False}
            return message
        return await receive()

    return again
