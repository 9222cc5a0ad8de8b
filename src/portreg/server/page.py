"""The web page: eight views at their own addresses, for the people who read the registry.

`/` and `/services` (the table), `/services/{id}` (one service), `/ranges`, `/topology`,
`/environments`, `/audit`, `/changes`, `/hosts`. Each is rendered on the server (Jinja2) from
`pageviews`, so it works, and can be shared, as a plain link; search, filters, sort and page
live in the query string. `static/app.js` (plain JavaScript, no build step, no inline script:
the page's CSP forbids it) then adds live updates, the write actions and keyboard shortcuts.

Parts, for the script (header `X-Portreg-Part`): `main` answers the view's `<main>` alone (a
live update of a view that is not the table), `summary` the header's strip, and
`/services/{id}` with `row` that service's table row — a live change to one service costs one
row, not the registry. With PORTREG_READ_AUTH=token a browser cannot send its token on
navigation: the page then renders an empty shell and the script fetches `main` with the token.
The page reads through the same query functions as `/api/v1` (`portreg.server.queries`).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from portreg.model import Registry, Service
from portreg.server import pageviews, queries
from portreg.server.deps import StateDep, principal
from portreg.server.errors import HttpError
from portreg.server.state import State

router = APIRouter(include_in_schema=False)

HERE = Path(__file__).parent
VIEWS = {
    "services": "Services",
    "ranges": "Ranges",
    "topology": "Topology",
    "environments": "Environments",
    "audit": "Audit",
    "changes": "Changes",
    "hosts": "Hosts",
}
NO_STORE = {"Cache-Control": "no-store", "Vary": "X-Portreg-Part, Authorization"}


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
    env.filters["json"] = _script_json
    return env


@cache
def _asset_version() -> str:
    """Changes whenever a static file does: the links carry it, the files are immutable."""
    import zlib

    digest = 0
    for p in sorted((HERE / "static").glob("*")):
        digest = zlib.crc32(p.name.encode() + p.read_bytes(), digest)
    return format(digest, "08x")


def _script_json(value: Any) -> str:
    """JSON safe inside <script type="application/json">: no `<` can end or confuse the element."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


async def _may_read(request: Request, st: State) -> bool:
    if st.settings.read_auth != "token":
        return True
    try:
        return await principal(request, st) is not None
    except HttpError:
        return False


async def _render(
    request: Request, st: State, view: str, template: str, build: Any, title: str
) -> Response:
    """One view: the whole page, or the part the script asked for."""
    part = request.headers.get("x-portreg-part", "")
    allowed = await _may_read(request, st)
    if part and not allowed:
        return JSONResponse({"detail": "reads need a token (Authorization: Bearer <token>)"}, 401)
    ctx: dict[str, Any] = {
        "view": view,
        "views": VIEWS,
        "version": _asset_version(),
        "read_auth": st.settings.read_auth,
        "write_auth": st.settings.write_auth,
        "ready": allowed,
        "page_title": title,
        "path": request.url.path,
        "query": str(request.url.query),
    }
    if allowed:
        event_id = st.broker.last_seen  # before reading: the script replays anything after it
        registry = await queries.registry_of(st)
        today = date.today()
        ranges = queries.ranges(registry)
        audit = queries.audit(registry, today)
        ctx.update(
            event_id=event_id,
            registry=registry,
            title=registry.title,
            project=registry.project,
            summary=pageviews.summary(ranges, audit, today),
            envs=pageviews.environments(registry),
            statuses=pageviews.STATUSES,
        )
        ctx.update(await build(registry, ranges, audit))
    env = _templates()
    if part == "summary":
        return HTMLResponse(env.get_template("_summary.html").render(**ctx), headers=NO_STORE)
    # each view's template holds one macro, `main(c)`: the whole page wraps it in base.html
    main = str(env.get_template(template).module.main(ctx)) if allowed else ""
    if part == "main":
        return HTMLResponse(main, headers=NO_STORE)
    from markupsafe import Markup

    html = env.get_template("base.html").render(**ctx, content=Markup(main))
    return HTMLResponse(html, headers=NO_STORE)


