"""Stream tickets: how a browser authenticates the change stream without a token in its URL.

An EventSource cannot send an `Authorization` header, and a query string reaches access logs,
proxies and browser history. So the page asks `POST /api/v1/stream-tickets` (with its token in
the header) for a ticket, and opens `/api/v1/events?ticket=…`. A ticket is good for TTL
seconds, names no token, and is checked by any worker: it is signed (HMAC-SHA256) with a secret
kept in the database's meta table. An expired ticket is 401, and the page fetches a new one
when it reconnects.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

TTL = 60


def issue(secret: bytes, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + TTL)
    body = f"{expires}.{secrets.token_urlsafe(9)}"
    return f"{body}.{_sign(secret, body)}"


def valid(secret: bytes, ticket: str, now: float | None = None) -> bool:
    body, _, sig = ticket.rpartition(".")
    expires, _, _nonce = body.partition(".")
    if not secret or not expires.isdigit() or len(expires) > 12:
        return False
    if not hmac.compare_digest(sig, _sign(secret, body)):
        return False
    return int(expires) >= (time.time() if now is None else now)


def _sign(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]
