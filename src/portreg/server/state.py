"""What one worker holds while it serves: settings, engine, broker, caches, metrics.

`State` is built once by the app factory (`portreg.server.app.create_app`) and reached by
routes through `portreg.server.deps`, by the fast path and the page through `state_of`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from portreg.model import Registry
from portreg.repair import RepairState
from portreg.server.allocate import RangeHint
from portreg.server.auth import TokenCache
from portreg.server.batch import SqliteAssigner
from portreg.server.events import Broker
from portreg.server.hostcheck import LiveScans
from portreg.server.metrics import Metrics
from portreg.server.settings import Settings

MAX_LISTS = 64
MAX_DETAILS = 50_000  # bodies of GET /services/{id}: one per service id, far above any registry
ALL_SERVICES: tuple[object, ...] = (None, None, None, None, 0)  # GET /services, no query


@dataclass
class ReadCache:
    """This worker's view of the registry, dropped whenever an event says it changed.

    `details` holds the pre-serialised body of GET /services/{id} per resolved id; the
    fast path (portreg.server.fastpath, where the consistency rules are written down) answers
    from it. `epoch` moves at every invalidation, so a body computed across one is not kept.
    """

    epoch: int = 0
    registry: Registry | None = None
    details: dict[str, bytes] = field(default_factory=dict)
    # GET /services bodies by their resolved query (environment, status, q, limit, offset);
    # bounded, since every query string a client invents would otherwise stay.
    lists: dict[tuple[object, ...], bytes] = field(default_factory=dict)
    generation: int = 0  # highest event id applied

    def keep_list(self, key: tuple[object, ...], body: bytes, epoch: int) -> None:
        if epoch != self.epoch:
            return  # computed across a write: not kept
        if len(self.lists) >= MAX_LISTS:
            self.lists.clear()
        self.lists[key] = body

    def keep_detail(self, sid: str, body: bytes, epoch: int) -> None:
        if epoch != self.epoch:
            return
        if len(self.details) >= MAX_DETAILS:
            self.details.clear()
        self.details[sid] = body

    def invalidate(self, event_id: int) -> None:
        if event_id > self.generation or event_id == 0:
            self.generation = max(self.generation, event_id)
            self.epoch += 1
            self.registry = None
            self.details = {}
            self.lists = {}


@dataclass
class State:
    """A worker's shared state: engine, settings, caches, the change stream."""

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
    # SQLite: assignments go through one batched writer (portreg.server.batch); None elsewhere.
    assigner: SqliteAssigner | None = None
    # The live host's ports, one scan shared by the requests that asked before it started.
    live: LiveScans = field(default_factory=LiveScans)
    # PostgreSQL: assignments in flight at once, below the pool's size (the app factory sizes
    # it): past the pool, each extra one opened an overflow connection (a new backend) and
    # closed it again (measured: 2 workers, 654 → 741 assignments/s, mean of four runs).
    assign_gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))
    # PostgreSQL: the policy range last learned, so the host is scanned before the call.
    pg_range: RangeHint = field(default_factory=RangeHint)
    # Reports wait here, not in the connection pool (whose timeout answers 503): 200 hosts
    # reporting at once queue for as long as it takes. Sized below the pool, so reads and
    # assignments always find a connection.
    report_gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    # The repair loop's counters (this worker's), and the registrations it found leaked.
    repair: RepairState = field(default_factory=RepairState)
    leaked: dict[tuple[str, str, int], int] = field(default_factory=dict)
    # Signs stream tickets (portreg.server.tickets); shared by the workers through the database.
    stream_secret: bytes = b""


def state_of(request: Request) -> State:
    st: State = request.app.state.portreg
    return st


def db_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean "the database cannot be reached": answered 503, never 500."""
    from sqlalchemy.exc import (
        DBAPIError,
        InterfaceError,
        OperationalError,
        TimeoutError as PoolTimeout,
    )

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
