"""The hot write, `assign`: the service's port in an environment, picked by the core's policy.

On SQLite it is a handful of targeted statements under the write lock (`assign`); on PostgreSQL
one call of the `portreg_assign` function in autocommit (`assign_pg`), which receives the policy
from the core (migration 0005) rather than holding defaults of its own.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portreg import validate
from portreg.errors import PortregError
from portreg.model import ChangeEntry, Service, service_id
from portreg.naming import claim, new_id
from portreg.policy import first_free, no_free_port
from portreg.records import row
from portreg.server.codec import change_dict, own_ports, service_from, utcnow
from portreg.server.db import assignments, host_ports, services
from portreg.server.reads import load_policy
from portreg.server.writes import Written, insert_service, record


async def assign(
    conn: AsyncConnection,
    ref: str,
    environment: str,
    who: str,
    *,
    protocol: str | None,
    transport: str | None,
    reason: str,
    live: Callable[[tuple[int, int]], Awaitable[Collection[int]]] | None = None,
) -> Written:
    """The service's port in `environment`; the next free port by the policy if it has none.

    `live` answers the ports live on the host within a range; it is asked only when a new port
    must be picked, and those ports are skipped. Runs under the write lock; the UNIQUE
    constraint is still the last word (a conflict raises IntegrityError and the caller retries
    the whole transaction).
    """
    validate.environment(environment)
    sid = service_id(ref)
    found = (await conn.execute(select(services).where(services.c.id.in_({ref, sid})))).first()
    existing: Service | None = None
    if found is not None:
        prow = await conn.execute(
            select(assignments.c.environment, assignments.c.port)
            .where(assignments.c.service_id == found.id)
            .order_by(assignments.c.seq, assignments.c.id)
        )
        ports = own_ports(prow.all())
        existing = service_from(found, ports)
        if existing.id != ref:
            existing = claim(ref, existing)
        if ports.get(environment) is not None:
            body = {
                "service": existing.id,
                "environment": environment,
                "port": ports[environment],
                "created": False,
            }
            return Written(body)
    else:
        sid = new_id(ref)
    policy = await load_policy(conn)
    # The service's host: a named one's truth is its agent's report, not this server's sockets.
    host = existing.host if existing is not None else ""
    taken_rows = await conn.execute(
        select(assignments.c.port).where(
            assignments.c.port.between(policy.range_start, policy.range_end),
            assignments.c.host == host,
        )
    )
    taken = {p for (p,) in taken_rows.all()}
    if host:
        busy = await reported_ports(conn, host)
    elif live is not None:
        busy = set(await live((policy.range_start, policy.range_end)))
    else:
        busy = set()
    port = first_free(policy, taken, busy)
    if existing is None:
        service = Service(
            id=sid,
            name=ref,
            ports={environment: port},
            protocol=protocol or transport or "tcp",
            transport=transport or "tcp",
        )
        await insert_service(conn, service)
        await conn.execute(
            insert(assignments).values(
                service_id=sid,
                environment=environment,
                host=host,
                transport=service.transport,
                port=port,
                seq=0,
            )
        )
    else:
        service = existing.with_port(environment, port)
        if environment in existing.ports:
            await conn.execute(
                update(assignments)
                .where(
                    assignments.c.service_id == existing.id,
                    assignments.c.environment == environment,
                )
                .values(port=port)
            )
        else:
            await conn.execute(
                insert(assignments).values(
                    service_id=existing.id,
                    environment=environment,
                    host=host,
                    transport=existing.transport,
                    port=port,
                    seq=len(existing.ports),
                )
            )
    entry = ChangeEntry(utcnow(), who, "assign", service.id, environment, None, port, reason)
    evs = await record(conn, [entry], {"row": row(service, environment)})
    body = {"service": service.id, "environment": environment, "port": port, "created": True}
    return Written(body, evs, created=True)


async def reported_ports(conn: AsyncConnection, host: str) -> set[int]:
    """The port numbers allocation on `host` skips: its last report's, and the repair loop's
    holds (migration 0007)."""
    rows = await conn.execute(select(host_ports.c.port).where(host_ports.c.host == host))
    return {p for (p,) in rows.all()}


class RangeHint:
    """The policy range a worker last learned from the database, trusted for one second.

    A policy changes only by import; one second is the staleness this worker's cached reads
    are allowed too (PORTREG_POLL_SECONDS). A stale range would leave ports live outside it
    unscanned, so it expires rather than waiting to be told."""

    TRUST_SECONDS = 1.0

    def __init__(self) -> None:
        self._range: tuple[int, int] | None = None
        self._at = 0.0

    def get(self) -> tuple[int, int] | None:
        import time

        if self._range is None or time.monotonic() - self._at > self.TRUST_SECONDS:
            return None
        return self._range

    def learn(self, lo: int, hi: int) -> None:
        import time

        self._range, self._at = (lo, hi), time.monotonic()


ID_MARK, PORT_MARK = 987654320, 987654321  # stand-ins the function replaces in the payload


async def _service_now(conn: AsyncConnection, ref: str, sid: str) -> Service | None:
    rows = (await conn.execute(select(services).where(services.c.id.in_({ref, sid})))).all()
    found = sorted(rows, key=lambda r: r.id != ref)
    if not found:
        return None
    prow = await conn.execute(
        select(assignments.c.environment, assignments.c.port)
        .where(assignments.c.service_id == found[0].id)
        .order_by(assignments.c.seq, assignments.c.id)
    )
    return service_from(found[0], own_ports(prow.all()))


async def assign_pg(
    engine: Any,
    ref: str,
    environment: str,
    who: str,
    *,
    protocol: str | None,
    transport: str | None,
    reason: str,
    live: Callable[[tuple[int, int]], Awaitable[Collection[int]]] | None = None,
    span: RangeHint | None = None,
) -> Written:
    """`assign` on PostgreSQL: the `portreg_assign` function (migrations 0003, 0004) in
    autocommit — lock, pick, insert, record in one statement, so the write lock is held only
    while the database works.

    The first call assumes a new service (the template needs nothing from the database); the
    function answers an existing service's port itself. With `live` (the host check), the
    first call only reads: if a port must be picked it answers the policy range, the host is
    scanned over it (off the event loop, outside the lock) and the second call picks, skipping
    the live ports. Without `live` a new service costs one call. An existing service that needs
    a port in a new environment is read to build the event's row."""
    from sqlalchemy import text

    sid = new_id(ref)
    validate.environment(environment)
    if sid != ref:  # a display name: it must name the service its id finds, if any
        async with engine.connect() as conn:
            named = await _service_now(conn, ref, sid)
        if named is not None and named.id != ref:
            claim(ref, named)
    proto, trans = protocol or transport or "tcp", transport or "tcp"
    template: Service = Service(
        id=sid, name=ref, ports={environment: PORT_MARK}, protocol=proto, transport=trans
    )
    new_only = True
    found: list[int] | None = None if live is not None else []  # NULL: not looked at yet
    known = span.get() if span is not None else None
    if live is not None and known is not None:
        # The policy's range as this worker last learned it: scanned before the call, so the
        # function can lock and pick at once (one round trip instead of two).
        found = sorted(await live(known))
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
        for _ in range(6):
            at = utcnow()
            entry = ChangeEntry(
                at, who, "assign", template.id, environment, None, PORT_MARK, reason
            )
            payload = {**change_dict(ID_MARK, entry), "row": row(template, environment)}
            text_payload = json.dumps(payload, separators=(",", ":"), default=str)
            result = await conn.execute(
                text(
                    "SELECT * FROM portreg_assign(:ref, :sid, :name, :env, :proto, :trans, :who, "
                    ":reason, :at, :host, :payload, :new_only, :live)"
                ),
                {
                    "ref": ref,
                    "sid": sid,
                    "name": ref,
                    "env": environment,
                    "proto": proto,
                    "trans": trans,
                    "who": who,
                    "reason": reason,
                    "at": at,
                    "host": "",
                    "payload": text_payload,
                    "new_only": new_only,
                    "live": found,
                },
            )
            out = result.one()
            if not out.out_retry:
                break
            if out.out_service is not None and new_only:
                existing = await _service_now(conn, ref, sid)
                if existing is not None:
                    proto, trans = existing.protocol, existing.transport
                    template = existing.with_port(environment, PORT_MARK)
                    new_only = False
            if out.out_lo is not None and live is not None:
                if span is not None:
                    span.learn(out.out_lo, out.out_hi)
                found = sorted(await live((out.out_lo, out.out_hi)))
        else:
            raise PortregError("the registry changed during the assignment; try again")
    if out.out_port is None:
        async with engine.connect() as conn:
            policy = await load_policy(conn)
        raise no_free_port(policy.range_start, policy.range_end)
    body = {
        "service": out.out_service,
        "environment": environment,
        "port": out.out_port,
        "created": bool(out.out_created),
    }
    events = [(int(out.out_event), out.out_payload)] if out.out_created else []
    return Written(body, events, created=bool(out.out_created))
