"""The server's database, opened from the command line (`serve`, `token`) with one-line errors.

Both commands read the server's settings the same way (`PORTREG_*` variables, after the file
named by `--env-file` or `PORTREG_ENV_FILE`; never a plain `DATABASE_URL` or `./.env`), check the
URL's driver before SQLAlchemy would fail on a missing module, and apply the migrations, so an
unreachable or mistyped database is reported before a server starts or a token is printed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from portreg.errors import PortregError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from portreg.server.settings import Settings

T = TypeVar("T")
DRIVERS = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


def settings(what: str, env_file: str | None = None) -> Settings:
    """The server's settings; `what` names the command's need in the missing-extra error."""
    try:
        from pydantic import ValidationError

        from portreg.server.settings import load
    except ImportError as exc:
        raise PortregError(
            f"{what} needs the server extra: pip install 'portreg[server]' ({exc.name} missing)"
        ) from None
    try:
        found = load(env_file)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PortregError(f"bad server setting {first['loc'][0]}: {first['msg']}") from None
    url = found.database_url
    if not url.startswith(DRIVERS):
        scheme = url.split("://", 1)[0] if "://" in url else url
        raise PortregError(
            f"PORTREG_DATABASE_URL: {scheme}:// is not supported (use sqlite+aiosqlite:///FILE or "
            "postgresql+asyncpg://USER@HOST:PORT/DB)"
        )
    return found


def run_on(found: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Migrate the database, then `work(engine)`; any failure is one line naming the database."""
    import asyncio

    from sqlalchemy.engine import make_url

    from portreg.server.db import make_engine, migrate

    shown = make_url(found.database_url).render_as_string(hide_password=True)

    async def go() -> T:
        engine = make_engine(found.database_url, pool_size=1, max_overflow=0)
        try:
            await migrate(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except Exception as exc:  # unreachable, refused, bad credentials…: one line, no secrets
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise PortregError(
            f"cannot use the database {shown}: {type(exc).__name__}: {detail}"
        ) from None
