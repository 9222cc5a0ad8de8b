"""The REST API under /api/v1 (the contract shared with the web page), plus /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portreg.errors import PortregError
from portreg.model import Policy, Registry
from portreg.ops import Outcome, Stamp
from portreg.server import repo
from portreg.server.app import State, payload, state_of
from portreg.server.auth import ANONYMOUS, Principal
from portreg.server.db import write_tx
from portreg.server.hostcheck import live_ports

T = TypeVar("T")


class ErrorBody(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Bad input"),
        (401, "No or invalid token"),
        (403, "Token lacks the scope"),
        (404, "Not found"),
        (409, "Conflicts with the registry"),
        (422, "Invalid request"),
        (503, "Database unavailable"),
    )
}

router = APIRouter(responses=_ERRORS)
root = APIRouter()

PortNumber = Annotated[int, Field(ge=1, le=65535)]
Text = Annotated[str, Field(max_length=500)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
EnvName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


# --- auth


async def _principal(request: Request, st: State) -> Principal | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Http(401, "invalid Authorization header (expected: Bearer <token>)")
    found = await st.tokens.lookup(token.strip())
    if found is None:
        raise _Http(401, "invalid token")
    return found


class _Http(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def can_read(request: Request) -> State:
    st = state_of(request)
    if st.settings.read_auth == "token" and await _principal(request, st) is None:
        raise _Http(401, "reads need a token (Authorization: Bearer <token>)")
    return st


async def can_read_stream(request: Request, access_token: str | None) -> State:
    """`can_read` for the change stream, which also takes the token as `?access_token=`: a
    browser's EventSource cannot send an Authorization header. Only this endpoint does (a
    query string ends up in more places than a header: Uvicorn's access log redacts it)."""
    st = state_of(request)
    if st.settings.read_auth != "token" or request.headers.get("authorization"):
        return await can_read(request)
    if not access_token or not access_token.strip():
        raise _Http(
            401, "reads need a token (Authorization: Bearer <token>, or ?access_token=<token>)"
        )
    if await st.tokens.lookup(access_token.strip()) is None:
        raise _Http(401, "invalid token")
    return st


async def can_write(request: Request) -> tuple[State, Principal]:
    st = state_of(request)
    who = await _principal(request, st)
    if who is None:
        if st.settings.write_auth == "open":
            return st, ANONYMOUS
        raise _Http(401, "writes need a write token (Authorization: Bearer <token>)")
    if not who.can_write:
        raise _Http(403, f"token {who.name!r} has scope {who.scope!r}; writes need scope 'write'")
    return st, who


def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, _Http)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)


# --- reading helpers


async def registry_of(st: State) -> Registry:
    cache = st.cache
    if cache.registry is not None:
        return cache.registry
    epoch = cache.epoch
    async with st.engine.connect() as conn:
        registry = await repo.load_registry(conn)
    if epoch == cache.epoch:
        cache.registry = registry
    return registry


def _json(value: Any, status: int = 200) -> Response:
    return Response(payload(value), status_code=status, media_type="application/json")


