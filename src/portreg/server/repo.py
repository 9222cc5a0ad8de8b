"""The registry in SQL: read it as `portreg.model` values, write it with the same pure rules.

Reads build a `Registry` from the tables. Writes run inside `db.write_tx` (the database's write
lock): the hot path, `assign`, is a handful of targeted statements; the rarer writes load the
registry, apply the pure operation from `portreg.ops` and write back the difference, so the
server and the command line share every rule and every message.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portreg.errors import PortregError
from portreg.model import (
    ChangeEntry,
    CodeBlock,
    ConnectionString,
    Policy,
    Registry,
    Section,
    Service,
    service_id,
)
from portreg.naming import new_id
from portreg.policy import first_free, no_free_port
from portreg.records import row
from portreg.server.db import assignments, changes, events, meta, services

T = TypeVar("T")
_COLUMNS = ("name", "protocol", "transport", "status", "notes")
_SKIP = {"id", "ports", *_COLUMNS}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


# --- encoding ----------------------------------------------------------------------------------


def _service_data(s: Service) -> str:
    data: dict[str, Any] = {}
    defaults = Service(id="", name="")
    for f in fields(Service):
        if f.name in _SKIP:
            continue
        value = getattr(s, f.name)
        if value == getattr(defaults, f.name):
            continue
        if f.name in {"configuration", "connection_strings"}:
            value = [asdict(c) for c in value]
        elif isinstance(value, tuple):
            value = list(value)
        data[f.name] = value
    return json.dumps(data, separators=(",", ":"))


def _service_from(r: Any, ports: dict[str, int | None]) -> Service:
    data = json.loads(r.data or "{}")
    if "configuration" in data:
        data["configuration"] = tuple(CodeBlock(**c) for c in data["configuration"])
    if "connection_strings" in data:
        data["connection_strings"] = tuple(
            ConnectionString(**c) for c in data["connection_strings"]
        )
    if "depends_on" in data:
        data["depends_on"] = tuple(data["depends_on"])
    return Service(
        id=r.id,
        name=r.name,
        ports=ports,
        protocol=r.protocol,
        transport=r.transport,
        status=r.status,
        notes=r.notes,
        **data,
    )


def policy_data(p: Policy) -> dict[str, Any]:
    from portreg.records import policy_dict

    return policy_dict(p)


def _policy_from(d: dict[str, Any]) -> Policy:
    last = d.get("last_audit")
    return Policy(
        range_start=int(d["range"][0]),
        range_end=int(d["range"][1]),
        avoid=tuple(int(x) for x in d.get("avoid", ())),
        step=int(d.get("step", 1)),
        audit_interval_days=int(d.get("audit_interval_days", 30)),
        last_audit=date.fromisoformat(last) if last else None,
    )


def change_dict(cid: int, c: ChangeEntry) -> dict[str, Any]:
    return {
        "id": cid,
        "at": c.at.isoformat(sep=" "),
        "who": c.who,
        "action": c.action,
        "service": c.service,
        "environment": c.environment,
        "old": c.old_port,
        "new": c.new_port,
        "reason": c.reason,
    }


def _change_from(r: Any) -> ChangeEntry:
    return ChangeEntry(
        r.at, r.who, r.action, r.service, r.environment, r.old_port, r.new_port, r.reason
    )


# --- reading -----------------------------------------------------------------------------------


async def load_meta(conn: AsyncConnection) -> dict[str, Any]:
    result = await conn.execute(select(meta.c.key, meta.c.value))
    return {k: json.loads(v) for k, v in result.all()}


async def load_policy(conn: AsyncConnection) -> Policy:
    value = await conn.scalar(select(meta.c.value).where(meta.c.key == "policy"))
    return Policy() if value is None else _policy_from(json.loads(value))


async def load_registry(conn: AsyncConnection, *, with_changes: bool = False) -> Registry:
    m = await load_meta(conn)
    ports: dict[str, dict[str, int | None]] = {}
    result = await conn.execute(
        select(assignments.c.service_id, assignments.c.environment, assignments.c.port).order_by(
            assignments.c.service_id, assignments.c.seq, assignments.c.id
        )
    )
    for sid, env, port in result.all():
        ports.setdefault(sid, {})[env] = port
    svc_rows = (await conn.execute(select(services).order_by(services.c.seq))).all()
    svcs = {r.id: _service_from(r, ports.get(r.id, {})) for r in svc_rows}
    history: tuple[ChangeEntry, ...] = ()
    if with_changes:
        crs = (await conn.execute(select(changes).order_by(changes.c.id))).all()
        history = tuple(_change_from(r) for r in crs)
    last = m.get("last_updated")
    return Registry(
        project=m.get("project", ""),
        title=m.get("title") or Registry().title,
        purpose=m.get("purpose", ""),
        host=m.get("host", ""),
        policy=_policy_from(m["policy"]) if "policy" in m else Policy(),
        services=svcs,
        changes=history,
        extra_sections=tuple(Section(**s) for s in m.get("sections", [])),
        last_updated=datetime.fromisoformat(last) if last else None,
    )


async def service_history(conn: AsyncConnection, sid: str) -> list[dict[str, Any]]:
    result = await conn.execute(
        select(changes).where(changes.c.service == sid).order_by(changes.c.id)
    )
    return [change_dict(r.id, _change_from(r)) for r in result.all()]


async def change_log(
    conn: AsyncConnection, *, service: str | None, limit: int
) -> list[dict[str, Any]]:
    q = select(changes).order_by(changes.c.id.desc()).limit(limit)
    if service:
        q = q.where(changes.c.service == service)
    rows = (await conn.execute(q)).all()
    return [change_dict(r.id, _change_from(r)) for r in reversed(rows)]


async def events_after(
    conn: AsyncConnection, after: int, limit: int = 500
) -> list[tuple[int, str]]:
    result = await conn.execute(
        select(events.c.id, events.c.payload)
        .where(events.c.id > after)
        .order_by(events.c.id)
        .limit(limit)
    )
    return [(int(i), p) for i, p in result.all()]


async def last_event_id(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.coalesce(func.max(events.c.id), 0))) or 0)


# --- writing -----------------------------------------------------------------------------------


@dataclass
class Written:
    """What a write did: the response body, and the events to publish after commit."""

    body: dict[str, Any]
    events: list[tuple[int, str]] = field(default_factory=list)
    created: bool = False


async def record(
    conn: AsyncConnection,
    entries: Sequence[ChangeEntry],
    rows_of: dict[str, Any] | None = None,
) -> list[tuple[int, str]]:
    """Insert change entries and one event per entry; returns (event id, payload JSON)."""
    out: list[tuple[int, str]] = []
    for c in entries:
        cid = await conn.scalar(
            insert(changes)
            .values(
                at=c.at,
                who=c.who,
                action=c.action,
                service=c.service,
                environment=c.environment,
                old_port=c.old_port,
                new_port=c.new_port,
                reason=c.reason,
            )
            .returning(changes.c.id)
        )
        assert cid is not None
        payload = change_dict(int(cid), c)
        if rows_of is not None:
            payload.update(rows_of)
        text = json.dumps(payload, separators=(",", ":"), default=str)
        await conn.execute(insert(events).values(id=cid, at=c.at, payload=text))
        out.append((int(cid), text))
    return out


async def set_meta(conn: AsyncConnection, key: str, value: Any) -> None:
    text = json.dumps(value, default=str)
    done = await conn.execute(update(meta).where(meta.c.key == key).values(value=text))
    if done.rowcount == 0:
        await conn.execute(insert(meta).values(key=key, value=text))


async def _next_seq(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.coalesce(func.max(services.c.seq), 0))) or 0) + 1


async def _insert_service(conn: AsyncConnection, s: Service) -> None:
    await conn.execute(
        insert(services).values(
            id=s.id,
            seq=await _next_seq(conn),
            name=s.name,
            protocol=s.protocol,
            transport=s.transport,
            status=s.status,
            notes=s.notes,
            data=_service_data(s),
        )
    )


async def _write_ports(conn: AsyncConnection, s: Service, host: str) -> None:
    await conn.execute(delete(assignments).where(assignments.c.service_id == s.id))
    if s.ports:
        await conn.execute(
            insert(assignments),
            [
                {
                    "service_id": s.id,
                    "environment": env,
                    "host": host,
                    "transport": s.transport,
                    "port": port,
                    "seq": i,
                }
                for i, (env, port) in enumerate(s.ports.items())
            ],
        )


async def write_service(conn: AsyncConnection, s: Service, host: str, *, new: bool) -> None:
    if new:
        await _insert_service(conn, s)
    else:
        await conn.execute(
            update(services)
            .where(services.c.id == s.id)
            .values(
                name=s.name,
                protocol=s.protocol,
                transport=s.transport,
                status=s.status,
                notes=s.notes,
                data=_service_data(s),
            )
        )
    await _write_ports(conn, s, host)


async def apply_diff(conn: AsyncConnection, before: Registry, after: Registry) -> None:
    """Write what a pure operation changed: services, their ports, policy and metadata."""
    for sid in before.services.keys() - after.services.keys():
        await conn.execute(delete(assignments).where(assignments.c.service_id == sid))
        await conn.execute(delete(services).where(services.c.id == sid))
    for sid, s in after.services.items():
        old = before.services.get(sid)
        if old != s:
            await write_service(conn, s, after.host, new=old is None)
    if after.policy != before.policy:
        await set_meta(conn, "policy", policy_data(after.policy))
    await set_meta(conn, "last_updated", utcnow().isoformat())


def rows_payload(registry: Registry, sids: Iterable[str]) -> dict[str, Any]:
    """The "rows" of an event: every (service, environment) row of the services touched."""
    rows: list[dict[str, Any]] = []
    for sid in sids:
        s = registry.get(sid)
        if s is not None:
            rows.extend(row(s, env) for env in (s.ports or {"development": None}))
    return {"rows": rows}


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
    sid = service_id(ref)
    found = (await conn.execute(select(services).where(services.c.id.in_({ref, sid})))).first()
    existing: Service | None = None
    if found is not None:
        prow = await conn.execute(
            select(assignments.c.environment, assignments.c.port)
            .where(assignments.c.service_id == found.id)
            .order_by(assignments.c.seq, assignments.c.id)
        )
        ports = dict(prow.all())
        existing = _service_from(found, ports)
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
    taken_rows = await conn.execute(
        select(assignments.c.port).where(
            assignments.c.port.between(policy.range_start, policy.range_end)
        )
    )
    taken = {p for (p,) in taken_rows.all()}
    busy = set(await live((policy.range_start, policy.range_end))) if live is not None else set()
    port = first_free(policy, taken, busy)
    host = (await load_meta_value(conn, "host")) or ""
    if existing is None:
        service = Service(
            id=sid,
            name=ref,
            ports={environment: port},
            protocol=protocol or transport or "tcp",
            transport=transport or "tcp",
        )
        await _insert_service(conn, service)
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


async def load_meta_value(conn: AsyncConnection, key: str) -> Any:
    value = await conn.scalar(select(meta.c.value).where(meta.c.key == key))
    return None if value is None else json.loads(value)


async def replace_all(conn: AsyncConnection, registry: Registry, who: str, reason: str) -> Written:
    """Import: the database holds exactly `registry` afterwards (its history is kept too)."""
    await conn.execute(delete(assignments))
    await conn.execute(delete(services))
    for key, value in (
        ("project", registry.project),
        ("title", registry.title),
        ("purpose", registry.purpose),
        ("host", registry.host),
        ("policy", policy_data(registry.policy)),
        ("sections", [asdict(s) for s in registry.extra_sections]),
        ("last_updated", utcnow().isoformat()),
    ):
        await set_meta(conn, key, value)
    for seq, s in enumerate(registry.services.values(), start=1):
        await conn.execute(
            insert(services).values(
                id=s.id,
                seq=seq,
                name=s.name,
                protocol=s.protocol,
                transport=s.transport,
                status=s.status,
                notes=s.notes,
                data=_service_data(s),
            )
        )
    rows = [
        {
            "service_id": s.id,
            "environment": env,
            "host": registry.host,
            "transport": s.transport,
            "port": port,
            "seq": i,
        }
        for s in registry.services.values()
        for i, (env, port) in enumerate(s.ports.items())
    ]
    if rows:
        await conn.execute(insert(assignments), rows)
    known = int(await conn.scalar(select(func.count()).select_from(changes)) or 0)
    if registry.changes and known == 0:
        await conn.execute(
            insert(changes),
            [asdict(c) for c in registry.changes],  # the columns are the entry's fields
        )
    entry = ChangeEntry(utcnow(), who, "import", "", "", None, None, reason)
    evs = await record(conn, [entry], rows_payload(registry, registry.services))
    return Written({"services": len(registry.services)}, evs, created=True)


def new_entries(before: Registry, after: Registry) -> list[ChangeEntry]:
    return list(after.changes[len(before.changes) :])


def with_reason(entries: list[ChangeEntry], reason: str) -> list[ChangeEntry]:
    return [e if e.reason or not reason else replace(e, reason=reason) for e in entries]


def touched_payload(after: Registry, entry: ChangeEntry) -> dict[str, Any]:
    s = after.get(entry.service)
    out = rows_payload(after, [entry.service])
    if s is not None and entry.environment in s.ports:
        out["row"] = row(s, entry.environment)
    return out


async def mutate(
    conn: AsyncConnection, fn: Callable[[Registry], tuple[Registry, T]], reason: str = ""
) -> tuple[T, list[tuple[int, str]]]:
    """Run a pure operation on the registry as stored and write back what it changed."""
    before = await load_registry(conn)
    after, result = fn(before)
    evs: list[tuple[int, str]] = []
    if after != before:
        await apply_diff(conn, before, after)
        for entry in with_reason(new_entries(before, after), reason):
            evs += await record(conn, [entry], touched_payload(after, entry))
    return result, evs


# --- PostgreSQL: allocation as one statement (migration 0002) -----------------------------------

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
    return _service_from(found[0], dict(prow.all()))


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
    proto, trans = protocol or transport or "tcp", transport or "tcp"
    template: Service = Service(
        id=sid, name=ref, ports={environment: PORT_MARK}, protocol=proto, transport=trans
    )
    new_only = True
    found: list[int] | None = None if live is not None else []  # NULL: not looked at yet
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
