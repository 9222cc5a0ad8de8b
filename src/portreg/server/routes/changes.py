"""/changes, /audit and /events: the change log, the registry's audit, the live stream."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from portreg.server import queries
from portreg.server.deps import Reader, StreamReader
from portreg.server.errors import HttpError
from portreg.server.responses import ERRORS, json_response
from portreg.server.schemas import Audit, Change, StreamTicket

router = APIRouter(responses=ERRORS, tags=["changes"])
MAX_EVENT_ID = 2**63 - 1

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`id:`/`event:`/`data:` frames; each `data:` is one JSON change event",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/changes",
    summary="the change log, oldest first",
    responses={200: {"model": list[Change]}},
)
async def change_log(
    st: Reader,
    service: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> Response:
    return json_response(await queries.change_log(st, service, limit))


@router.get(
    "/audit",
    summary="the registry's audit findings, and each reported host's (with `host`)",
    responses={200: {"model": Audit}},
)
async def audit(st: Reader) -> Response:
    registry = await queries.registry_of(st)
    return json_response(await queries.audit_with_hosts(st, registry, date.today()))


@router.get(
    "/events",
    summary="Server-Sent Events; honours Last-Event-ID",
    response_class=StreamingResponse,
    responses=_STREAM,
)
async def events(
    st: StreamReader,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=30)] = None,
    last: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="same as Last-Event-ID")
    ] = None,
) -> StreamingResponse:
    from portreg.server.events import open_stream

    start = last
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
        if start > MAX_EVENT_ID:
            # Beyond any id the database can hold (a BIGINT): the database would refuse the
            # query forever, and the stream would only ever say "database unavailable".
            raise HttpError(422, f"invalid request: Last-Event-ID above {MAX_EVENT_ID}")
    return StreamingResponse(
        await open_stream(st.broker, start, st.settings.ping_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/stream-tickets",
    summary="a short-lived ticket for /events?ticket= (EventSource cannot send Authorization)",
    responses={200: {"model": StreamTicket}},
)
async def stream_ticket(st: Reader) -> Response:
    from portreg.server import tickets

    return json_response({"ticket": tickets.issue(st.stream_secret), "expires_in": tickets.TTL})
