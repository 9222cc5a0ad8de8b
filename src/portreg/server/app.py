"""The central registry server: `create_app(settings)` builds the FastAPI app.

Run it with `portreg serve` (Uvicorn; several workers use the import string
`portreg.server.app:create_app` with `factory=True`, settings from the environment).
At start it applies the Alembic migrations (safe with concurrent workers), loads
PORTREG_SEED into an empty database, and starts the event broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from portreg.errors import PortregError
from portreg.model import Registry
from portreg.server.auth import TokenCache
from portreg.server.events import Broker
from portreg.server.metrics import Metrics, MetricsMiddleware
from portreg.server.settings import Settings

log = logging.getLogger("portreg.server")


def _db_errors() -> tuple[type[Exception], ...]:
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    extra: list[type[Exception]] = []
    with contextlib.suppress(ImportError):
        import asyncpg  # type: ignore[import-untyped]

        extra += [
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError,
        ]
    return (
        DBAPIError,
        OperationalError,
        InterfaceError,
        PoolTimeout,
        OSError,
        ConnectionError,
        TimeoutError,
        *extra,
    )


@dataclass
class ReadCache:
    """This worker's view of the registry, dropped whenever an event says it changed.

    `details` holds the pre-serialised body of GET /services/{id} per id as requested; the
    fast path (portreg.server.fastpath, where the consistency rules are written down) answers
    from it. `epoch` moves at every invalidation, so a body computed across one is not kept.
    """

    epoch: int = 0
    registry: Registry | None = None
    details: dict[str, bytes] = field(default_factory=dict)
    generation: int = 0  # highest event id applied

    def invalidate(self, event_id: int) -> None:
        if event_id > self.generation or event_id == 0:
            self.generation = max(self.generation, event_id)
            self.epoch += 1
            self.registry = None
            self.details = {}


@dataclass
class State:
    settings: Settings
    engine: AsyncEngine
    broker: Broker
    cache: ReadCache
    metrics: Metrics
    tokens: TokenCache
    db_errors: tuple[type[Exception], ...]
    # Writes run one at a time in the database (its write lock), so a worker gains nothing by
    # sending more than a couple at once: extra ones only hold connections and backends that
    # queue on that lock (and, on SQLite, sleep in its busy handler). They queue here instead.
    write_gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))


def state_of(request: Request) -> State:
    st: State = request.app.state.portreg
    return st


async def load_seed(st: State, path: str) -> None:
    """PORTREG_SEED: a ports.toml or a seed-style page, loaded only into an empty database."""
    from sqlalchemy import func, select

    from portreg.server import repo
    from portreg.server.db import services, write_tx

    registry = read_registry_file(Path(path))
    async with write_tx(st.engine) as conn:
        count = int(await conn.scalar(select(func.count()).select_from(services)) or 0)
        if count:
            return
        known = await repo.load_meta(conn)
        if known.get("seeded"):
            return
        written = await repo.replace_all(conn, registry, "portreg-seed", f"PORTREG_SEED={path}")
        await repo._set_meta(conn, "seeded", path)
    await st.broker.publish(written.events)
    log.info("loaded %d services from %s", len(registry.services), path)


def read_registry_file(path: Path) -> Registry:
    from portreg import store

    data = path.read_bytes()
    if path.suffix == ".toml":
        return store.loads(data.decode("utf-8"), source=str(path))
    from portreg.importers import parse

    return parse(path.name, data).registry


def create_app(settings: Settings | None = None) -> FastAPI:
    from portreg.server.db import make_engine, migrate

    if settings is None:
        from portreg.server.settings import load

        settings = load()
    engine = make_engine(
        settings.database_url, pool_size=settings.pool_size, max_overflow=settings.max_overflow
    )
    cache = ReadCache()
    metrics = Metrics()
    broker = Broker(
        engine,
        redis_url=settings.redis_url,
        prefix=settings.redis_prefix,
        poll_seconds=settings.poll_seconds,
        on_change=cache.invalidate,
    )
    st = State(
        settings,
        engine,
        broker,
        cache,
        metrics,
        TokenCache(engine),
        _db_errors(),
        asyncio.Semaphore(settings.write_concurrency),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(engine)
        await _initial_policy(st, settings.range)
        if settings.seed:
            await load_seed(st, settings.seed)
        await broker.start()
        cache.generation = broker.last_seen
        try:
            yield
        finally:
            await broker.stop()
            await engine.dispose()

    app = FastAPI(
        title="portreg",
        version=_version(),
        description="The central services-and-ports registry: REST API, change stream, metrics.",
        lifespan=lifespan,
    )
    app.state.portreg = st

    from portreg.server.routes import api

    app.include_router(api.router, prefix="/api/v1")
    app.include_router(api.root)
    from portreg.server import page

    app.include_router(page.router)
    static = Path(__file__).with_name("static")
    if static.is_dir() and not any(getattr(r, "path", "") == "/static" for r in app.routes):
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=static), name="static")

    _handlers(app, st)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    from portreg.server.fastpath import FastReads

    app.add_middleware(FastReads, state=st)  # outermost: a cache hit skips everything else
    _redact_access_log()
    return app


class _RedactToken(logging.Filter):
    """Uvicorn's access log prints the query string: never an `access_token` (see /events)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any("access_token=" in str(a) for a in args):
            import re

            record.args = tuple(
                re.sub(r"access_token=[^&\s]*", "access_token=***", a) if isinstance(a, str) else a
                for a in args
            )
        return True


def _redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactToken) for f in access.filters):
        access.addFilter(_RedactToken())


async def _initial_policy(st: State, text: str | None) -> None:
    """A new database gets the core's policy (PORTREG_RANGE's range, if set) before it answers
    anything: no part of the server, the PostgreSQL function included, has defaults of its own."""
    from portreg.model import Policy
    from portreg.policy import parse_range
    from portreg.server import repo
    from portreg.server.db import write_tx

    policy = Policy(*parse_range(text)) if text else Policy()
    async with write_tx(st.engine) as conn:
        if await repo.load_meta_value(conn, "policy") is None:
            await repo._set_meta(conn, "policy", repo._policy_data(policy))


def _handlers(app: FastAPI, st: State) -> None:
    async def portreg_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PortregError)
        return JSONResponse({"detail": exc.message}, status_code=status_for(exc))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors()[:3]:
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else err.get("msg", ""))
        return JSONResponse({"detail": "invalid request: " + "; ".join(parts)}, status_code=422)

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
    from portreg.server.routes.api import _Http, http_error_handler

    app.add_exception_handler(_Http, http_error_handler)
    for exc_type in st.db_errors:
        app.add_exception_handler(exc_type, db_down)


def status_for(exc: PortregError) -> int:
    """The HTTP status of an error: its kind decides, never its wording."""
    return exc.http_status


def _version() -> str:
    from portreg import __version__

    return __version__


def payload(value: Any) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":"), default=str).encode()
