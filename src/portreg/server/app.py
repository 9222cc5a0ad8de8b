"""The central registry server: `create_app(settings)` builds the FastAPI app.

Run it with `portreg serve` (Uvicorn; several workers use the import string
`portreg.server.app:create_app` with `factory=True`, settings from the environment).
At start it applies the Alembic migrations (safe with concurrent workers), gives a new database
the core's policy, loads PORTREG_SEED into an empty database, and starts the event broker.

This module only wires the parts together: state (`state`), routes (`routes/*`, `page`),
error answers (`errors`), start-up work (`startup`), middleware (`metrics`, `fastpath`, `edge`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from portreg.server.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    from portreg.server import batch, errors, page, reconcile, startup
    from portreg.server.accesslog import redact_tokens
    from portreg.server.auth import TokenCache
    from portreg.server.db import make_engine, migrate
    from portreg.server.edge import Edge
    from portreg.server.events import Broker
    from portreg.server.fastpath import FastReads
    from portreg.server.guard import Guard
    from portreg.server.metrics import Metrics, MetricsMiddleware
    from portreg.server.routes import assignments, changes, hosts, meta, ports, registry, services
    from portreg.server.state import ReadCache, State, db_errors

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
        db_errors(),
        asyncio.Semaphore(settings.write_concurrency),
        batch.for_settings(settings.database_url, check_host=settings.check_host),
        assign_gate=asyncio.Semaphore(max(1, settings.pool_size - 2)),  # leave some for reads
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(engine)
        await startup.initial_policy(st, settings.range)
        if settings.seed:
            await startup.load_seed(st, settings.seed)
        broker.identify(await startup.registry_identity(st))
        st.stream_secret = (await startup.kept_random(st, "stream_secret")).encode()
        await broker.start()
        cache.generation = broker.last_seen
        try:
            async with reconcile.running(st):
                yield
        finally:
            await broker.stop()
            if st.assigner is not None:
                st.assigner.close()
            await engine.dispose()

    app = FastAPI(
        title="portreg",
        version=_version(),
        description="The central services-and-ports registry: REST API, change stream, metrics.",
        lifespan=lifespan,
    )
    app.state.portreg = st

    for module in (meta, services, assignments, ports, changes, registry, hosts):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(meta.root)
    app.include_router(page.router)  # the views, and /static from memory

    errors.install(app, st)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(FastReads, state=st)  # a cache hit skips everything else...
    app.add_middleware(Guard, state=st)  # ...but not the early refusals (auth, size, origin)
    app.add_middleware(Edge)  # and headers and compression wrap both (API hot paths pass through)
    redact_tokens()
    return app


def _version() -> str:
    from portreg import __version__

    return __version__
