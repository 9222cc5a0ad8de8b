"""Bearer tokens: created by `portreg token create`, stored as sha256 hashes, never logged.

A token is `prt_` + 32 random bytes (urlsafe base64). The database keeps only its sha256,
its scope (`read`, `write`, or `agent`: reports a host's listeners and nothing else), a name
for the change log and an optional expiry. Revoking deletes the row; every worker re-checks a
token it knows at least every CACHE_SECONDS, so a revoked or expired token is refused
everywhere within a second.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from portreg.server.db import tokens

SCOPES = ("read", "write", "agent")
# Short on purpose: one indexed query per token per worker twice a second costs nothing, and it
# bounds how long a revoked token keeps working on a worker that checked it (was 30 s).
CACHE_SECONDS = 0.5
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is from: the token's name and what it may do."""

    name: str
    scope: str  # read | write | anonymous

    @property
    def can_write(self) -> bool:
        return self.scope == "write"

    @property
    def can_report(self) -> bool:
        """May send a host's listeners: an agent token, or a write token."""
        return self.scope in ("write", "agent")

    @property
    def can_read(self) -> bool:
        return self.scope != "agent"


ANONYMOUS = Principal("anonymous", "anonymous")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "prt_" + secrets.token_urlsafe(32)


def clean_name(name: str) -> str:
    """A token's label without control characters (it reaches logs, terminals and the change
    log's `who`), at most MAX_NAME characters."""
    return "".join(c for c in name if c.isprintable())[:MAX_NAME].strip()


async def create_token(
    engine: AsyncEngine, scope: str, name: str, expires_at: datetime | None = None
) -> str:
    from portreg.server.codec import utcnow

    if scope not in SCOPES:
        raise ValueError(scope)
    token = new_token()
    async with engine.begin() as conn:
        await conn.execute(
            insert(tokens).values(
                name=clean_name(name) or f"{scope}-token",
                scope=scope,
                hash=hash_token(token),
                created_at=utcnow(),
                expires_at=expires_at,
            )
        )
    return token


async def list_tokens(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every token's id, name, scope, creation and expiry (never the token or its hash)."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    tokens.c.id,
                    tokens.c.name,
                    tokens.c.scope,
                    tokens.c.created_at,
                    tokens.c.expires_at,
                ).order_by(tokens.c.id)
            )
        ).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "scope": r.scope,
            "created_at": r.created_at.isoformat(),
            "expires_at": None if r.expires_at is None else r.expires_at.isoformat(),
        }
        for r in rows
    ]


async def revoke_token(engine: AsyncEngine, token_or_id: str) -> int:
    """Delete a token named by itself (`prt_…`) or by its id; how many rows went (0 or 1)."""
    if token_or_id.startswith("prt_"):
        where = tokens.c.hash == hash_token(token_or_id)
    elif token_or_id.isdigit():
        where = tokens.c.id == int(token_or_id)
    else:
        return 0
    async with engine.begin() as conn:
        done = await conn.execute(delete(tokens).where(where))
    return int(done.rowcount or 0)


class TokenCache:
    """Known tokens per worker for a short while, so a read-heavy client costs no query."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._known: dict[str, tuple[float, Principal]] = {}

    def cached(self, token: str) -> Principal | None:
        """The token's principal if this worker checked it within CACHE_SECONDS (no query)."""
        hit = self._known.get(hash_token(token))
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        return None

    async def lookup(self, token: str) -> Principal | None:
        digest = hash_token(token)
        hit = self._known.get(digest)
        now = time.monotonic()
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        from portreg.server.codec import utcnow

        async with self.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(tokens.c.name, tokens.c.scope).where(
                        tokens.c.hash == digest,
                        or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > utcnow()),
                    )
                )
            ).first()
        if found is None:
            self._known.pop(digest, None)
            return None
        principal = Principal(found.name, found.scope)
        self._known[digest] = (now, principal)
        return principal
