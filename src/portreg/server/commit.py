"""Running a write: one transaction (retried when a concurrent writer won), then this worker's
cache dropped and the change events published, before anyone is answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portreg.errors import PortregError
from portreg.model import Policy, Registry
from portreg.ops import Outcome, Stamp
from portreg.server import allocate, reads, writes
from portreg.server.auth import Principal
from portreg.server.batch import Request
from portreg.server.codec import utcnow
from portreg.server.db import write_tx
from portreg.server.state import State

T = TypeVar("T")


async def write(
    st: State, fn: Callable[[AsyncConnection], Awaitable[T]], *, attempts: int = 5
) -> T:
    """Run a write transaction; a UNIQUE conflict means someone else won: retry from scratch."""
    for attempt in range(attempts):
        try:
            async with st.write_gate, write_tx(st.engine) as conn:
                result = await fn(conn)
            # Committed: this worker's cached reads go now, before anyone is answered — also
            # for a write that recorded no event (the events invalidate the other workers).
            st.cache.invalidate(0)
            return result
        except IntegrityError:
            if attempt == attempts - 1:
                raise PortregError("the port was taken concurrently; try again") from None
    raise AssertionError("unreachable")


async def mutate(
    st: State,
    who: Principal,
    op: Callable[[Registry, Stamp], tuple[Registry, T]],
    reason: str = "",
) -> T:
    """Apply a core operation to the registry as stored, and store its result."""

    async def tx(conn: AsyncConnection) -> tuple[T, list[tuple[int, str]]]:
        stamp = Stamp(who=who.name, at=utcnow())
        return await writes.mutate(conn, lambda r: op(r, stamp), reason)

    result, evs = await write(st, tx)
    await st.broker.publish(evs)
    return result


async def mutate_live(
    st: State,
    who: Principal,
    op: Callable[[Registry, Stamp, set[int]], tuple[Registry, T]],
    span: Callable[[Policy], tuple[int, int]],
    reason: str = "",
    *,
    host: str | None = None,
    service: str | None = None,
) -> T:
    """`mutate` for an operation that checks the live host: the ports live in `span(policy)`
    are read inside the write transaction (so the decision and the write see the same host,
    as under the command line's file lock), unless PORTREG_CHECK_HOST is off.

    The host is `host`, else the one `service` lives on, else the default host (this
    server's own). A named host's live ports are what its agent last reported (and the
    repair loop holds), never this server's sockets."""

    from portreg.naming import usable

    if service is not None:
        usable(service)  # a name no service can have (a NUL) is bad input before any query

    async def tx(conn: AsyncConnection) -> tuple[T, list[tuple[int, str]]]:
        where = host
        if where is None and service is not None:
            where = await reads.host_of(conn, service)
        live: set[int] = set()
        if where:
            live = await allocate.reported_ports(conn, where)
        elif st.settings.check_host:
            live = set(await st.live(span(await reads.load_policy(conn))))
        stamp = Stamp(who=who.name, at=utcnow())
        return await writes.mutate(conn, lambda r: op(r, stamp, live), reason)

    result, evs = await write(st, tx)
    await st.broker.publish(evs)
    return result


async def assign(
    st: State,
    who: Principal,
    ref: str,
    env: str,
    protocol: str | None,
    transport: str | None,
    reason: str,
    host: str | None = None,
) -> dict[str, Any]:
    """The service's port in `env`, picked by the policy if it has none: the assignment body.

    With `host` named, the core's `ops.assign` decides (it refuses a service that lives on
    another host) against that host's reported ports; without, the fast allocators pick on the
    service's own host."""
    if host is not None:
        from portreg import ops

        def op(r: Registry, stamp: Stamp, live: set[int]) -> tuple[Registry, Outcome]:
            return ops.assign(
                r, ref, env, stamp, live=live, protocol=protocol, transport=transport, host=host
            )

        out = await mutate_live(
            st, who, op, lambda p: (p.range_start, p.range_end), reason, host=host
        )
        if out.changed:
            st.metrics.assignments.inc()
        return {
            "service": out.service,
            "environment": out.environment,
            "port": out.port,
            "created": out.changed,
        }
    # The live host is looked at only when a new port must be picked (allocate asks for it).
    live = st.live if st.settings.check_host else None

    async def tx(conn: AsyncConnection) -> writes.Written:
        return await allocate.assign(
            conn,
            ref,
            env,
            who.name,
            protocol=protocol,
            transport=transport,
            reason=reason,
            live=live,
        )

    if st.engine.dialect.name == "postgresql":
        # Not through write_gate (2 at once): the lock is taken inside one statement, so
        # queueing there only adds event-loop latency (1 worker 1,370/s ungated, 818/s gated
        # at 2). assign_gate is as wide as the pool: it only keeps bursts off overflow.
        async with st.assign_gate:
            written = await allocate.assign_pg(
                st.engine,
                ref,
                env,
                who.name,
                protocol=protocol,
                transport=transport,
                reason=reason,
                live=live,
                span=st.pg_range,
            )
    elif st.assigner is not None:
        request = Request(ref, env, who.name, protocol, transport, reason)
        written = await st.assigner.assign(request)
    else:
        written = await write(st, tx)
    if written.events:
        st.cache.invalidate(0)
        st.metrics.assignments.inc()
        await st.broker.publish(written.events)
    return written.body


async def replace_all(st: State, who: Principal, registry: Registry, reason: str) -> Any:
    """Import: the stored registry becomes `registry`; the answer body."""

    async def tx(conn: AsyncConnection) -> writes.Written:
        return await writes.replace_all(conn, registry, who.name, reason)

    written = await write(st, tx)
    await st.broker.publish(written.events)
    return written.body


def outcome_body(o: Outcome) -> dict[str, Any]:
    return {
        "service": o.service,
        "environment": o.environment,
        "port": o.port,
        "changed": o.changed,
    }
