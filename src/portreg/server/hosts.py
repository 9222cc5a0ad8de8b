"""Per-host truth: agents' reports stored, read back, and turned into the core's values.

A report replaces its host's row in `host_reports` and its `report` rows in `host_ports`, in one
short transaction of its own: reports never take the registry's write lock, so 200 hosts
reporting at once do not queue behind (or in front of) assignments. On PostgreSQL two reports
of one host are serialized by an advisory lock on the host's name; on SQLite every write is.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portreg.audit import HostReport
from portreg.errors import PortregError
from portreg.host import JSON_FIELDS, Listener
from portreg.repair import Key
from portreg.server.db import host_ports, host_reports
from portreg.server.reads import load_policy

REPORT_LOCK_KEY = 0x706F72746873  # "porths": with the host's hash, one report per host at once
_PROTOCOLS = ("tcp", "udp")


def normalise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as `scan --json` prints them: every field, a missing one as null (unknown).

    A row needs a port (1-65535); a protocol other than tcp/udp is bad input.
    """
    out: list[dict[str, Any]] = []
    for i, r in enumerate(rows):
        port = r.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise PortregError(f"listeners[{i}]: port must be an integer 1-65535, got {port!r}")
        proto = r.get("protocol")
        if proto is not None and proto not in _PROTOCOLS:
            raise PortregError(f"listeners[{i}]: protocol must be tcp or udp, got {proto!r}")
        row = {f: r.get(f) for f in JSON_FIELDS}
        row["pids"] = r.get("pids") if isinstance(r.get("pids"), list) else []
        out.append(row)
    return out


def listeners_of(rows: list[dict[str, Any]]) -> tuple[Listener, ...]:
    """Reported rows as the core's Listener values; a row of unknown protocol stands for both
    (the audit must not call a service on either transport "not listening" because of it)."""
    out: list[Listener] = []
    for r in rows:
        for proto in (r["protocol"],) if r.get("protocol") else _PROTOCOLS:
            out.append(
                Listener(
                    port=r["port"],
                    protocol=proto,
                    address=str(r.get("address") or ""),
                    family=str(r.get("family") or ""),
                    pid=r.get("pid") if isinstance(r.get("pid"), int) else None,
                    process=r.get("process") if isinstance(r.get("process"), str) else None,
                    cmdline=r.get("cmdline") if isinstance(r.get("cmdline"), str) else None,
                    user=r.get("user") if isinstance(r.get("user"), str) else None,
                    namespace=r.get("namespace") if isinstance(r.get("namespace"), str) else None,
                )
            )
    return tuple(out)


async def touch_report(engine: AsyncEngine, host: str, digest: str, at: datetime) -> int | None:
    """Re-date the host's last report if `digest` (sha256 of the request body) is its digest:
    its listener count; None when the report is new or different.

    Most reports repeat the last one (a host's listeners change rarely, agents report every
    30 s): those cost one UPDATE and no parsing."""
    async with engine.connect() as plain:
        conn = await plain.execution_options(portreg_write=True)
        async with conn.begin():
            found = await conn.execute(
                update(host_reports)
                .where(host_reports.c.host == host, host_reports.c.digest == digest)
                .values(reported_at=at)
                .returning(host_reports.c.count)
            )
            row = found.first()
    return None if row is None else int(row[0])


async def store_report(
    engine: AsyncEngine,
    host: str,
    rows: list[dict[str, Any]],
    interval: float,
    at: datetime,
    digest: str,
) -> None:
    """Store a host's new report: its rows, and its `report` ports inside the policy range
    (allocation looks nowhere else; after an import that moves the range, the host's next
    changed report fills the new one)."""
    body = json.dumps(rows, separators=(",", ":"))
    async with engine.connect() as plain:
        conn = await plain.execution_options(portreg_write=True)  # SQLite: BEGIN IMMEDIATE
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k, hashtext(:h))"),
                    {"k": REPORT_LOCK_KEY & 0x7FFFFFFF, "h": host},
                )
            policy = await load_policy(conn)
            ports = {
                (proto, r["port"])
                for r in rows
                if r.get("namespace") is None and policy.in_range(r["port"])
                for proto in ((r["protocol"],) if r.get("protocol") else _PROTOCOLS)
            }
            await conn.execute(delete(host_reports).where(host_reports.c.host == host))
            await conn.execute(
                insert(host_reports).values(
                    host=host,
                    reported_at=at,
                    interval=interval,
                    count=len(rows),
                    listeners=body,
                    digest=digest,
                )
            )
            await conn.execute(
                delete(host_ports).where(host_ports.c.host == host, host_ports.c.source == "report")
            )
            if ports:
                await conn.execute(
                    insert(host_ports),
                    [
                        {"host": host, "transport": t, "port": p, "source": "report"}
                        for t, p in sorted(ports)
                    ],
                )


def report_time() -> datetime:
    """Now, naive UTC with microseconds: two reports of one host within a second differ."""
    from datetime import UTC

    return datetime.now(UTC).replace(tzinfo=None)


async def host_rows(conn: AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """`GET /api/v1/hosts`: one object per host that ever reported."""
    from portreg.audit import STALE_AFTER_INTERVALS

    result = await conn.execute(
        select(
            host_reports.c.host,
            host_reports.c.reported_at,
            host_reports.c.interval,
            host_reports.c.count,
        ).order_by(host_reports.c.host)
    )
    out = []
    for host, at, interval, count in result.all():
        age = max((now - at).total_seconds(), 0.0)
        out.append(
            {
                "host": host,
                "last_report": at.replace(microsecond=0).isoformat(sep=" "),
                "listeners": count,
                "interval": interval,
                "age_seconds": round(age, 3),
                "stale": age > STALE_AFTER_INTERVALS * interval,
            }
        )
    return out


async def listener_rows(conn: AsyncConnection, host: str) -> str | None:
    """The JSON text of the host's last report's rows, as stored; None for an unknown host."""
    found = await conn.scalar(select(host_reports.c.listeners).where(host_reports.c.host == host))
    return None if found is None else str(found)


async def reports(conn: AsyncConnection, now: datetime) -> list[HostReport]:
    result = await conn.execute(select(host_reports))
    return [
        HostReport(
            r.host,
            max((now - r.reported_at).total_seconds(), 0.0),
            r.interval,
            listeners_of(json.loads(r.listeners)),
            r.reported_at.isoformat(),
        )
        for r in result.all()
    ]


async def holds(conn: AsyncConnection) -> set[Key]:
    result = await conn.execute(
        select(host_ports.c.host, host_ports.c.transport, host_ports.c.port).where(
            host_ports.c.source == "hold"
        )
    )
    return {(h, t, p) for h, t, p in result.all()}


async def apply_holds(engine: AsyncEngine, hold: set[Key], unhold: set[Key]) -> None:
    if not hold and not unhold:
        return
    async with engine.connect() as plain:
        conn = await plain.execution_options(portreg_write=True)
        async with conn.begin():
            for h, t, p in unhold:
                await conn.execute(
                    delete(host_ports).where(
                        host_ports.c.host == h,
                        host_ports.c.transport == t,
                        host_ports.c.port == p,
                        host_ports.c.source == "hold",
                    )
                )
            existing = await holds(conn)
            new = [
                {"host": h, "transport": t, "port": p, "source": "hold"}
                for h, t, p in sorted(hold - existing)
            ]
            if new:
                await conn.execute(insert(host_ports), new)
