"""`portreg token create --scope read|write`: a new API token, printed alone.

The token is stored (as its sha256) in the database the server uses: DATABASE_URL, or SQLite in
./portreg.db like `portreg serve` started in the same directory. Migrations run first.
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

    found = _database.settings("tokens")
    from portreg.server.auth import create_token

    async def create(engine: AsyncEngine) -> str:
        return await create_token(engine, args.scope, args.name)

    token = _database.run_on(found, create)
    return Simple(text=(token,), data={"token": token, "scope": args.scope})
