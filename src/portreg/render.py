"""The registry as the seed's Markdown page, as JSON, and as a topology diagram.

Pure and deterministic: the same registry always gives the same bytes. Everything the page
states is read back by `portreg.importers.markdown` (render → import gives the same registry
facts), and the parts the seed wrote by hand (rules, conflict procedure, change procedure,
audit checklist) are generated from the policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from portreg.errors import PortregError
from portreg.model import Registry, Service
from portreg.policy import next_audit
from portreg.records import policy_dict

MARKER_TABLES = ("services", "reserved", "environments")

# Names for the avoid list's well-known ports, grouped as the seed groups them.
_KNOWN: dict[str, dict[int, str]] = {
    "Web": {80: "", 443: "", 3000: "", 5000: "", 8000: "", 8080: "", 8443: "", 9000: ""},
    "Databases": {5432: "Postgres", 3306: "MySQL", 27017: "MongoDB", 6379: "Redis"},
    "Message Queues": {5672: "RabbitMQ", 9092: "Kafka"},
    "Other": {22: "SSH", 25: "SMTP", 53: "DNS"},
}


# --- cells -------------------------------------------------------------------------------------


_SCRIPT_LINK = re.compile(r"\]\(\s*(?=(?:javascript|vbscript|data):)", re.IGNORECASE)


def _inline(text: str) -> str:
    """Text from the registry as one line of Markdown that stays text: a newline (a name or a
    note from a hand-edited file) cannot start a heading or a row, `<` cannot open raw HTML or
    an autolink, and a `](javascript:` link is broken up. Other Markdown (`**bold**`, links to
    pages) is kept: imported cells keep their source, and the page must read back the same."""
    flat = " ".join(text.split()).replace("<", "&lt;")
    return _SCRIPT_LINK.sub("]\\\\(", flat) if "](" in flat else flat


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("-" * (len(h) + 2) for h in header) + "|",
    ]
    out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(out)


def _port(port: int | None, s: Service | None = None) -> str:
    if port is None:
        return "TBD"
    return str(port) if s is None or s.width == 1 else f"{port}-{port + s.width - 1}"


def _title(word: str) -> str:
    return word[:1].upper() + word[1:]


def protocol_cell(s: Service) -> str:
    """The Protocol column as the seed writes it: HTTP, TCP (name says which), UDP."""
    from portreg.protocols import infer_protocol

    if s.transport == "tcp" and s.protocol in ("http", "https"):
        return s.protocol.upper()
    if s.transport == "udp" and s.protocol == "udp":
        return "UDP"
    if s.transport == "tcp" and s.protocol == infer_protocol(s.name, s.process):
        return "TCP"
    if "+" in s.transport and s.protocol in ("tcp", "udp"):
        return "TCP+UDP"
    return f"{s.transport.upper()} ({s.protocol})"  # TCP+UDP for one port on both


def _rows(s: Service) -> list[tuple[str, int | None]]:
    """(environment, port) rows of a service: each assigned port, or one TBD row if none."""
    rows: list[tuple[str, int | None]] = list(s.assigned())
    if not rows:
        rows = [(next(iter(s.ports), "development"), None)]
    return rows


# --- the marker tables -------------------------------------------------------------------------


def _services_table(registry: Registry) -> str:
    active = [s for s in registry.listed() if not s.reserved]
    with_purpose = any(s.purpose for s in active)
    # A Host column only for a registry of several hosts, so a one-host page stays the seed's.
    with_host = any(s.host for s in active)
    header: tuple[str, ...] = ("Service", "Port", "Protocol", "Status", "Environment", "Notes")
    if with_purpose:
        header = (*header, "Purpose")
    if with_host:
        header = (*header, "Host")
    rows: list[tuple[str, ...]] = []
    for s in active:
        for env, port in _rows(s):
            row: tuple[str, ...] = (
                f"**{s.label}**",
                _port(port, s),
                protocol_cell(s),
                _title(s.status),
                _title(env),
                s.notes,
            )
            row = (*row, s.purpose) if with_purpose else row
            rows.append((*row, s.host) if with_host else row)
    return _table(header, rows)


def _reserved_table(registry: Registry) -> str:
    kept = [s for s in registry.listed() if s.reserved]
    with_env = any(env != "development" for s in kept for env, _ in _rows(s))
    with_proto = any(protocol_cell(s) != "TCP" for s in kept)
    with_notes = any(s.notes for s in kept)
    header: tuple[str, ...] = ("Port", "Service", "Status", "Purpose")
    if with_proto:
        header = (*header, "Protocol")
    if with_env:
        header = (*header, "Environment")
    if with_notes:
        header = (*header, "Notes")
    rows: list[tuple[str, ...]] = []
    for s in kept:
        for env, port in _rows(s):
            row: tuple[str, ...] = (_port(port, s), s.label, _title(s.status), s.purpose)
            if with_proto:
                row = (*row, protocol_cell(s))
            if with_env:
                row = (*row, _title(env))
            if with_notes:
                row = (*row, s.notes)
            rows.append(row)
    return _table(header, rows)


def _environments_table(registry: Registry) -> str:
    envs = registry.environments()
    rows = [
        (f"**{s.label}**", *(_port(s.ports[e], s) if e in s.ports else "—" for e in envs))
        for s in registry.listed()
    ]
    return _table(("Service", *(_title(e) for e in envs)), rows)


def marker_table(registry: Registry, name: str) -> str:
    """The Markdown table (no heading) the page uses for `services`, `reserved` or
    `environments` — what `sync` writes between markers in other files."""
    if name == "services":
        return _services_table(registry)
    if name == "reserved":
        return _reserved_table(registry)
    if name == "environments":
        return _environments_table(registry)
    raise PortregError(f"unknown table {name!r} (expected one of {', '.join(MARKER_TABLES)})")


# --- the page ----------------------------------------------------------------------------------


def _avoid_groups(avoid: tuple[int, ...]) -> list[str]:
    groups: list[str] = []
    placed: set[int] = set()
    for group, known in _KNOWN.items():
        ports = [p for p in known if p in avoid]
        if group == "Other":
            ports += [p for p in sorted(avoid) if p not in placed and p not in ports]
        if ports:
            placed.update(ports)
            listed = [f"{p} ({known[p]})" if known.get(p) else str(p) for p in ports]
            groups.append(f"{group}: {', '.join(listed)}")
    return groups


def _rules(registry: Registry) -> str:
    p = registry.policy
    seq = ", ".join(str(n) for n in range(p.range_start, p.range_start + 3 * p.step, p.step))
    lines = [
        f"1. **High Ports Only:** Use ports {p.range_start}-{p.range_end} to avoid conflicts "
        "with common services",
        f"2. **Sequential Assignment:** Assign ports sequentially ({seq}...); "
        "`portreg assign SERVICE` picks the next free one",
        "3. **Check Before Assigning:** Always verify port availability:",
        "   ```bash",
        "   portreg check PORT",
        "   ss -tuln | grep :PORT",
        "   ```",
        "4. **Document Immediately:** Record every new port in the registry "
        "(`portreg add` / `portreg assign`), then `portreg render` this page",
    ]
    if p.avoid:
        lines.append("5. **Avoid Standard Ports:**")
        lines.extend(f"   - {g}" for g in _avoid_groups(p.avoid))
    return "\n".join(lines)


def _details(s: Service, names: dict[str, str]) -> str:
    port = s.primary_port
    out = [f"### {_inline(s.name)} ({_port(port)})", ""]
    bullets = [
        ("Service", s.description),
        ("Process", s.process),
        ("Deployment", s.deployment),
        ("Health Check", f"`{s.health_check_for(None)}`" if s.health_check_for(None) else ""),
        ("TLS", s.tls),
        ("Connections", s.connections),
    ]
    out.extend(f"- **{k}:** {_inline(v)}" for k, v in bullets if v)
    if s.depends_on:
        deps = [names.get(d, d) for d in s.depends_on]
        out.append(f"- **Depends on:** {_inline(', '.join(deps))}")
    for block in s.configuration:
        out += ["", "**Configuration:**", *_fence(block.lang, _fill(block.text, port))]
    if s.connection_strings:
        label = "Connection String" if len(s.connection_strings) == 1 else "Connection Strings"
        text = "\n".join(f"{c.env_var}={c.render(port)}" for c in s.connection_strings)
        out += ["", f"**{label}:**", *_fence("bash", text)]
    return "\n".join(out)


def _fill(text: str, port: int | None) -> str:
    return text if port is None else text.replace("{port}", str(port))


def _fence(lang: str, text: str) -> list[str]:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return [f"{ticks}{lang}", text, ticks]


def _has_details(s: Service) -> bool:
    return bool(
        s.description
        or s.process
        or s.deployment
        or s.health_check
        or s.tls
        or s.connections
        or s.configuration
        or s.connection_strings
        or s.depends_on
    )


def _conflict(registry: Registry) -> str:
    taken = sorted(registry.taken_ports())
    example = taken[0] if taken else registry.policy.range_start
    return "\n".join(
        [
            "If a port is already in use:",
            "",
            "1. **Check what's using it:**",
            "   ```bash",
            "   portreg who PORT",
            "   ss -tulnp | grep :PORT",
            "   ```",
            "",
            "2. **Verify it's not a required service:**",
            "   - Check this registry (`portreg check PORT`)",
            "   - Check team communication",
            "",
            "3. **Auto-increment if conflict:**",
            "   ```bash",
            f"   # If {example} is taken, `portreg assign` moves on to the next free port",
            "   # and records it in the registry",
            "   ```",
            "",
            "4. **Never force-kill existing services** without verification "
            "(portreg never kills a process)",
        ]
    )


def _interval_word(days: int) -> str:
    # Exact words only: "monthly" would promise a calendar month, and the interval is in days.
    return {1: "daily", 7: "weekly"}.get(days, f"every {days} days")


def _maintenance(registry: Registry) -> str:
    p = registry.policy
    due = next_audit(p)
    return "\n".join(
        [
            "### Port Change Procedure",
            "",
            "`portreg move SERVICE PORT --reason TEXT` records the move; "
            "`portreg sync` rewrites the generated files.",
            "",
            "1. **Update this file** with new port assignment (`portreg render`)",
            "2. **Update `.env.example`** with new default",
            "3. **Update `docker-compose.yaml`** if service is containerized",
            "4. **Update `CLAUDE.md`** port assignments section",
            "5. **Update `README.md`** port assignments table",
            "6. **Update deployment log** with port change reason (the Change Log below)",
            "7. **Notify team** via communication channel",
            "",
            "### Port Audit",
            "",
            f"Last audit: {p.last_audit.isoformat() if p.last_audit else 'never'}",
            f"Next audit: {due.isoformat() if due else 'due now'} "
            f"({_interval_word(p.audit_interval_days)})",
            "",
            "**Audit Checklist** (`portreg audit` runs it against this host):",
            "- [ ] Verify all documented ports are in use",
            "- [ ] Check for undocumented services on high ports",
            "- [ ] Verify port ranges don't conflict with new services",
            "- [ ] Update reserved ports list if needed",
        ]
    )


def _change_log(registry: Registry) -> str:
    rows = [
        (
            c.at.strftime("%Y-%m-%d %H:%M:%S"),
            c.who,
            c.action,
            c.service,
            c.environment,
            "" if c.old_port is None else str(c.old_port),
            "" if c.new_port is None else str(c.new_port),
            c.reason,
        )
        for c in registry.changes
    ]
    return _table(("When", "Who", "Action", "Service", "Environment", "Old", "New", "Reason"), rows)


def markdown(registry: Registry) -> str:
    """The whole page, in the seed's order, ending in one newline."""
    names = {s.id: s.name for s in registry.services.values()}
    p = registry.policy
    head = [f"# {registry.title}", ""]
    if registry.purpose:
        head += [f"**Purpose:** {' '.join(registry.purpose.split())}", ""]
    avoid = f" (avoiding common ports {', '.join(map(str, p.avoid))})" if p.avoid else ""
    head += [f"**Port Range:** {p.range_start}-{p.range_end}{avoid}", ""]
    if registry.last_updated is not None:
        head += [f"**Last Updated:** {registry.last_updated.strftime('%Y-%m-%d %H:%M:%S')}", ""]
    parts = ["\n".join(head).rstrip("\n")]

    def section(heading: str, body: str) -> None:
        parts.append(f"## {heading}\n\n{body.rstrip()}")

    section("Active Services", _services_table(registry))
    section("Port Assignment Rules", _rules(registry))
    detailed = [s for s in registry.services.values() if _has_details(s)]
    section(
        "Port Details",
        "\n\n---\n\n".join(_details(s, names) for s in detailed) or "_No port details recorded._",
    )
    section("Reserved Ports (Planned Services)", _reserved_table(registry))
    section("Port Conflict Resolution", _conflict(registry))
    section("Environment-Specific Ports", _environments_table(registry))
    section("Network Topology", "\n".join(_fence("", topology(registry).rstrip("\n"))))
    section("Maintenance Notes", _maintenance(registry))
    for extra in registry.extra_sections:
        section(extra.heading, extra.body or "")
    section("Change Log", _change_log(registry))
    return "\n\n---\n\n".join(parts) + "\n"


