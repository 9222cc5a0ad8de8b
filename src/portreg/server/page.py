"""Placeholder for the web page (owned by the web-page engineer): a plain page at `/`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
async def index() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'><title>portreg</title></head>"
        "<body><h1>portreg</h1><p>API: <a href='/docs'>/docs</a></p></body></html>"
    )
