"""How the API writes its answers: JSON bodies serialised by hand (fast) and the error shape."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response
from pydantic import BaseModel


class ErrorBody(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Bad input"),
        (401, "No or invalid token"),
        (403, "Token lacks the scope"),
        (404, "Not found"),
        (409, "Conflicts with the registry"),
        (422, "Invalid request"),
        (503, "Database unavailable"),
    )
}


def payload(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON answer without pydantic on the way out: the route declares its schema instead."""
    return Response(payload(value), status_code=status, media_type="application/json")
