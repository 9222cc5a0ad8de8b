"""/assignments and /reservations: hand out, release and keep ports by the policy."""

from __future__ import annotations

from fastapi import APIRouter, Response

from portreg.model import Policy, Registry
from portreg.ops import Outcome as CoreOutcome, Stamp
from portreg.server import commit
from portreg.server.deps import Writer
from portreg.server.responses import ERRORS, json_response
from portreg.server.schemas import AssignmentIn, AssignmentOut, Outcome, ReservationIn

router = APIRouter(responses=ERRORS, tags=["assignments"])


@router.post(
    "/assignments",
    summary="the service's port in the environment; the next free one by the policy if new",
    responses={
        200: {"model": AssignmentOut, "description": "Already assigned"},
        201: {"model": AssignmentOut, "description": "Assigned now"},
    },
)
async def assign(body: AssignmentIn, auth: Writer) -> Response:
    st, who = auth
    res = await commit.assign(
        st,
        who,
        body.service,
        body.environment,
        body.protocol,
        body.transport,
        body.reason,
        body.host,
    )
    return json_response(res, 201 if res["created"] else 200)


@router.delete(
    "/assignments/{service}/{environment}",
    summary="release the service's port in one environment (it becomes TBD)",
    responses={200: {"model": Outcome}},
)
async def release(service: str, environment: str, auth: Writer, reason: str = "") -> Response:
    from portreg import ops

    st, who = auth
    out = await commit.mutate(
        st, who, lambda r, s: ops.release(r, service, s, environment=environment), reason
    )
    return json_response(commit.outcome_body(out))


@router.post(
    "/reservations",
    summary="keep a port for a planned service",
    responses={200: {"model": Outcome}},
)
async def reserve(body: ReservationIn, auth: Writer) -> Response:
    from portreg import ops

    st, who = auth
    named = body.port

    def op(r: Registry, stamp: Stamp, live: set[int]) -> tuple[Registry, CoreOutcome]:
        return ops.reserve(
            r,
            body.service,
            stamp,
            port=named,
            purpose=body.purpose,
            environment=body.environment,
            live=live,
            host=body.host,
        )

    def span(policy: Policy) -> tuple[int, int]:
        return (policy.range_start, policy.range_end) if named is None else (named, named)

    out = await commit.mutate_live(st, who, op, span, host=body.host, service=body.service)
    return json_response(commit.outcome_body(out))