@router.get("/", response_class=HTMLResponse)
@router.get("/services", response_class=HTMLResponse)
async def services_view(request: Request, st: StateDep) -> Response:
    tq = pageviews.TableQuery.parse(request.query_params)

    async def build(registry: Registry, ranges: Any, audit: Any) -> dict[str, Any]:
        return {"tq": tq, "table": pageviews.table(registry, tq), "next_port": ranges["next"]}

    return await _render(request, st, "services", "services.html", build, "Services")


@router.get("/services/{sid}", response_class=HTMLResponse)
async def service_view(sid: str, request: Request, st: StateDep) -> Response:
    from portreg.errors import PortregError

    registry = await queries.registry_of(st) if await _may_read(request, st) else None
    if registry is not None:
        try:
            service = _page_service(registry, sid)
        except PortregError as exc:
            if request.headers.get("x-portreg-part") == "row":
                return Response(status_code=404, headers=NO_STORE)
            from markupsafe import Markup, escape

            html = _templates().get_template("base.html").render(
                view="services", views=VIEWS, version=_asset_version(), ready=True,
                read_auth=st.settings.read_auth, write_auth=st.settings.write_auth,
                page_title="Not found", title=registry.title, project=registry.project,
                content=Markup(f'<h1>Not found</h1><p class="notice">{escape(exc.message)}.</p>'
                               '<p><a href="/services">All services</a></p>'),
            )  # fmt: skip
            return HTMLResponse(html, status_code=404, headers=NO_STORE)
        if request.headers.get("x-portreg-part") == "row":
            envs = pageviews.environments(registry)
            macro = _templates().get_template("services.html").module.row
            row = pageviews.service_row(service, envs)
            extra = [e for e in envs if e not in pageviews.ENVIRONMENTS]
            return HTMLResponse(str(macro(row, extra)), headers=NO_STORE)

    async def build(registry: Registry, ranges: Any, audit: Any) -> dict[str, Any]:
        from portreg.records import service_detail

        s = _page_service(registry, sid)
        named = [] if s.port_name is not None else [p for p in registry.ports_of(s.base) if p != s]
        header = bool(named) and not s.ports
        detail = service_detail(s) if header else json.loads(await queries.service_body(st, s.id))
        return {
            "s": detail,
            "named": named,
            "service": s,
            "depends_on": [registry.get(d) or d for d in s.depends_on],
            "dependents": pageviews.dependents(registry, s.id),
            "with_port": [e for e, p in s.ports.items() if p is not None],
        }

    return await _render(request, st, "services", "service.html", build, sid)


@router.get("/ranges", response_class=HTMLResponse)
async def ranges_view(request: Request, st: StateDep) -> Response:
    async def build(registry: Registry, ranges: Any, audit: Any) -> dict[str, Any]:
        rm = pageviews.range_map(registry, ranges)
        picked = request.query_params.get("port", "")
        return {
            "ranges": ranges,
            "rm": rm,
            "owners_json": {str(k): v for k, v in rm["owners"].items()},
            "avoid": registry.policy.avoid,
            "picked": picked if picked.isdigit() else "",
        }

    return await _render(request, st, "ranges", "ranges.html", build, "Ranges")


@router.get("/topology", response_class=HTMLResponse)
async def topology_view(request: Request, st: StateDep) -> Response:
    async def build(registry: Registry, ranges: Any, audit: Any) -> dict[str, Any]:
        return {"t": pageviews.topology(registry)}

    return await _render(request, st, "topology", "topology.html", build, "Topology")


@router.get("/environments", response_class=HTMLResponse)
async def environments_view(request: Request, st: StateDep) -> Response:
    q = request.query_params.get("q", "").strip()[:200]

    async def build(registry: Registry, ranges: Any, audit: Any) -> dict[str, Any]:
        tq = pageviews.TableQuery(q=q)
        everything = pageviews.table(registry, tq)
        envs = pageviews.environments(registry)
        rows = [
            pageviews.service_row(s, envs)
            for s in sorted(registry.listed(), key=lambda s: s.name.casefold())
            if not q or pageviews._matches(s, q)
        ]
        counts = {
            e: {
                "assigned": sum(
                    1 for s in registry.services.values() if s.ports.get(e) is not None
                ),
                "tbd": sum(
                    1 for s in registry.services.values() if e in s.ports and s.ports[e] is None
                ),
            }
            for e in envs
        }
        return {"rows": rows, "counts": counts, "q": q, "total": everything["total"]}

    return await _render(request, st, "environments", "environments.html", build, "Environments")


