"""`portreg token create --scope read|write`: a new API token, printed alone.

The token is stored (as its sha256) in the database the server uses: DATABASE_URL, or SQLite in
./portreg.db like `portreg serve` started in the same directory. Migrations run first.
"""

from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.errors import PortregError
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    import asyncio

    try:
        from portreg.server.auth import create_token
        from portreg.server.db import make_engine, migrate
        from portreg.server.settings import Settings
    except ImportError as exc:
        raise PortregError(
            f"tokens need the server extra: pip install 'portreg[server]' ({exc.name} missing)"
        ) from None

    settings = Settings()

    async def go() -> str:
        engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
        try:
            await migrate(engine)
            return await create_token(engine, args.scope, args.name)
        finally:
            await engine.dispose()

    try:
        token = asyncio.run(go())
    except Exception as exc:  # database unreachable, bad URL…: one line, never the token
        raise PortregError(
            f"cannot store the token in the database: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    return Simple(text=(token,), data={"token": token, "scope": args.scope})
