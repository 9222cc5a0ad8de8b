"""What each view of the web page shows, computed from a Registry: plain values in, plain values
out (no I/O), so the routes in `page` only fetch, call one of these and render.

Decisions where issue 15 left a choice:

- The services table pages by PER_PAGE rows (server-side, `?page=`): 500 rows made a 28,000 px
  page; a hundred stay scannable, and search, filters and sort cover the rest.
- Sorting by a port column puts TBD and missing ports last in both directions, as the old page
  did, so "first free" questions always read from the top.
- The topology draws every service that takes part in a dependency (not the alphabetically
  first 60) at its natural size; the page scrolls and zooms it instead of shrinking it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from portreg.model import Registry, Service

ENVIRONMENTS = ("development", "staging", "production")
STATUSES = ("active", "planned", "reserved", "deprecated")
SORTS = ("name", "development", "staging", "production", "protocol", "status")
PER_PAGE = 100

# The topology's geometry, in CSS pixels at zoom 1: labels are 13 px (the issue asks >= 11).
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 176, 46, 28, 70, 24
LABEL_CHARS = 22


@dataclass(frozen=True)
class TableQuery:
    """The services table's state, as the URL carries it (`?q=&env=&status=&sort=&dir=&page=`)."""

    q: str = ""
    env: str = ""
    status: str = ""
    sort: str = "name"
    desc: bool = False
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> TableQuery:
        """Unknown or malformed values fall back to the defaults: a shared link never 400s."""
        sort = params.get("sort", "name")
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        status = params.get("status", "")
        return cls(
            q=params.get("q", "").strip()[:200],
            env=params.get("env", "").strip()[:64],
            status=status if status in STATUSES else "",
            sort=sort if sort in SORTS else "name",
            desc=params.get("dir") == "desc",
            page=page,
        )

    def params(self, **change: Any) -> dict[str, str]:
        """The query string of this state with `change` applied, defaults left out."""
        values = {
            "q": self.q,
            "env": self.env,
            "status": self.status,
            "sort": self.sort,
            "dir": "desc" if self.desc else "asc",
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in change.items()})
        defaults = {"sort": "name", "dir": "asc", "page": "1"}
        return {k: v for k, v in values.items() if v and defaults.get(k) != v}


def environments(registry: Registry) -> list[str]:
    """The three standard environments first, then any others the registry uses."""
    extra = {e for s in registry.services.values() for e in s.ports} - set(ENVIRONMENTS)
    return [*ENVIRONMENTS, *sorted(extra)]


def service_row(s: Service, envs: list[str]) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.label,  # `Kong (https)`: one of several ports says which
        "status": s.status,
        "protocol": s.protocol,
        "transport": s.transport,
        "notes": s.notes or s.purpose,
        # As people write them: a range shows whole (`53500-53509`), TBD stays None.
        "ports": {e: None if s.ports[e] is None else s.span(e) for e in envs if e in s.ports},
        "connection": s.connection_strings[0].render(s.primary_port)
        if s.connection_strings and s.primary_port is not None
        else "",
    }


def _matches(s: Service, q: str) -> bool:
    hay = " ".join(
        [s.id, s.name, s.notes, s.purpose, s.protocol, s.status]
        + [f"{e} {s.span(e)}" for e in s.ports]
    ).lower()
    # A number inside a registered range finds its service, as `check` would.
    return all(
        word in hay or (word.isdigit() and len(word) <= 5 and bool(s.covers(int(word))))
        for word in q.lower().split()
    )


