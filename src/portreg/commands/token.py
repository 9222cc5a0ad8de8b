"""`portreg token create --scope read|write`: a new API token, printed alone.

The token is stored (as its sha256) in the database the server uses: PORTREG_DATABASE_URL, or
SQLite in ./portreg.db like `portreg serve` started in the same directory. Migrations run first.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from portreg.environment import Environment
from portreg.views import Simple

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg.commands import _database

    found = _database.settings("tokens", getattr(args, "env_file", None))
    from portreg.server.auth import create_token

    async def create(engine: AsyncEngine) -> str:
        return await create_token(engine, args.scope, args.name)

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
    return Simple(text=(token,), data={"token": token, "scope": args.scope})
