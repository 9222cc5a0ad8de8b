"""Writing the registry: what a pure operation changed, an import, and the change log.

Writes run inside `db.write_tx` (the database's write lock). The rarer writes load the registry,
apply the pure operation from `portreg.ops` and write back the difference (`mutate`), so the
server and the command line share every rule and every message. Each change entry is recorded
with one event (its JSON payload), published by the caller after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portreg.model import ChangeEntry, Registry, Service
from portreg.records import row
from portreg.server.codec import (
    assignment_rows,
    change_dict,
    policy_data,
    service_data,
    utcnow,
)
from portreg.server.db import assignments, changes, events, meta, services
from portreg.server.reads import load_registry


@dataclass
class Written:
    """What a write did: the response body, and the events to publish after commit."""

    body: dict[str, Any]
    events: list[tuple[int, str]] = field(default_factory=list)
    created: bool = False
    host: str = ""  # the host the port was picked on


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


async def insert_service(conn: AsyncConnection, s: Service) -> None:
    await conn.execute(
        insert(services).values(
            id=s.id,
            seq=await _next_seq(conn),
            name=s.name,
            protocol=s.protocol,
            transport=s.transport,
            status=s.status,
            notes=s.notes,
            data=service_data(s),
        )
    )


async def _write_ports(conn: AsyncConnection, s: Service) -> None:
    await conn.execute(delete(assignments).where(assignments.c.service_id == s.id))
    if s.ports:
        await conn.execute(insert(assignments), assignment_rows(s))


async def write_service(conn: AsyncConnection, s: Service, *, new: bool) -> None:
    if new:
        await insert_service(conn, s)
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
                data=service_data(s),
            )
        )
    await _write_ports(conn, s)


async def apply_diff(conn: AsyncConnection, before: Registry, after: Registry) -> None:
    """Write what a pure operation changed: services, their ports, policy and metadata."""
    for sid in before.services.keys() - after.services.keys():
        await conn.execute(delete(assignments).where(assignments.c.service_id == sid))
        await conn.execute(delete(services).where(services.c.id == sid))
    for sid, s in after.services.items():
        old = before.services.get(sid)
        if old != s:
            await write_service(conn, s, new=old is None)
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


async def replace_all(conn: AsyncConnection, registry: Registry, who: str, reason: str) -> Written:
    """Import: the database holds exactly `registry` afterwards (its history is kept too)."""
    from portreg.server.db import host_reports

    # The policy range may have moved: every host's next report is stored in full again, so
    # its ports in the new range are known (an unchanged report is otherwise only re-dated).
    await conn.execute(update(host_reports).values(digest=""))
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
                data=service_data(s),
            )
        )
    rows = [r for s in registry.services.values() for r in assignment_rows(s)]
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


T = TypeVar("T")


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
