"""Bearer tokens: created by `portreg token create`, stored as sha256 hashes, never logged.

A token is `prt_` + 32 random bytes (urlsafe base64). The database keeps only its sha256,
its scope (`read`, `write`, or `agent`: reports a host's listeners and nothing else) and a name
for the change log.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from portreg.server.db import tokens

SCOPES = ("read", "write", "agent")
CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Principal:
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


async def create_token(engine: AsyncEngine, scope: str, name: str) -> str:
    from portreg.server.codec import utcnow

    if scope not in SCOPES:
        raise ValueError(scope)
    token = new_token()
    async with engine.begin() as conn:
        await conn.execute(
            insert(tokens).values(
                name=name or f"{scope}-token",
                scope=scope,
                hash=hash_token(token),
                created_at=utcnow(),
            )
        )
    return token


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
        async with self.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(tokens.c.name, tokens.c.scope).where(tokens.c.hash == digest)
                )
            ).first()
        if found is None:
            return None
        principal = Principal(found.name, found.scope)
        self._known[digest] = (now, principal)
        return principal
