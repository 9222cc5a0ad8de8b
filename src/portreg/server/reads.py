"""Reading the registry from SQL as `portreg.model` values, and the logs as JSON records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portreg.model import ChangeEntry, Policy, Registry, Section
from portreg.server.codec import SHADOW, change_dict, change_from, policy_from, service_from
from portreg.server.db import assignments, changes, events, meta, services


async def load_meta(conn: AsyncConnection) -> dict[str, Any]:
    result = await conn.execute(select(meta.c.key, meta.c.value))
    return {k: json.loads(v) for k, v in result.all()}


async def load_meta_value(conn: AsyncConnection, key: str) -> Any:
    value = await conn.scalar(select(meta.c.value).where(meta.c.key == key))
    return None if value is None else json.loads(value)


async def load_policy(conn: AsyncConnection) -> Policy:
    value = await conn.scalar(select(meta.c.value).where(meta.c.key == "policy"))
    return Policy() if value is None else policy_from(json.loads(value))


async def host_of(conn: AsyncConnection, ref: str) -> str:
    """The host the service `ref` (an id, or a name whose id is one) lives on; "" if unknown."""
    from portreg.model import service_id

    found = (
        await conn.execute(
            select(services.c.id, services.c.data).where(services.c.id.in_({ref, service_id(ref)}))
        )
    ).all()
    for r in sorted(found, key=lambda r: r.id != ref):
        return str(json.loads(r.data or "{}").get("host", ""))
    return ""


async def load_registry(conn: AsyncConnection, *, with_changes: bool = False) -> Registry:
    m = await load_meta(conn)
    ports: dict[str, dict[str, int | None]] = {}
    result = await conn.execute(
        select(assignments.c.service_id, assignments.c.environment, assignments.c.port).order_by(
            assignments.c.service_id, assignments.c.seq, assignments.c.id
        )
    )
    for sid, env, port in result.all():
        if SHADOW not in env:  # a range's other ports: its first port stands for them
            ports.setdefault(sid, {})[env] = port
    svc_rows = (await conn.execute(select(services).order_by(services.c.seq))).all()
    svcs = {r.id: service_from(r, ports.get(r.id, {})) for r in svc_rows}
    history: tuple[ChangeEntry, ...] = ()
    if with_changes:
        crs = (await conn.execute(select(changes).order_by(changes.c.id))).all()
        history = tuple(change_from(r) for r in crs)
    last = m.get("last_updated")
    return Registry(
        project=m.get("project", ""),
        title=m.get("title") or Registry().title,
        purpose=m.get("purpose", ""),
        host=m.get("host", ""),
        policy=policy_from(m["policy"]) if "policy" in m else Policy(),
        services=svcs,
        changes=history,
        extra_sections=tuple(Section(**s) for s in m.get("sections", [])),
        last_updated=datetime.fromisoformat(last) if last else None,
    )


async def service_history(conn: AsyncConnection, sid: str) -> list[dict[str, Any]]:
    result = await conn.execute(
        select(changes).where(changes.c.service == sid).order_by(changes.c.id)
    )
    return [change_dict(r.id, change_from(r)) for r in result.all()]


async def change_log(
    conn: AsyncConnection, *, service: str | None, limit: int
) -> list[dict[str, Any]]:
    q = select(changes).order_by(changes.c.id.desc()).limit(limit)
    if service:
        q = q.where(changes.c.service == service)
    rows = (await conn.execute(q)).all()
    return [change_dict(r.id, change_from(r)) for r in reversed(rows)]


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
