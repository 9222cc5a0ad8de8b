"""`portreg token create|list|revoke`: the server's API tokens.

Tokens are stored (as their sha256) in the database the server uses: PORTREG_DATABASE_URL, or
SQLite in ./portreg.db like `portreg serve` started in the same directory. Migrations run first.
`create` prints the token alone; `list` never shows a token, only its id; `revoke` takes the
token or its id, and every worker refuses it within a second (`server.auth.CACHE_SECONDS`).
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from portreg.environment import Environment
from portreg.errors import NotFound, PortregError
from portreg.views import Simple

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

_DURATION = re.compile(r"^(\d{1,6})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def expiry(text: str, now: datetime) -> datetime:
    """`--expires`: a duration from `now` (90m, 12h, 30d) or a date/time (UTC), in the future."""
    found = _DURATION.match(text.strip())
    if found:
        when = now + timedelta(**{_UNITS[found[2]]: int(found[1])})
    else:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise PortregError(
                f"--expires {text!r}: expected a duration (90m, 12h, 30d) or a date (2027-01-31)"
            ) from None
        if when.tzinfo is not None:
            from datetime import UTC

            when = when.astimezone(UTC).replace(tzinfo=None)
    if when <= now:
        raise PortregError(f"--expires {text!r} is not in the future")
    return when.replace(microsecond=0)


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg.commands import _database

    found = _database.settings("tokens", getattr(args, "env_file", None))
    if args.action == "list":
        return _list(found)
    if args.action == "revoke":
        return _revoke(found, args.token_or_id)
    from portreg.server.auth import create_token
    from portreg.server.codec import utcnow

    expires = None if not args.expires else expiry(args.expires, utcnow())

    async def create(engine: AsyncEngine) -> str:
        return await create_token(engine, args.scope, args.name, expires)

    from portreg.server.db import sqlite_path

    db_file = sqlite_path(found.database_url) if found.database_url.startswith("sqlite") else None
    fresh = db_file is not None and not db_file.exists()
    token = _database.run_on(found, create)
    if fresh:
        # Most often a token made outside the server's directory: it would be silently useless.
        env.stderr.write(
            f"note: created a new database {db_file}; a server uses this token only if it "
            "runs here or with the same PORTREG_DATABASE_URL\n"
        )
    data = {"token": token, "scope": args.scope}
    if expires is not None:
        data["expires_at"] = expires.isoformat()
    return Simple(text=(token,), data=data)


def _list(found: Any) -> Simple:
    from portreg.commands import _database
    from portreg.server.auth import list_tokens

    rows = _database.run_on(found, list_tokens)
    lines = tuple(
        f"{r['id']}\t{r['scope']}\t{r['name']}\tcreated {r['created_at']}\t"
        + (f"expires {r['expires_at']}" if r["expires_at"] else "never expires")
        for r in rows
    )
    return Simple(text=lines or ("no tokens",), data=rows)


def _revoke(found: Any, token_or_id: str) -> Simple:
    from portreg.commands import _database
    from portreg.server.auth import revoke_token

    async def revoke(engine: AsyncEngine) -> int:
        return await revoke_token(engine, token_or_id.strip())

    if _database.run_on(found, revoke) == 0:
        shown = token_or_id if token_or_id.strip().isdigit() else "that token"
        raise NotFound(f"no token {shown} (see `portreg token list`)")
    return Simple(text=("revoked",), data={"revoked": True})