# --- JSON --------------------------------------------------------------------------------------


def to_json(registry: Registry) -> str:
    """The full registry as one JSON document (services as `records.service_detail`)."""
    from portreg.records import service_detail

    p = registry.policy
    doc: dict[str, Any] = {
        "project": registry.project,
        "title": registry.title,
        "purpose": registry.purpose,
        "host": registry.host,
        "last_updated": (
            registry.last_updated.strftime("%Y-%m-%d %H:%M:%S") if registry.last_updated else None
        ),
        "policy": policy_dict(p),
        "environments": registry.environments(),
        "services": [service_detail(s) for s in registry.services.values()],
        "sections": [{"heading": s.heading, "body": s.body} for s in registry.extra_sections],
        "changes": [
            {**asdict(c), "at": c.at.strftime("%Y-%m-%dT%H:%M:%S")} for c in registry.changes
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --- topology ----------------------------------------------------------------------------------

_GLYPH = {
    frozenset("ud"): "│",
    frozenset("u"): "│",
    frozenset("d"): "│",
    frozenset("lr"): "─",
    frozenset("l"): "─",
    frozenset("r"): "─",
    frozenset("dr"): "┌",
    frozenset("dl"): "┐",
    frozenset("ur"): "└",
    frozenset("ul"): "┘",
    frozenset("lrd"): "┬",
    frozenset("lru"): "┴",
    frozenset("udr"): "├",
    frozenset("udl"): "┤",
    frozenset("udlr"): "┼",
}


class _Canvas:
    """Text and line glyphs placed by (row, column); text wins over a line on the same cell.

    Kept as runs of text, and drawn row by row: a dict entry per character and a pass over
    every cell of the bounding box were most of the page's cost at 500 services (one layer of
    500 boxes is ~8,000 columns wide)."""

    def __init__(self) -> None:
        self.texts: list[tuple[int, int, str]] = []
        self.lines: dict[tuple[int, int], set[str]] = {}

    def text(self, row: int, col: int, text: str) -> None:
        self.texts.append((row, col, text))

    def link(self, row: int, col: int, dirs: str) -> None:
        self.lines.setdefault((row, col), set()).update(dirs)

    def vline(self, col: int, top: int, bottom: int) -> None:
        """A vertical line from row `top` to `bottom`, open at both ends."""
        for r in range(top, bottom + 1):
            self.link(r, col, "ud")

    def rows(self) -> list[str]:
        by_row: dict[int, list[tuple[int, str]]] = {}
        for (r, c), dirs in self.lines.items():
            by_row.setdefault(r, []).append((c, _GLYPH[frozenset(dirs)]))
        for r, c, t in self.texts:  # after the lines, in the order drawn: later text wins
            by_row.setdefault(r, []).append((c, t))
        if not by_row:
            return []
        out: list[str] = []
        for r in range(max(by_row) + 1):
            runs = by_row.get(r)
            if not runs:
                out.append("")
                continue
            cells = [" "] * max(c + len(t) for c, t in runs)
            for c, t in runs:
                cells[c : c + len(t)] = t
            out.append("".join(cells).rstrip())
        return out


def layers(services: Sequence[Service]) -> list[list[Service]]:
    """`services` in layers by `depends_on` among themselves: layer 0 holds those that depend on
    none of them, and each other service sits one layer below its deepest dependency.

    The one cycle rule (the terminal diagram and the web page both draw with it): a dependency
    already on the path being followed, or the service itself, is not followed, so a cycle is
    drawn, never recursed into. Within a layer, services keep the order given.
    """
    shown = {s.id: s for s in services}
    depth: dict[str, int] = {}

    def level(s: Service, stack: frozenset[str]) -> int:
        if s.id in depth:
            return depth[s.id]
        deps = [shown[d] for d in s.depends_on if d in shown and d not in stack and d != s.id]
        value = 1 + max((level(d, stack | {s.id}) for d in deps), default=-1)
        depth[s.id] = value
        return value

    for s in shown.values():
        level(s, frozenset())
    count = max(depth.values(), default=-1) + 1
    return [[s for s in shown.values() if depth[s.id] == k] for k in range(count)]


def _shown(registry: Registry) -> list[Service]:
    """The diagram's services: every one not merely reserved, and whatever they depend on."""
    shown = {s.id: s for s in registry.listed() if not s.reserved}
    for s in list(shown.values()):
        for dep in s.depends_on:
            other = registry.get(dep)
            if other is not None:
                shown.setdefault(dep, other)
    return [s for s in registry.services.values() if s.id in shown]


def _box_width(s: Service) -> tuple[int, str]:
    port = _port(s.primary_port) + ("/udp" if s.transport == "udp" else "")
    return max(len(s.name), len(port) + 1, 8) + 4, port


def topology(registry: Registry) -> str:
    """The Network Topology diagram: the host as a box, services inside it, each one's
    dependencies drawn above it (a line from ▲ under each dependency to ▼ on the dependent),
    and the way out to developers below."""
    canvas = _Canvas()
    tiers = layers(_shown(registry))
    centre: dict[str, int] = {}
    for layer in tiers:
        x = 2
        for s in layer:
            w, _ = _box_width(s)
            centre[s.id] = x + 1 + w // 2
            x += w + 2 + 3
    late: list[tuple[int, int, str]] = []  # arrows on borders: drawn after every box
    y = 0
    for k, layer in enumerate(tiers):
        x = 2
        for s in layer:
            w, port = _box_width(s)
            canvas.text(y, x, "┌" + "─" * w + "┐")
            canvas.text(y + 1, x, "│" + s.name.center(w) + "│")
            canvas.text(y + 2, x, "│" + f":{port}".center(w) + "│")
            canvas.text(y + 3, x, "└" + "─" * w + "┘")
            x += w + 2 + 3
        if k + 1 == len(tiers):
            break
        ids = {u.id for u in layer}
        below = [s for s in tiers[k + 1] if any(d in ids for d in s.depends_on)]
        top = y + 4 + len(below) + 2 if below else y + 5  # the next row's top border
        for t, s in enumerate(below):
            track = y + 5 + t
            cols = [centre[u.id] for u in layer if u.id in s.depends_on]
            for col in cols:
                canvas.vline(col, y + 4, track - 1)
                canvas.link(track, col, "u")
                late.append((y + 3, col, "▲"))
            c = centre[s.id]
            lo, hi = min([*cols, c]), max([*cols, c])
            for col in range(lo, hi + 1):
                if col > lo:
                    canvas.link(track, col, "l")
                if col < hi:
                    canvas.link(track, col, "r")
            canvas.link(track, c, "d")
            canvas.vline(c, track + 1, top - 1)
            late.append((top, c, "▼"))
        y = top
    for row, col, ch in late:
        canvas.text(row, col, ch)
    rows = canvas.rows()
    host = f"Container Host ({registry.host})" if registry.host else "Container Host"
    if not rows:
        rows = ["  (no services)"]
    width = max(max(len(r) for r in rows) + 3, len(host) + 4)
    out = ["┌" + "─" * width + "┐", "│ " + host.ljust(width - 1) + "│", "│" + " " * width + "│"]
    out += ["│" + r.ljust(width) + "│" for r in rows]
    out += ["│" + " " * width + "│", "└" + "─" * width + "┘"]
    exit_col = 1 + (min(centre[s.id] for s in tiers[-1]) if tiers else width // 2)
    out += [
        " " * exit_col + "│",
        " " * exit_col + "│ (External Access)",
        " " * exit_col + "▼",
    ]
    box_w = 17
    left = max(exit_col - 1 - box_w // 2, 0)
    out += [
        " " * left + "┌" + "─" * box_w + "┐",
        " " * left + "│" + "Developers".center(box_w) + "│",
        " " * left + "└" + "─" * box_w + "┘",
    ]
    return "\n".join(out) + "\n"