def table(registry: Registry, tq: TableQuery) -> dict[str, Any]:
    """The services view: the rows of one page, the counts, and the paging."""
    envs = environments(registry)
    found = [
        s
        for s in registry.listed()  # `kong`'s named ports stand for it
        if (not tq.env or tq.env in s.ports)
        and (not tq.status or s.status == tq.status)
        and (not tq.q or _matches(s, tq.q))
    ]
    by_name = sorted(found, key=lambda s: (s.name.casefold(), s.id))
    if tq.sort in ENVIRONMENTS:
        with_port = [s for s in by_name if s.ports.get(tq.sort) is not None]
        without = [s for s in by_name if s.ports.get(tq.sort) is None]
        with_port.sort(key=lambda s: s.ports[tq.sort] or 0, reverse=tq.desc)
        ordered = with_port + without  # TBD last, whichever the direction
    elif tq.sort in ("protocol", "status"):
        ordered = sorted(by_name, key=lambda s: str(getattr(s, tq.sort)).casefold())
        if tq.desc:
            ordered.reverse()
    else:
        ordered = by_name[::-1] if tq.desc else by_name
    pages = max(1, -(-len(ordered) // PER_PAGE))
    page = min(tq.page, pages)
    shown = ordered[(page - 1) * PER_PAGE : page * PER_PAGE]
    return {
        "rows": [service_row(s, envs) for s in shown],
        "matched": len(ordered),
        "total": len(registry.listed()),
        "page": page,
        "pages": pages,
        "first": (page - 1) * PER_PAGE + 1 if shown else 0,
        "last": (page - 1) * PER_PAGE + len(shown),
        "extra_envs": [e for e in envs if e not in ENVIRONMENTS],
        "environments": envs,
    }


def summary(ranges: dict[str, Any], audit: dict[str, Any], today: date) -> dict[str, Any]:
    """The header's strip: assigned, reserved, free, next port and when the audit is due."""
    due = audit.get("next_audit")
    overdue = isinstance(due, str) and date.fromisoformat(due) < today
    return {
        "assigned": len(ranges["assigned"]),
        "reserved": len(ranges["reserved"]),
        "free": ranges["free"],
        "next": ranges["next"],
        "audit_due": due,
        "audit_overdue": overdue,
    }


def dependents(registry: Registry, sid: str) -> list[Service]:
    """The services that depend on `sid` (the other half of "what it depends on")."""
    return sorted(
        (s for s in registry.services.values() if sid in s.depends_on and s.id != sid),
        key=lambda s: s.name.casefold(),
    )


def range_map(registry: Registry, ranges: dict[str, Any]) -> dict[str, Any]:
    """The range view: per-port owners, runs of one kind per row for the drawing, free blocks."""
    start, end = ranges["start"], ranges["end"]
    owners: dict[int, dict[str, str]] = {}
    for s in registry.services.values():
        kind = "reserved" if s.reserved else "assigned"
        for env, taken in s.occupied():
            for port in taken:
                if start <= port <= end:
                    owners.setdefault(port, {"id": s.id, "name": s.name, "kind": kind, "env": env})
    kinds: dict[int, str] = dict.fromkeys(ranges["avoided"], "avoided")
    kinds.update({p: o["kind"] for p, o in owners.items()})
    n = end - start + 1
    cols = min(100, n)
    rows = -(-n // cols)
    runs: list[dict[str, Any]] = []
    ports = sorted(kinds)
    i = 0
    while i < len(ports):
        p = ports[i]
        row = (p - start) // cols
        j = i + 1
        while (
            j < len(ports)
            and ports[j] == ports[j - 1] + 1
            and kinds[ports[j]] == kinds[p]
            and (ports[j] - start) // cols == row
        ):
            j += 1
        runs.append(
            {
                "kind": kinds[p],
                "first": p,
                "last": ports[j - 1],
                "row": row,
                "col": (p - start) % cols,
            }
        )
        i = j
    blocks: list[tuple[int, int]] = []
    run_start: int | None = None
    for p in range(start, end + 2):
        free = p <= end and p not in kinds
        if free and run_start is None:
            run_start = p
        elif not free and run_start is not None:
            blocks.append((run_start, p - 1))
            run_start = None
    blocks.sort(key=lambda b: (-(b[1] - b[0]), b[0]))
    return {
        "cols": cols,
        "rows": rows,
        "runs": runs,
        "owners": owners,
        "row_starts": [start + r * cols for r in range(rows)],
        "blocks": blocks[:20],
        "block_count": len(blocks),
        "last_col_width": n - (rows - 1) * cols,
    }


def _order_layers(layers: list[list[str]], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Barycentre sweeps (Sugiyama's usual heuristic): each node moves towards the mean
    position of its neighbours in the layer above, then below, which removes most needless
    crossings of a layered drawing in a few passes."""
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for a, b in edges:  # a depends on b: b sits in a higher layer
        up.setdefault(a, []).append(b)
        down.setdefault(b, []).append(a)
    order = [list(layer) for layer in layers]

    def sweep(k: int, ref: list[str], links: dict[str, list[str]]) -> None:
        pos = {x: i for i, x in enumerate(ref)}
        here = {x: i for i, x in enumerate(order[k])}  # list.sort empties the list meanwhile

        def centre(x: str) -> float:
            near = [pos[y] for y in links.get(x, []) if y in pos]
            return sum(near) / len(near) if near else float(here[x])

        order[k].sort(key=centre)

    for _ in range(4):
        for k in range(1, len(order)):
            sweep(k, order[k - 1], up)
        for k in range(len(order) - 2, -1, -1):
            sweep(k, order[k + 1], down)
    return order


def topology(registry: Registry) -> dict[str, Any]:
    """A layered drawing of `depends_on`: dependencies on top, the services using them below.

    Every service that takes part in a dependency is drawn; the layering and its cycle rule
    are the terminal diagram's (`render.layers`), the order within a layer is chosen to cross
    few lines (`_order_layers`).
    """
    from portreg.render import layers as layered

    services = registry.services
    edges = [
        (s.id, d) for s in services.values() for d in s.depends_on if d in services and d != s.id
    ]
    ids = sorted({x for e in edges for x in e}, key=lambda i: services[i].name.casefold())
    tiers = [[s.id for s in tier] for tier in layered([services[i] for i in ids])]
    tiers = _order_layers(tiers, edges)
    widest = max((len(t) for t in tiers), default=0)
    width = max(PAD * 2 + widest * BOX_W + max(widest - 1, 0) * GAP_X, 360)
    nodes: dict[str, dict[str, Any]] = {}
    for d, members in enumerate(tiers):
        row_w = len(members) * BOX_W + (len(members) - 1) * GAP_X
        x0 = (width - row_w) / 2
        for k, i in enumerate(members):
            s = services[i]
            label = s.name if len(s.name) <= LABEL_CHARS else s.name[: LABEL_CHARS - 1] + "…"
            nodes[i] = {
                "id": i,
                "name": s.name,
                "label": label,
                "port": s.primary_port,
                "status": s.status,
                "x": round(x0 + k * (BOX_W + GAP_X), 1),
                "y": PAD + 28 + d * (BOX_H + GAP_Y),
            }
    height = PAD * 2 + 28 + len(tiers) * BOX_H + max(len(tiers) - 1, 0) * GAP_Y
    lines = []
    for a, b in edges:
        x1, y1 = nodes[a]["x"] + BOX_W / 2, nodes[a]["y"]
        x2, y2 = nodes[b]["x"] + BOX_W / 2, nodes[b]["y"] + BOX_H
        mid = (y1 + y2) / 2
        lines.append(
            {
                "from": a,
                "to": b,
                "d": f"M{x1:.1f},{y1} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2 + 6}",
            }
        )
    # What the drawing cannot show is said under it, not dropped without a word.
    unshown = sorted(
        (
            (s.name, s.id, "itself" if d == s.id else d, d == s.id)
            for s in services.values()
            for d in s.depends_on
            if d == s.id or d not in services
        ),
        key=lambda u: u[0].casefold(),
    )
    return {
        "nodes": list(nodes.values()),
        "edges": lines,
        "unshown": [{"name": n, "id": i, "on": on, "self": me} for n, i, on, me in unshown],
        "width": width,
        "height": height,
        "box_w": BOX_W,
        "box_h": BOX_H,
        "host": registry.host,
    }
