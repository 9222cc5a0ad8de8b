"""/services: list, read, register, change, remove and move services."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from portreg.model import Registry
from portreg.ops import Outcome as CoreOutcome, Stamp
from portreg.server import commit, queries
from portreg.server.deps import Reader, Writer
from portreg.server.responses import ERRORS, json_response, payload
from portreg.server.schemas import (
    Moved,
    MoveIn,
    Outcome,
    ServiceDetail,
    ServiceIn,
    ServicePatch,
    ServiceRow,
)

router = APIRouter(responses=ERRORS, tags=["services"])


@router.get(
    "/services",
    summary="services as `portreg list --json` rows",
    responses={200: {"model": list[ServiceRow]}},
)
async def list_services(
    st: Reader,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=0, le=100000)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    key = (environment or None, status or None, q or None, limit, offset)
    body = st.cache.lists.get(key)
    if body is None:
        epoch = st.cache.epoch
        rows = queries.service_rows(
            await queries.registry_of(st),
            environment=environment,
            status=status,
            q=q,
            limit=limit,
            offset=offset,
        )
        body = payload(rows)
        st.cache.keep_list(key, body, epoch)
    return Response(body, media_type="application/json")


@router.get(
    "/services/{sid}",
    summary="one service with its history",
    responses={200: {"model": ServiceDetail}},
)
async def get_service(sid: str, st: Reader) -> Response:
    # A cached body is usually answered before this route (portreg.server.fastpath).
    return Response(await queries.service_body(st, sid), media_type="application/json")


@router.post(
    "/services",
    status_code=201,
    summary="register a service (on `port`, or the next free port by the policy)",
    responses={201: {"model": ServiceDetail}},
)
async def create_service(body: ServiceIn, auth: Writer) -> Response:
    from portreg import ops

    st, who = auth
    if body.port is None:
        res = await commit.assign(
            st,
            who,
            body.name,
            body.environment,
            body.protocol,
            body.transport,
            body.reason,
            body.host,
        )
        sid = res["service"]
        warnings: list[str] = []
        extra = {k: v for k, v in (("notes", body.notes), ("status", body.status)) if v}
        if res["created"] and extra:
            # The allocator records the port (in one statement on PostgreSQL); what else the
            # request named is written right after it, so a new service keeps its notes and
            # status as `add` with a port would.
            await commit.mutate(st, who, lambda r, stamp: _describe(r, stamp, sid, extra))
    else:
        port = body.port
        # As on the command line, `add` documents a service that may already run: a port
        # live on the host is accepted with a warning (move and reserve refuse it).
        out = await commit.mutate_live(
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
                host=body.host,
            ),
            lambda _policy: (port, port),
            body.reason,
            host=body.host,
            service=body.name,
        )
        sid = out.service
        warnings = list(out.warnings)
    return json_response(await queries.fresh_detail(st, sid, warnings), 201)


@router.patch(
    "/services/{sid}",
    summary="change a service's descriptive fields",
    responses={200: {"model": ServiceDetail}},
)
async def update_service(sid: str, body: ServicePatch, auth: Writer) -> Response:
    from portreg.model import ChangeEntry
    from portreg.ops import find

    st, who = auth
    fields = body.model_dump(exclude_none=True, exclude={"reason"})
    if "name" in fields:
        from portreg.naming import usable

        usable(fields["name"])  # the rules every other door applies to a name

    def op(r: Registry, stamp: Stamp) -> tuple[Registry, CoreOutcome]:
        s = find(r, sid)
        new = replace(s, **fields)
        if new == s:
            return r, CoreOutcome(s.id, "", None, False)
        what = ", ".join(sorted(fields))
        entry = ChangeEntry(
            stamp.at, stamp.who, "update", s.id, "", None, None, body.reason or f"updated {what}"
        )
        return r.with_service(new).with_change(entry), CoreOutcome(s.id, "", None, True)

    out = await commit.mutate(st, who, op)
    return json_response(await queries.fresh_detail(st, out.service))


@router.delete(
    "/services/{sid}",
    summary="remove a service and its ports",
    responses={200: {"model": Outcome}},
)
async def delete_service(sid: str, auth: Writer, reason: str = "") -> Response:
    from portreg import ops

    st, who = auth
    out = await commit.mutate(st, who, lambda r, s: ops.release(r, sid, s), reason)
    return json_response(commit.outcome_body(out))


@router.post(
    "/services/{sid}/move",
    summary="the change procedure",
    responses={200: {"model": Moved}},
)
async def move_service(sid: str, body: MoveIn, auth: Writer) -> Response:
    st, who = auth
    before: dict[str, int | None] = {}

    def op(r: Registry, stamp: Stamp, live: set[int]) -> tuple[Registry, CoreOutcome]:
        from portreg import ops

        before["old"] = ops.find(r, sid).ports.get(body.environment)
        return ops.move(
            r,
            sid,
            body.port,
            body.environment,
            stamp,
            reason=body.reason,
            live=live,
            host=body.host,
        )

    out = await commit.mutate_live(
        st, who, op, lambda _policy: (body.port, body.port), host=body.host, service=sid
    )
    return json_response(
        {
            "service": out.service,
            "environment": out.environment,
            "old": before.get("old"),
            "new": out.port,
            "changed": out.changed,
        }
    )


def _describe(
    r: Registry, stamp: Stamp, sid: str, fields: dict[str, Any]
) -> tuple[Registry, CoreOutcome]:
    """`fields` set on a service just created; logged (and streamed) as an update."""
    from portreg.model import ChangeEntry
    from portreg.ops import find

    s = find(r, sid)
    what = ", ".join(sorted(fields))
    entry = ChangeEntry(stamp.at, stamp.who, "update", s.id, "", None, None, f"set {what}")
    return r.with_service(replace(s, **fields)).with_change(entry), CoreOutcome(
        s.id, "", None, True
    )
