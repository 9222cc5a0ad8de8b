"""/ports/{port}, /policy and /ranges: what the policy allows and what is free."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from portreg.server import queries
from portreg.server.deps import Reader
from portreg.server.responses import ERRORS, json_response
from portreg.server.schemas import PolicyOut, PortInfo, Ranges

router = APIRouter(responses=ERRORS, tags=["ports"])


@router.get(
    "/ports/{port}",
    summary="is this port registered, and allowed?",
    responses={200: {"model": PortInfo}},
)
async def port_info(port: Annotated[int, Path(ge=1, le=65535)], st: Reader) -> Response:
    return json_response(queries.port_info(await queries.registry_of(st), port))


@router.get("/policy", summary="the port policy", responses={200: {"model": PolicyOut}})
async def policy(st: Reader) -> Response:
    return json_response(queries.policy(await queries.registry_of(st)))


@router.get(
    "/ranges",
    summary="the policy range: what is taken, what is free",
    responses={200: {"model": Ranges}},
)
async def ranges(st: Reader) -> Response:
    return json_response(queries.ranges(await queries.registry_of(st)))