@router.get("/audit", response_class=HTMLResponse)
async def audit_view(request: Request, st: StateDep) -> Response:
    async def build(registry: Registry, ranges: Any, audit: Any) -> dict[str, Any]:
        # The registry's checks and each reporting host's, as /api/v1/audit answers them.
        return {"audit": await queries.audit_with_hosts(st, registry, date.today())}

    return await _render(request, st, "audit", "audit.html", build, "Audit")


@router.get("/changes", response_class=HTMLResponse)
async def changes_view(request: Request, st: StateDep) -> Response:
    service = request.query_params.get("service", "").strip()[:200] or None

    async def build(registry: Registry, ranges: Any, audit: Any) -> dict[str, Any]:
        log = await queries.change_log(st, service, 200)
        return {"changes": list(reversed(log)), "service_filter": service or ""}

    return await _render(request, st, "changes", "changes.html", build, "Changes")


@router.get("/hosts", response_class=HTMLResponse)
async def hosts_view(request: Request, st: StateDep) -> Response:
    async def build(registry: Registry, ranges: Any, audit: Any) -> dict[str, Any]:
        # What each host last reported (issue 13's agents), as GET /api/v1/hosts and
        # /api/v1/hosts/{host}/listeners answer it.
        import json

        from portreg.server import hosts
        from portreg.server.codec import utcnow

        async with st.engine.connect() as conn:
            rows = await hosts.host_rows(conn, utcnow())
            for row in rows:
                text = await hosts.listener_rows(conn, row["host"])
                listeners = json.loads(text) if text else []
                row["rows"] = sorted(
                    (r for r in listeners if isinstance(r, dict)),
                    key=lambda r: (r.get("port") or 0, str(r.get("protocol") or "")),
                )
        return {"hosts": rows, "registry_host": registry.host}

    return await _render(request, st, "hosts", "hosts.html", build, "Hosts")


def _page_service(registry: Registry, sid: str) -> Service:
    """The service a `/services/{sid}` page shows: the exact id first, so `kong`, whose ports
    all have names, is a page of its own (find() asks for `kong:NAME`, rightly, when a
    command must pick one port), else whatever `find` resolves the spelling to."""
    from portreg.ops import find

    return registry.get(sid) or find(registry, sid)


@router.get("/_page/whoami")
async def whoami(request: Request, st: StateDep) -> Response:
    """The token the page was given, checked at once: its name and scope, or why not.

    A refused token is a 200 with `accepted: false`: the page asked whether the token is good
    and "no" is the answer, not a failed request (a 401 here would put a network error in the
    browser's console each time someone mistypes a token)."""
    try:
        who = await principal(request, st)
    except HttpError as exc:
        return JSONResponse({"accepted": False, "detail": exc.detail}, headers=NO_STORE)
    if who is None:
        return JSONResponse({"name": None, "scope": None, "write_auth": st.settings.write_auth})
    return JSONResponse(
        {"name": who.name, "scope": who.scope, "can_write": who.can_write},
        headers=NO_STORE,
    )


_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@cache
def _asset(name: str) -> tuple[bytes, bytes, str] | None:
    """A static file, read once and gzipped once (they change only with a release): serving
    them from memory skips the thread pool a file response needs, which a loaded machine
    made cost 100-250 ms per file on the first load."""
    import gzip

    path = HERE / "static" / name
    kind = _TYPES.get(path.suffix)
    if kind is None or "/" in name or not path.is_file():
        return None
    body = path.read_bytes()
    return body, gzip.compress(body, 9, mtime=0), kind


@router.get("/static/{name}")
async def static(name: str, request: Request) -> Response:
    """Cache-Control is the edge's (`edge.Edge`): immutable when the link carries `?v=`."""
    found = _asset(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    body, packed, kind = found
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(packed, media_type=kind, headers=headers)
    return Response(body, media_type=kind, headers={"Vary": "Accept-Encoding"})


@router.get("/favicon.ico")
async def favicon() -> Response:
    found = _asset("favicon.svg")
    assert found is not None
    return Response(
        found[0], media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )
