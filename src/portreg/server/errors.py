"""Exceptions to HTTP answers: one `{"detail": ...}` line each.

A `PortregError`'s status comes from its kind (`exc.http_status`), never from its wording;
an invalid request is 422 with a one-line detail; a database that cannot be reached is 503
with `Retry-After`; `HttpError` carries the auth refusals (401 with `WWW-Authenticate`, 403).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from portreg.errors import PortregError
from portreg.server.state import State

log = logging.getLogger("portreg.server")


class HttpError(Exception):
    """A refusal that is about the request, not the registry: a missing token, a scope."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def install(app: FastAPI, st: State) -> None:
    async def portreg_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PortregError)
        return JSONResponse({"detail": exc.message}, status_code=exc.http_status)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors()[:3]:
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else err.get("msg", ""))
        return JSONResponse({"detail": "invalid request: " + "; ".join(parts)}, status_code=422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HttpError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    async def db_down(request: Request, exc: Exception) -> JSONResponse:
        st.metrics.db_errors.inc()
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "database unavailable, try again shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    app.add_exception_handler(PortregError, portreg_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HttpError, http_error)
    for exc_type in st.db_errors:
        app.add_exception_handler(exc_type, db_down)
