"""The outermost layer: security headers for the page, compression, caching of static files.

It sits outside `fastpath.FastReads` (which answers some GETs itself), so every answer passes
through it. An API request whose client does not accept gzip (scripts, wrk, the CLI's client)
is handed on untouched, at the cost of one header scan: the API's hot paths keep their speed.

- HTML gets a Content-Security-Policy with no inline script or style (`script-src 'self'`),
  `frame-ancestors 'none'`, a same-origin referrer policy; every answer gets `nosniff`.
- `/static/…?v=…` (the page always links them with the assets' version) is immutable for a
  year; the same file without `v` must be revalidated.
- gzip (Starlette's) for anything over 500 bytes but the event stream, which Starlette
  leaves alone so that each change is sent as it happens.
"""

from __future__ import annotations

from typing import Any

from portreg.server.metrics import ASGIApp, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
IMMUTABLE = b"public, max-age=31536000, immutable"
_PAGE_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_NOSNIFF = (b"x-content-type-options", b"nosniff")


class Edge:
    def __init__(self, app: ASGIApp) -> None:
        from starlette.middleware.gzip import GZipMiddleware

        self.app = app
        self.gzip = GZipMiddleware(self._headers, minimum_size=500, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/api/") and not _accepts_gzip(scope):
            await self.app(scope, receive, send)
            return
        await self.gzip(scope, receive, send)

    async def _headers(self, scope: Scope, receive: Receive, send: Send) -> None:
        static = scope["path"].startswith("/static/")
        versioned = static and b"v=" in scope.get("query_string", b"")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not (static and k.lower() == b"cache-control")
                ]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    headers.extend(_PAGE_HEADERS)
                headers.append(_NOSNIFF)
                if static and message.get("status") in (200, 304):
                    headers.append((b"cache-control", IMMUTABLE if versioned else b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return b"gzip" in value
    return False
