"""/export and /import: the whole registry as a ports.toml document."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from fastapi.responses import PlainTextResponse

from portreg.errors import PortregError
from portreg.server import commit, queries
from portreg.server.deps import Reader, Writer
from portreg.server.responses import ERRORS, json_response
from portreg.server.schemas import Imported

router = APIRouter(responses=ERRORS, tags=["registry"])


@router.get(
    "/export",
    summary="the registry as ports.toml",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def export(st: Reader) -> PlainTextResponse:
    text = await queries.export_text(st)
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


@router.post(
    "/import",
    summary="replace the registry with a ports.toml document (text body)",
    responses={200: {"model": Imported}},
)
async def import_(
    document: Annotated[str, Body(media_type="text/plain", max_length=5_000_000)],
    auth: Writer,
    reason: str = "",
) -> Response:
    from portreg import store

    st, who = auth
    if not document.strip():
        raise PortregError("empty document: expected ports.toml text")
    registry = store.loads(document, source="request body")
    return json_response(
        await commit.replace_all(st, who, registry, reason or "imported ports.toml")
    )