async def _write(
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


async def _mutate(
    st: State,
    who: Principal,
    op: Callable[[Registry, Stamp], tuple[Registry, T]],
    reason: str = "",
) -> T:
    async def tx(conn: AsyncConnection) -> tuple[T, list[tuple[int, str]]]:
        stamp = Stamp(who=who.name, at=repo.utcnow())
        return await repo.mutate(conn, lambda r: op(r, stamp), reason)

    result, evs = await _write(st, tx)
    await st.broker.publish(evs)
    return result


async def _mutate_live(
    st: State,
    who: Principal,
    op: Callable[[Registry, Stamp, set[int]], tuple[Registry, T]],
    span: Callable[[Policy], tuple[int, int]],
    reason: str = "",
) -> T:
    """`_mutate` for an operation that checks the live host: the ports live in `span(policy)`
    are read inside the write transaction (so the decision and the write see the same host,
    as under the command line's file lock), unless PORTREG_CHECK_HOST is off."""

    async def tx(conn: AsyncConnection) -> tuple[T, list[tuple[int, str]]]:
        live: set[int] = set()
        if st.settings.check_host:
            live = await live_ports(span(await repo.load_policy(conn)))
        stamp = Stamp(who=who.name, at=repo.utcnow())
        return await repo.mutate(conn, lambda r: op(r, stamp, live), reason)

    result, evs = await _write(st, tx)
    await st.broker.publish(evs)
    return result


def _outcome(o: Outcome) -> dict[str, Any]:
    return {
        "service": o.service,
        "environment": o.environment,
        "port": o.port,
        "changed": o.changed,
    }


# --- health and metrics


@router.get("/health", tags=["meta"], summary="database and Redis status (no token needed)")
async def health(request: Request) -> Response:
    from sqlalchemy import text

    st = state_of(request)
    redis = await st.broker.ping_redis()
    try:
        async with st.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except st.db_errors:
        return _json({"status": "error", "database": "error", "redis": redis}, 503)
    status = "degraded" if redis == "error" else "ok"
    return _json({"status": status, "database": "ok", "redis": redis})


@root.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    st = state_of(request)
    m = st.metrics
    try:
        registry = await registry_of(st)
        taken = registry.taken_ports()
        p = registry.policy
        free = sum(
            1
            for x in range(p.range_start, p.range_end + 1, max(p.step, 1))
            if x not in taken and x not in p.avoid
        )
        m.free.labels(f"{p.range_start}-{p.range_end}").set(free)
        m.assigned.set(len(taken))
    except st.db_errors:
        pass  # the gauges keep their last values
    m.subscribers.set(len(st.broker.subscribers))
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


# --- services


@router.get("/services", tags=["services"], summary="services as `portreg list --json` rows")
async def list_services(
    request: Request,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=0, le=100000)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    from portreg.records import service_rows

    st = await can_read(request)
    rows = service_rows(await registry_of(st), environment or None)
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
    return _json(rows)


@router.get("/services/{sid}", tags=["services"], summary="one service with its history")
async def get_service(sid: str, request: Request) -> Response:
    st = state_of(request)
    if st.settings.read_auth == "token":
        await can_read(request)
    cache = st.cache
    body = cache.details.get(sid)
    if body is None:
        from portreg.ops import find
        from portreg.records import service_detail

        epoch = cache.epoch
        service = find(await registry_of(st), sid)
        async with st.engine.connect() as conn:
            history = await repo.service_history(conn, service.id)
        body = payload({**service_detail(service), "history": history})
        if epoch == cache.epoch:
            cache.details[sid] = body
    return Response(body, media_type="application/json")


class ServiceIn(BaseModel):
    name: Name
    port: PortNumber | None = None
    environment: EnvName = "development"
    protocol: Annotated[str, Field(max_length=50)] | None = None
    transport: Annotated[str, Field(pattern="^(tcp|udp)$")] | None = None
    status: Annotated[str, Field(pattern="^(active|planned|reserved|deprecated)$")] | None = None
    notes: Text | None = None
    force: bool = False
    reason: Text = ""


@router.post(
    "/services",
    tags=["services"],
    status_code=201,
    summary="register a service (on `port`, or the next free port by the policy)",
)
async def create_service(body: ServiceIn, request: Request) -> Response:
    from portreg import ops

    st, who = await can_write(request)
    if body.port is None:
        res = await _assign(
            st, who, body.name, body.environment, body.protocol, body.transport, body.reason
        )
        sid = res["service"]
        warnings: list[str] = []
    else:
        port = body.port
        # As on the command line, `add` documents a service that may already run: a port
        # live on the host is accepted with a warning (move and reserve refuse it).
        out = await _mutate_live(
            st,
            who,
            lambda r, s, live: ops.add(
                r,
                body.name,
                port,
                body.environment,
                s,
                live=live,
                protocol=body.protocol,
                transport=body.transport,
                status=body.status,
                notes=body.notes,
                force=body.force,
            ),
            lambda _policy: (port, port),
            body.reason,
        )
        sid = out.service
        warnings = list(out.warnings)
    return await _detail_response(st, sid, 201, warnings)


async def _detail_response(
    st: State, sid: str, status: int = 200, warnings: list[str] | None = None
) -> Response:
    from portreg.ops import find
    from portreg.records import service_detail

    async with st.engine.connect() as conn:
        registry = await repo.load_registry(conn)
        service = find(registry, sid)
        history = await repo.service_history(conn, service.id)
    extra = {"warnings": warnings} if warnings else {}
    return _json({**service_detail(service), "history": history, **extra}, status)


class ServicePatch(BaseModel):
    name: Name | None = None
    protocol: Annotated[str, Field(max_length=50)] | None = None
    status: Annotated[str, Field(pattern="^(active|planned|reserved|deprecated)$")] | None = None
    notes: Text | None = None
    description: Text | None = None
    health_check: Text | None = None
    purpose: Text | None = None
    reason: Text = ""


@router.patch("/services/{sid}", tags=["services"], summary="change a service's descriptive fields")
async def update_service(sid: str, body: ServicePatch, request: Request) -> Response:
    from portreg.model import ChangeEntry
    from portreg.ops import find

    st, who = await can_write(request)
    fields = body.model_dump(exclude_none=True, exclude={"reason"})

    def op(r: Registry, stamp: Stamp) -> tuple[Registry, Outcome]:
        s = find(r, sid)
        new = replace(s, **fields)
        if new == s:
            return r, Outcome(s.id, "", None, False)
        what = ", ".join(sorted(fields))
        entry = ChangeEntry(
            stamp.at, stamp.who, "update", s.id, "", None, None, body.reason or f"updated {what}"
        )
        return r.with_service(new).with_change(entry), Outcome(s.id, "", None, True)

    out = await _mutate(st, who, op)
    return await _detail_response(st, out.service)


@router.delete("/services/{sid}", tags=["services"], summary="remove a service and its ports")
async def delete_service(sid: str, request: Request, reason: str = "") -> Response:
    from portreg import ops

    st, who = await can_write(request)
    out = await _mutate(st, who, lambda r, s: ops.release(r, sid, s), reason)
    return _json(_outcome(out))


class MoveIn(BaseModel):
    port: PortNumber
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    environment: EnvName = "development"


@router.post("/services/{sid}/move", tags=["services"], summary="the change procedure")
async def move_service(sid: str, body: MoveIn, request: Request) -> Response:
    st, who = await can_write(request)
    before: dict[str, int | None] = {}

    def op(r: Registry, stamp: Stamp, live: set[int]) -> tuple[Registry, Outcome]:
        from portreg import ops
        from portreg.ops import find

        before["old"] = find(r, sid).ports.get(body.environment)
        return ops.move(r, sid, body.port, body.environment, stamp, reason=body.reason, live=live)

    out = await _mutate_live(st, who, op, lambda _policy: (body.port, body.port))
    return _json(
        {
            "service": out.service,
            "environment": out.environment,
            "old": before.get("old"),
            "new": out.port,
            "changed": out.changed,
        }
    )


# --- assignments and reservations


class AssignmentIn(BaseModel):
    service: Name
    environment: EnvName = "development"
    protocol: Annotated[str, Field(max_length=50)] | None = None
    transport: Annotated[str, Field(pattern="^(tcp|udp)$")] | None = None
    reason: Text = ""


class AssignmentOut(BaseModel):
    service: str
    environment: str
    port: int
    created: bool


async def _assign(
    st: State,
    who: Principal,
    ref: str,
    env: str,
    protocol: str | None,
    transport: str | None,
    reason: str,
) -> dict[str, Any]:
    # The live host is looked at only when a new port must be picked (repo asks for it).
    live = live_ports if st.settings.check_host else None

    async def tx(conn: AsyncConnection) -> repo.Written:
        return await repo.assign(
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
        # Not through write_gate: the lock is taken inside one statement, so queueing here
        # only adds event-loop latency (measured: 1 worker 1,370/s ungated, 818/s gated at 2).
        written = await repo.assign_pg(
            st.engine,
            ref,
            env,
            who.name,
            protocol=protocol,
            transport=transport,
            reason=reason,
            live=live,
        )
    else:
        written = await _write(st, tx)
    if written.events:
        st.cache.invalidate(0)
        st.metrics.assignments.inc()
        await st.broker.publish(written.events)
    return written.body


@router.post(
    "/assignments",
    tags=["assignments"],
    summary="the service's port in the environment; the next free one by the policy if new",
    responses={200: {"model": AssignmentOut}, 201: {"model": AssignmentOut}},
)
async def assign(body: AssignmentIn, request: Request) -> Response:
    st, who = await can_write(request)
    res = await _assign(
        st, who, body.service, body.environment, body.protocol, body.transport, body.reason
    )
    return _json(res, 201 if res["created"] else 200)


@router.delete(
    "/assignments/{service}/{environment}",
    tags=["assignments"],
    summary="release the service's port in one environment (it becomes TBD)",
)
async def release(service: str, environment: str, request: Request, reason: str = "") -> Response:
    from portreg import ops

    st, who = await can_write(request)
    out = await _mutate(
        st, who, lambda r, s: ops.release(r, service, s, environment=environment), reason
    )
    return _json(_outcome(out))


class ReservationIn(BaseModel):
    service: Name
    port: PortNumber | None = None
    purpose: Text = ""
    environment: EnvName = "development"


@router.post("/reservations", tags=["assignments"], summary="keep a port for a planned service")
async def reserve(body: ReservationIn, request: Request) -> Response:
    from portreg import ops

    st, who = await can_write(request)
    named = body.port

    def op(r: Registry, stamp: Stamp, live: set[int]) -> tuple[Registry, Outcome]:
        return ops.reserve(
            r,
            body.service,
            stamp,
            port=named,
            purpose=body.purpose,
            environment=body.environment,
            live=live,
        )

    def span(policy: Policy) -> tuple[int, int]:
        return (policy.range_start, policy.range_end) if named is None else (named, named)

    out = await _mutate_live(st, who, op, span)
    return _json(_outcome(out))


# --- ports, policy, ranges, changes, audit


@router.get("/ports/{port}", tags=["ports"], summary="is this port registered, and allowed?")
async def port_info(port: Annotated[int, Path(ge=1, le=65535)], request: Request) -> Response:
    from portreg.policy import POLICY_CODES, judge
    from portreg.records import row

    st = await can_read(request)
    registry = await registry_of(st)
    holders = [row(s, env) for s, env in registry.holders(port)]
    problems = [p for p in judge(registry, port).problems if p.code in POLICY_CODES]
    return _json(
        {"port": port, "registered": holders, "allowed": not problems, "problems": problems}
    )


@router.get("/policy", tags=["ports"], summary="the port policy")
async def policy(request: Request) -> Response:
    st = await can_read(request)
    from portreg.records import policy_dict

    return _json(policy_dict((await registry_of(st)).policy))


@router.get("/ranges", tags=["ports"], summary="the policy range: what is taken, what is free")
async def ranges(request: Request) -> Response:
    st = await can_read(request)
    registry = await registry_of(st)
    p = registry.policy
    assigned: set[int] = set()
    reserved: set[int] = set()
    for s in registry.services.values():
        for _, port in s.assigned():
            if p.in_range(port):
                (reserved if s.reserved else assigned).add(port)
    avoided = sorted(x for x in p.avoid if p.in_range(x))
    blocked = assigned | reserved | set(avoided)
    free = [x for x in range(p.range_start, p.range_end + 1, max(p.step, 1)) if x not in blocked]
    return _json(
        {
            "start": p.range_start,
            "end": p.range_end,
            "assigned": sorted(assigned),
            "reserved": sorted(reserved),
            "avoided": avoided,
            "free": len(free),
            "next": free[0] if free else None,
        }
    )


@router.get("/changes", tags=["changes"], summary="the change log, oldest first")
async def change_log(
    request: Request,
    service: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> Response:
    st = await can_read(request)
    async with st.engine.connect() as conn:
        entries = await repo.change_log(conn, service=service, limit=limit)
    return _json(entries)


REGISTRY_ONLY = ("avoided-port", "out-of-range", "duplicate-port", "audit-overdue")


@router.get("/audit", tags=["changes"], summary="registry-only audit findings")
async def audit(request: Request) -> Response:
    from portreg import audit as auditing
    from portreg.policy import next_audit

    st = await can_read(request)
    registry = await registry_of(st)
    today = date.today()
    found = [
        f
        for f in auditing.audit(registry, [], today, live_environments=())
        if f.code in REGISTRY_ONLY
    ]
    last = registry.policy.last_audit
    nxt = next_audit(registry.policy)
    return _json(
        {
            "findings": [
                {
                    "code": f.code,
                    "severity": f.severity,
                    "service": f.service,
                    "port": f.port,
                    "message": f.message,
                    "hint": f.hint,
                }
                for f in found
            ],
            "summary": auditing.summary(found),
            "last_audit": last.isoformat() if last else None,
            "next_audit": nxt.isoformat() if nxt else None,
        }
    )


# --- import / export


@router.get(
    "/export",
    tags=["registry"],
    summary="the registry as ports.toml",
    response_class=PlainTextResponse,
)
async def export(request: Request) -> PlainTextResponse:
    from portreg import store

    st = await can_read(request)
    async with st.engine.connect() as conn:
        registry = await repo.load_registry(conn, with_changes=True)
    return PlainTextResponse(store.dumps(registry), media_type="text/plain; charset=utf-8")


@router.post(
    "/import",
    tags=["registry"],
    summary="replace the registry with a ports.toml document (text body)",
)
async def import_(
    request: Request,
    document: Annotated[str, Body(media_type="text/plain", max_length=5_000_000)],
    reason: str = "",
) -> Response:
    from portreg import store

    st, who = await can_write(request)
    text = document
    if not text.strip():
        raise PortregError("empty document: expected ports.toml text")
    registry = store.loads(text, source="request body")

    async def tx(conn: AsyncConnection) -> repo.Written:
        return await repo.replace_all(conn, registry, who.name, reason or "imported ports.toml")

    written = await _write(st, tx)
    await st.broker.publish(written.events)
    return _json(written.body)


# --- the change stream


@router.get(
    "/events",
    tags=["changes"],
    summary="Server-Sent Events; honours Last-Event-ID",
    response_class=StreamingResponse,
)
async def events(
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=30)] = None,
    last: Annotated[int | None, Query(ge=0, description="same as Last-Event-ID")] = None,
    access_token: Annotated[
        str | None,
        Query(
            max_length=200,
            description="a read token, for clients that cannot send Authorization "
            "(a browser's EventSource); only this endpoint takes it",
        ),
    ] = None,
) -> StreamingResponse:
    from portreg.server.events import stream

    st = await can_read_stream(request, access_token)
    start = last
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    return StreamingResponse(
        stream(st.broker, start, st.settings.ping_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
