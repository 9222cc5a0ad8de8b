"""The web page at `/`: the registry, live, for the people who read it.

Rendered on the server (Jinja2) for a fast first paint; `static/app.js` (plain JavaScript, no build
step) then adds filtering, sorting, the detail dialog, live updates from the SSE stream and the
write actions. The page reads its data through the same query functions as `/api/v1`
(`portreg.server.queries`), so what it shows is exactly what the API answers.
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from portreg.model import Registry
from portreg.server import queries
from portreg.server.deps import StateDep, check_read
from portreg.server.state import State

router = APIRouter()

HERE = Path(__file__).parent
ENVIRONMENTS = ("development", "staging", "production")
TOPOLOGY_MAX_NODES = 60


@cache
def _templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["port"] = lambda p: "TBD" if p is None else str(p)
    return env


@cache
def _asset_version() -> str:
    """Changes whenever a static file does, so browsers never run stale JavaScript."""
    import zlib

    stamps = [f"{p.name}:{p.stat().st_mtime_ns}" for p in sorted((HERE / "static").glob("*"))]
    return format(zlib.crc32("|".join(stamps).encode()), "08x")


def _script_json(value: Any) -> str:
    """JSON safe inside <script type="application/json">: no `<` can end or confuse the element."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def services_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per service (the table's rows) from the API's per-environment rows."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = out.get(r["service"])
        if s is None:
            s = out[r["service"]] = {
                "service": r["service"],
                "name": r["name"],
                "protocol": r["protocol"],
                "transport": r["transport"],
                "status": r["status"],
                "notes": r["notes"],
                "purpose": r["purpose"],
                "ports": {},
            }
        s["ports"][r["environment"]] = r["port"]
    return list(out.values())


def primary(ports: dict[str, int | None]) -> tuple[str, int | None]:
    """The environment and port the table shows: development's, else the first with a port."""
    if ports.get("development") is not None:
        return "development", ports["development"]
    for env, port in ports.items():
        if port is not None:
            return env, port
    return next(iter(ports), "development"), None


def topology(registry: Registry) -> dict[str, Any]:
    """A layered drawing of `depends_on`: dependencies on top, the services using them below.

    Only services that take part in a dependency are drawn (at most TOPOLOGY_MAX_NODES, by
    name); the layering and its cycle rule are the terminal diagram's (`render.layers`).
    """
    from portreg.render import layers as layered

    services = registry.services
    edges = [
        (s.id, d) for s in services.values() for d in s.depends_on if d in services and d != s.id
    ]
    ids = sorted({x for e in edges for x in e}, key=lambda i: services[i].name.lower())
    truncated = len(ids) > TOPOLOGY_MAX_NODES
    ids = ids[:TOPOLOGY_MAX_NODES]
    keep = set(ids)
    edges = [e for e in edges if e[0] in keep and e[1] in keep]
    layers = {d: [s.id for s in tier] for d, tier in enumerate(layered([services[i] for i in ids]))}
    box_w, box_h, gap_x, gap_y, pad = 150, 46, 30, 60, 20
    widest = max((len(v) for v in layers.values()), default=0)
    width = max(pad * 2 + widest * box_w + max(widest - 1, 0) * gap_x, 360)
    nodes: dict[str, dict[str, Any]] = {}
    for d, members in sorted(layers.items()):
        row_w = len(members) * box_w + (len(members) - 1) * gap_x
        x0 = (width - row_w) / 2
        for k, i in enumerate(members):
            s = services[i]
            nodes[i] = {
                "id": i,
                "name": s.name,
                "port": s.primary_port,
                "status": s.status,
                "x": x0 + k * (box_w + gap_x),
                "y": pad + 24 + d * (box_h + gap_y),
            }
    height = pad * 2 + 24 + len(layers) * box_h + max(len(layers) - 1, 0) * gap_y
    lines = [
        {
            "from": a,
            "to": b,
            "x1": nodes[a]["x"] + box_w / 2,
            "y1": nodes[a]["y"],
            "x2": nodes[b]["x"] + box_w / 2,
            "y2": nodes[b]["y"] + box_h,
        }
        for a, b in edges
    ]
    return {
        "nodes": list(nodes.values()),
        "edges": lines,
        "width": width,
        "height": height,
        "box_w": box_w,
        "box_h": box_h,
        "host": registry.host,
        "truncated": truncated,
    }


def _compact(s: dict[str, Any]) -> dict[str, Any]:
    keys = ("service", "name", "protocol", "transport", "status", "notes", "purpose", "ports")
    return {k: s[k] for k in keys}


async def _context(st: State) -> dict[str, Any]:
    ctx: dict[str, Any] = {"read_auth": st.settings.read_auth, "version": _asset_version()}
    if st.settings.read_auth == "token":  # the page asks for a token and loads everything by JS
        ctx.update(ready=False, services=[], rows=[], title="portreg", project="")
        return ctx
    event_id = st.broker.last_seen  # before reading: the page replays anything after it
    registry = await queries.registry_of(st)
    rows = queries.service_rows(registry)
    ranges = queries.ranges(registry)
    audit = queries.audit(registry, date.today())
    policy = queries.policy(registry)
    services = services_of(rows)
    envs = list(ENVIRONMENTS) + sorted({r["environment"] for r in rows} - set(ENVIRONMENTS))
    for s in services:
        s["env"], s["port"] = primary(s["ports"])
    ctx.update(
        ready=True,
        title=registry.title,
        project=registry.project,
        purpose=registry.purpose,
        services=services,
        environments=envs,
        statuses=("active", "planned", "reserved", "deprecated"),
        ranges=ranges,
        audit=audit,
        policy=policy,
        topology=topology(registry),
        initial=_script_json(
            {
                "services": [_compact(s) for s in services],
                "ranges": ranges,
                "audit": audit,
                "policy": policy,
                "event_id": event_id,
            }
        ),
    )
    return ctx


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
async def index(request: Request, st: StateDep) -> HTMLResponse:
    if request.query_params.get("part") == "topology":  # the live page redraws it from this
        await check_read(request, st)
        t = topology(await queries.registry_of(st))
        html = _templates().get_template("topology.svg").render(t=t)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})
    html = _templates().get_template("index.html").render(**await _context(st))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
