"""The server's database: tables (SQLAlchemy Core), engine, migrations, write transactions.

The same schema on SQLite and PostgreSQL. The database, not Python, guarantees that no
(host, transport, port) is assigned twice: `assignments` has a UNIQUE constraint on it.
Writes also run one at a time *in the database* (PostgreSQL: a transaction-level advisory lock;
SQLite: `BEGIN IMMEDIATE`), so change/event ids commit in id order — an SSE client that
resumes from `Last-Event-ID` can never skip an event that commits late — and allocation does
not thrash on conflicts. That lock holds across workers and processes; the UNIQUE constraint
is the floor under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

metadata = MetaData()

# A big integer that is an INTEGER on SQLite (so it autoincrements as the rowid).
Id = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
)

services = Table(
    "services",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("seq", Integer, nullable=False),  # registry order
    Column("name", String(200), nullable=False),
    Column("protocol", String(50), nullable=False),
    Column("transport", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Column("data", Text, nullable=False, default="{}"),  # JSON: every other Service field
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "service_id", String(200), ForeignKey("services.id", ondelete="CASCADE"), nullable=False
    ),
    Column("environment", String(100), nullable=False),
    Column("host", String(200), nullable=False, default=""),
    Column("transport", String(10), nullable=False),
    Column("port", Integer, nullable=True),  # NULL = TBD
    Column("seq", Integer, nullable=False, default=0),  # environment order within the service
    UniqueConstraint("service_id", "environment", name="uq_assignment_service_env"),
    UniqueConstraint("host", "transport", "port", name="uq_assignment_host_transport_port"),
)

changes = Table(
    "changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("who", String(200), nullable=False),
    Column("action", String(20), nullable=False),
    Column("service", String(200), nullable=False),
    Column("environment", String(100), nullable=False, default=""),
    Column("old_port", Integer, nullable=True),
    Column("new_port", Integer, nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Index("ix_changes_service", "service"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("payload", Text, nullable=False),  # JSON: change entry + "row"/"rows"
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("scope", String(10), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),  # sha256 hex of the token
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=True),  # NULL: never (migration 0009)
)

# What each host's agent last reported (migration 0007): one row per host.
host_reports = Table(
    "host_reports",
    metadata,
    Column("host", String(200), primary_key=True),
    Column("reported_at", DateTime, nullable=False),
    Column("interval", Float, nullable=False),  # seconds the agent promised between reports
    Column("count", Integer, nullable=False),
    Column("listeners", Text, nullable=False),  # JSON: the rows as `scan --json` prints them
    # sha256 of the request body: a report the same byte for byte is only re-dated
    Column("digest", String(64), nullable=False),
)

# The port numbers allocation on a host skips: `report` (its last report, within the policy
# range) and `hold` (seen
# live and unregistered by three repair passes in a row).
host_ports = Table(
    "host_ports",
    metadata,
    Column("host", String(200), primary_key=True),
    Column("transport", String(10), primary_key=True),
    Column("port", Integer, primary_key=True),
    Column("source", String(10), primary_key=True),
    Index("ix_host_ports_port", "host", "port"),
)

WRITE_LOCK_KEY = 0x706F72747265  # "portre": the advisory lock every write takes
MIGRATE_LOCK_KEY = 0x706F72746D67  # "portmg": the advisory lock around migrations


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 5) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=30
        )
        _sqlite_transactions(engine)
        return engine
    # No pre-ping on PostgreSQL: asyncpg's costs three round trips (BEGIN, ping, ROLLBACK) per
    # checkout, 13% of an assignment's CPU. A connection that died with its server fails its
    # first statement instead, which answers 503 (db_errors) and makes the pool drop every
    # connection older than that failure, so the next requests reconnect.
    return create_async_engine(
        url,
        pool_pre_ping=False,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=10,
        connect_args={"timeout": 5, "command_timeout": 30},
    )


def _sqlite_transactions(engine: AsyncEngine) -> None:
    """SQLite: WAL, a busy timeout, and `BEGIN IMMEDIATE` for writes (the pysqlite recipe)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get("portreg_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_sqlite(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "sqlite"


@contextlib.asynccontextmanager
async def write_tx(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction that holds the database's write lock until it commits."""
    async with engine.connect() as plain:
        conn = await plain.execution_options(portreg_write=True)
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
            yield conn


# --- migrations --------------------------------------------------------------------------------

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_upgrade(sync_conn: Any) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


def sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


async def migrate(engine: AsyncEngine) -> None:
    """Apply Alembic migrations; safe when several workers start at once."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        path = sqlite_path(url)
        lock_fd = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(f"{path}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o644)
            await asyncio.to_thread(fcntl.flock, lock_fd, fcntl.LOCK_EX)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(_alembic_upgrade)
                await conn.commit()
        finally:
            if lock_fd is not None:
                os.close(lock_fd)
        return
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        await conn.commit()
        try:
            await conn.run_sync(_alembic_upgrade)
            await conn.commit()
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATE_LOCK_KEY})
            await conn.commit()
