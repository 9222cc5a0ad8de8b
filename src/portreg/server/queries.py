"""The read side: what the API answers and the page shows, computed once, here.

Routes wrap these in responses; the page (`portreg.server.page`) renders the same values, so
what it shows is exactly what `/api/v1` answers. Everything but the history and the change log
is computed from this worker's cached registry (`registry_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from portreg.model import Registry
from portreg.server import reads
from portreg.server.responses import payload
from portreg.server.state import State

if TYPE_CHECKING:
    from portreg.audit import Finding

# The audit findings a registry alone can show (no host, no repository files).
REGISTRY_ONLY = ("avoided-port", "out-of-range", "duplicate-port", "audit-overdue")


async def registry_of(st: State) -> Registry:
    cache = st.cache
    if cache.registry is not None:
        return cache.registry
    epoch = cache.epoch
    async with st.engine.connect() as conn:
        registry = await reads.load_registry(conn)
    if epoch == cache.epoch:
        cache.registry = registry
    return registry


def service_rows(
    registry: Registry,
    *,
    environment: str | None = None,
    status: str | None = None,
    q: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """`portreg list --json` rows, filtered: `q` matches id, name, notes and port, any case."""
    from portreg.records import service_rows as rows_of

    rows = rows_of(registry, environment or None)
    if status:
        rows = [r for r in rows if r["status"] == status]
    if q:
        needle = q.lower()
        rows = [
            r
            for r in rows
            if needle in f"{r['service']} {r['name']} {r['notes']} {r['port']}".lower()
        ]
    if limit is not None or offset:
        rows = rows[offset : None if limit is None else offset + limit]
    return rows


async def service_body(st: State, sid: str) -> bytes:
    """GET /services/{sid}'s body, from the cache the fast path also answers from.

    The cache is keyed by the resolved id: another spelling that finds the service (`BIGSVC._`,
    a display name) is resolved here and answered from the id's body, never stored under its
    own spelling, so the cache holds at most one body per service whatever clients invent."""
    cache = st.cache
    body = cache.details.get(sid)
    if body is None:
        from portreg.ops import find
        from portreg.records import service_detail

        epoch = cache.epoch
        service = find(await registry_of(st), sid)
        body = cache.details.get(service.id)
        if body is None:
            async with st.engine.connect() as conn:
                history = await reads.service_history(conn, service.id)
            body = payload({**service_detail(service), "history": history})
            cache.keep_detail(service.id, body, epoch)
    return body


async def fresh_detail(st: State, sid: str, warnings: list[str] | None = None) -> dict[str, Any]:
    """A service as stored now, not as cached: the answer of a write to it."""
    from portreg.ops import find
    from portreg.records import service_detail

    async with st.engine.connect() as conn:
        registry = await reads.load_registry(conn)
        service = find(registry, sid)
        history = await reads.service_history(conn, service.id)
    extra = {"warnings": warnings} if warnings else {}
    return {**service_detail(service), "history": history, **extra}


def port_info(registry: Registry, port: int) -> dict[str, Any]:
    from portreg.policy import POLICY_CODES, judge
    from portreg.records import row

    holders = [row(s, env) for s, env in registry.holders(port)]
    problems = [p for p in judge(registry, port).problems if p.code in POLICY_CODES]
    return {"port": port, "registered": holders, "allowed": not problems, "problems": problems}


def policy(registry: Registry) -> dict[str, Any]:
    from portreg.records import policy_dict

    return policy_dict(registry.policy)


def ranges(registry: Registry) -> dict[str, Any]:
    """The policy range: what is assigned, reserved, avoided, how much is free, the next free."""
    p = registry.policy
    assigned: set[int] = set()
    reserved: set[int] = set()
    for s in registry.services.values():
        for _, ports in s.occupied():  # a range registration takes every port in it
            (reserved if s.reserved else assigned).update(x for x in ports if p.in_range(x))
    avoided = sorted(x for x in p.avoid if p.in_range(x))
    blocked = assigned | reserved | set(avoided)
    free = [x for x in range(p.range_start, p.range_end + 1, max(p.step, 1)) if x not in blocked]
    return {
        "start": p.range_start,
        "end": p.range_end,
        "assigned": sorted(assigned),
        "reserved": sorted(reserved),
        "avoided": avoided,
        "free": len(free),
        "next": free[0] if free else None,
    }


def free_count(registry: Registry) -> int:
    """Ports of the policy range that could still be assigned (the /metrics gauge)."""
    taken = registry.taken_ports()
    p = registry.policy
    return sum(
        1
        for x in range(p.range_start, p.range_end + 1, max(p.step, 1))
        if x not in taken and x not in p.avoid
    )


def audit(registry: Registry, today: date, hosts: Sequence[Finding] = ()) -> dict[str, Any]:
    """The registry-only audit: findings, summary with checklist, last and next audit dates;
    and `hosts`, the findings of the hosts' reports (`audit.host_audit`)."""
    from portreg import audit as auditing
    from portreg.policy import next_audit

    found = [
        f
        for f in auditing.audit(registry, [], today, live_environments=())
        if f.code in REGISTRY_ONLY
    ]
    found += hosts
    last = registry.policy.last_audit
    nxt = next_audit(registry.policy)
    return {
        "findings": [f.to_json() for f in found],
        "summary": auditing.summary(found),
        "last_audit": last.isoformat() if last else None,
        "next_audit": nxt.isoformat() if nxt else None,
    }


async def audit_with_hosts(st: State, registry: Registry, today: date) -> dict[str, Any]:
    """`audit` with the findings of every host's last report: what `/api/v1/audit` answers
    and the page's Audit view shows."""
    from portreg.audit import host_audit
    from portreg.server import hosts
    from portreg.server.codec import utcnow

    async with st.engine.connect() as conn:
        found = await hosts.reports(conn, utcnow())
    return audit(registry, today, host_audit(registry, found, st.leaked))


async def change_log(st: State, service: str | None, limit: int) -> list[dict[str, Any]]:
    async with st.engine.connect() as conn:
        return await reads.change_log(conn, service=service, limit=limit)


async def export_text(st: State) -> str:
    """The registry as ports.toml, its change log included."""
    from portreg import store

    async with st.engine.connect() as conn:
        registry = await reads.load_registry(conn, with_changes=True)
    return store.dumps(registry)
