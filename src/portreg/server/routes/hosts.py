"""/hosts: agents report what listens on their host; the server keeps the last report per host."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from portreg.server.deps import Reader, Reporter
from portreg.server.errors import HttpError
from portreg.server.responses import ERRORS, json_response

router = APIRouter(responses=ERRORS, tags=["hosts"])

HostName = Annotated[
    str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]


class ReportIn(BaseModel):
    listeners: list[dict[str, Any]] = Field(
        description="rows as `portreg scan --json` prints them; a missing field is unknown"
    )
    interval: float | None = Field(
        default=None,
        gt=0,
        le=86400,
        description="seconds until the next report (default PORTREG_AGENT_INTERVAL)",
    )


class Reported(BaseModel):
    host: str
    listeners: int
    reported_at: str


class HostOut(BaseModel):
    host: str
    last_report: str
    listeners: int
    interval: float
    age_seconds: float
    stale: bool = Field(description="no report for three intervals")


@router.put(
    "/hosts/{host}/listeners",
    summary="an agent's report: everything that listens on its host now",
    responses={200: {"model": Reported}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ReportIn.model_json_schema()}},
        }
    },
)
async def report(host: HostName, request: Request, auth: Reporter) -> Response:
    """The body is read raw: a report byte for byte the same as the host's last one (what an
    agent sends every interval while nothing changes) is only re-dated, unparsed. Anything
    else is validated by `ReportIn` (422 as for any body) and stored."""
    import hashlib

    from pydantic import ValidationError

    from portreg.server import hosts

    st, _who = auth
    start = time.perf_counter()
    raw = await request.body()
    digest = hashlib.sha256(raw).hexdigest()
    at = hosts.report_time()
    async with st.report_gate:
        count = await hosts.touch_report(st.engine, host, digest, at)
        if count is None:
            try:
                body = ReportIn.model_validate_json(raw)
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from None
            if len(body.listeners) > st.settings.max_listeners:
                raise HttpError(
                    413,
                    f"a report may carry at most {st.settings.max_listeners} listeners "
                    f"(PORTREG_MAX_LISTENERS); got {len(body.listeners)}",
                )
            rows = hosts.normalise(body.listeners)
            interval = body.interval or st.settings.agent_interval
            await hosts.store_report(st.engine, host, rows, interval, at, digest)
            count = len(rows)
            st.metrics.host_listeners.labels(host).set(
                len({(r["protocol"], r["port"]) for r in rows})
            )
    st.metrics.reports.inc()
    st.metrics.report_latency.observe(time.perf_counter() - start)
    return json_response(
        {
            "host": host,
            "listeners": count,
            "reported_at": at.replace(microsecond=0).isoformat(sep=" "),
        }
    )


@router.get(
    "/hosts",
    summary="every host that reported: last report, listener count, stale or not",
    responses={200: {"model": list[HostOut]}},
)
async def list_hosts(st: Reader) -> Response:
    from portreg.server import hosts
    from portreg.server.codec import utcnow

    async with st.engine.connect() as conn:
        return json_response(await hosts.host_rows(conn, utcnow()))


@router.get(
    "/hosts/{host}/listeners",
    summary="the rows of the host's last report",
    responses={200: {"model": list[dict[str, Any]]}},
)
async def host_listeners(host: HostName, st: Reader) -> Response:
    from portreg.server import hosts

    async with st.engine.connect() as conn:
        found = await hosts.listener_rows(conn, host)
    if found is None:
        raise HttpError(404, f"host {host!r} has not reported (see GET /api/v1/hosts)")
    return Response(found, media_type="application/json")
