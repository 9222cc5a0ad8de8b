"""The seed's Markdown page (and hand-made variants of it) as registry values.

Pure: text in, an `Imported` out. The page is read with markdown-it-py into a flat list of
blocks per `##` section (tables, list items, paragraphs, code blocks, `###` headings); each
section is then read by what it is about (services, reserved ports, port details, environments,
topology, audit), whatever its exact wording. Sections portreg does not model are kept verbatim
as `Section`s; the ones it regenerates itself (rules, conflict resolution, change procedure,
topology, change log) are read for their facts and never kept as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from portreg import validate
from portreg.errors import PortregError
from portreg.importers._result import Imported
from portreg.model import (
    DEFAULT_AUDIT_INTERVAL_DAYS,
    DEFAULT_AVOID,
    DEFAULT_RANGE,
    DEFAULT_TITLE,
    ENVIRONMENTS,
    PORT_MAX,
    PORT_MIN,
    STATUSES,
    CodeBlock,
    ConnectionString,
    Policy,
    Registry,
    Section,
    Service,
    service_id,
)
from portreg.protocols import infer_protocol

# --- blocks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Table:
    """A pipe table: its header, rows and the line each row is on."""

    header: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], int], ...]  # (cells, 1-based source line)
    line: int


@dataclass(frozen=True, slots=True)
class _Fence:
    """A fenced code block."""

    lang: str
    text: str


@dataclass(frozen=True, slots=True)
class _Item:
    """A list item."""

    depth: int
    text: str


@dataclass(frozen=True, slots=True)
class _Para:
    """A paragraph."""

    text: str


@dataclass(frozen=True, slots=True)
class _H3:
    """A third-level heading (a service's details on the page)."""

    text: str


_Block = _Table | _Fence | _Item | _Para | _H3


@dataclass(slots=True)
class _Section:
    """A second-level heading and the blocks under it."""

    heading: str
    start: int  # line index of the heading (0-based); -1 for the preamble
    end: int = 0  # line index where the next section starts
    blocks: list[_Block] = field(default_factory=list)


def _sections(text: str) -> tuple[str, list[_Section]]:
    """The page's title and its sections (the preamble first, heading "")."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    title = ""
    sections = [_Section("", -1)]
    list_depth = 0
    item_open: list[bool] = []  # per open list item: has its first paragraph been taken?
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind == "heading_open":
            heading = _plain(tokens[i + 1].content)
            line = tok.map[0] if tok.map else 0
            if tok.tag == "h1" and not title:
                title = heading
            elif tok.tag in ("h1", "h2"):
                sections[-1].end = line
                sections.append(_Section(heading, line))
            else:
                sections[-1].blocks.append(_H3(heading))
            i += 3
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif kind == "list_item_open":
            item_open.append(False)
        elif kind == "list_item_close":
            item_open.pop()
        elif kind == "inline" and i > 0 and tokens[i - 1].type == "paragraph_open":
            if item_open and not item_open[-1]:
                item_open[-1] = True
                sections[-1].blocks.append(_Item(list_depth, tok.content.strip()))
            elif not item_open:
                sections[-1].blocks.append(_Para(tok.content.strip()))
        elif kind in ("fence", "code_block"):
            lang = tok.info.strip().split(" ")[0] if tok.info else ""
            sections[-1].blocks.append(_Fence(lang, tok.content.rstrip("\n")))
        elif kind == "table_open":
            i = _table(tokens, i, sections[-1])
            continue
        i += 1
    sections[-1].end = len(text.splitlines())
    return title, sections


def _table(tokens: list[Any], i: int, section: _Section) -> int:
    """Read the table starting at token `i`; returns the index after it."""
    header: list[str] = []
    rows: list[tuple[tuple[str, ...], int]] = []
    line = (tokens[i].map[0] + 1) if tokens[i].map else 0
    cells: list[str] = []
    row_line = 0
    in_head = False
    while tokens[i].type != "table_close":
        tok = tokens[i]
        if tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            cells = []
            row_line = (tok.map[0] + 1) if tok.map else line
        elif tok.type == "inline":
            cells.append(tok.content.strip())
        elif tok.type == "tr_close":
            if in_head:
                header = cells
            else:
                rows.append((tuple(cells), row_line))
        i += 1
    section.blocks.append(_Table(tuple(_head(h) for h in header), tuple(rows), line))
    return i + 1


# --- small text helpers ------------------------------------------------------------------------


def _head(cell: str) -> str:
    """A column heading as a key: `**Port(s)**` → ports, `Port #` → port, `Name:` → name."""
    text = _plain(cell).lower().replace("(s)", "s")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9/ ]+", " ", text)).strip()


_LABEL = re.compile(r"^\*\*(?P<key>[^*]+?):\*\*[ \t]*(?P<value>.*)$", re.S)
_LABEL_COLON_AFTER = re.compile(r"^\*\*(?P<key>[^*]+?)\*\*[ \t]*:[ \t]*(?P<value>.*)$", re.S)
_PORT_CELL = re.compile(r"^(?P<port>\d+)\s*(?:/\s*(?P<transport>tcp|udp))?\b", re.I)
_NUMBER = re.compile(r"(?<![\d.])\d{1,5}(?![\d.])")
_RANGE = re.compile(r"(\d{1,5})\s*(?:-|–|—|to)\s*(\d{1,5})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _entities(text: str) -> str:
    """`&amp;` → `&`: a cell's text as its reader sees it (Markdown marks kept)."""
    import html

    return html.unescape(text)


def _plain(text: str) -> str:
    """A cell or heading as text: no emphasis or code marks, a link's text, entities decoded."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [Auth](https://…) → Auth
    return _entities(re.sub(r"[*`]|(?<!\w)_|_(?!\w)", "", text)).strip()


def _label(text: str) -> tuple[str, str] | None:
    """`**Key:** value` (or `Key: value` in plain text) as (key lower-cased, value)."""
    m = _LABEL.match(text) or _LABEL_COLON_AFTER.match(text)
    if m:
        return m.group("key").strip().lower(), m.group("value").strip()
    return None


_PLAIN_KEYS = ("purpose", "port range", "range", "last updated", "host")
_PLAIN_LABEL = re.compile(r"^(?P<key>[A-Za-z ]+?)\s*:\s*(?P<value>\S.*)$")


def _plain_label(text: str) -> tuple[str, str] | None:
    """`Last Updated: 2026-03-02` without bold, for the page's few known header keys only."""
    m = _PLAIN_LABEL.match(text.strip("_* "))
    if m and m.group("key").strip().lower() in _PLAIN_KEYS:
        return m.group("key").strip().lower(), m.group("value").strip()
    return None


def _unquote_code(value: str) -> str:
    """`GET http://…` → GET http://… (only a value that is wholly one code span)."""
    v = value.strip()
    if len(v) >= 2 and v.startswith("`") and v.endswith("`") and "`" not in v[1:-1]:
        return v[1:-1].strip()
    return v


def _with_port_placeholder(text: str, port: int | None) -> str:
    if port is None:
        return text
    return re.sub(rf"(?<!\d){port}(?!\d)", "{port}", text)


def _env_names(cell: str) -> list[str]:
    """The environments an Environment cell names: `Development, Staging`, `dev/prod`, `All`."""
    parts = [p for p in re.split(r"\s*(?:,|/|&|\+|;|\band\b)\s*", _plain(cell)) if p.strip()]
    if not parts:
        return ["development"]
    if len(parts) == 1 and parts[0].strip().lower() in ("all", "every", "any", "all environments"):
        return list(ENVIRONMENTS)
    return list(dict.fromkeys(_env_name(p) for p in parts))


def _env_name(text: str) -> str:
    base = re.sub(r"\(.*?\)", "", _plain(text)).strip().lower()
    base = re.sub(r"\s+(environment|env|ports?)$", "", base).strip()
    return _ENV_ALIASES.get(base, service_id(base))


_ENV_ALIASES = {
    "dev": "development",
    "develop": "development",
    "local": "development",
    "stage": "staging",
    "stg": "staging",
    "prod": "production",
    "prd": "production",
    "live": "production",
}

_STATUS_ALIASES = {
    "up": "active",
    "running": "active",
    "live": "active",
    "enabled": "active",
    "in use": "active",
    "used": "active",
    "future": "planned",
    "proposed": "planned",
    "tbd": "planned",
    "retired": "deprecated",
    "disabled": "deprecated",
    "inactive": "deprecated",
    "removed": "deprecated",
    "unused": "deprecated",
}

_COLUMNS = {
    "service": ("service", "name", "service name", "services", "component", "app", "application"),
    "port": (
        "port",
        "ports",
        "port number",
        "port no",
        "host port",
        "listen port",
        "published port",
        "port/protocol",
        "port/proto",
    ),
    "protocol": ("protocol", "proto", "type"),
    "status": ("status", "state"),
    "environment": ("environment", "env", "environments"),
    "notes": ("notes", "note", "description", "comment", "comments", "details"),
    "purpose": ("purpose", "reason", "why"),
    "host": ("host", "hostname", "machine", "node"),
}


# --- the page ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    """A service while the page is read; becomes a `Service` at the end."""

    id: str
    name: str
    ports: dict[str, int | None] = field(default_factory=dict)
    protocol: str = ""  # as the page states it ("" = infer)
    transport: str = ""
    status: str = ""
    notes: str = ""
    purpose: str = ""
    host: str = ""  # from a Host column ("" = the registry's default host)
    fields: dict[str, str] = field(default_factory=dict)  # description, process, …
    own_port: int | None = None  # the port in its `### Name (port)` heading
    configuration: list[CodeBlock] = field(default_factory=list)
    connection_strings: list[ConnectionString] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)


_DETAIL_KEYS = {
    "service": "description",
    "description": "description",
    "process": "process",
    "deployment": "deployment",
    "deploy": "deployment",
    "health check": "health_check",
    "healthcheck": "health_check",
    "health": "health_check",
    "tls": "tls",
    "ssl": "tls",
    "tls/ssl": "tls",
    "connections": "connections",
    "connection limit": "connections",
    "max connections": "connections",
}

_DEPENDS_KEYS = ("depends on", "dependencies", "depends", "uses", "requires")

# Headings of sections portreg regenerates or reads itself: never kept as extra text.
_MODELED = re.compile(
    r"services|reserved|planned|rules|assignment|port details|details|conflict|"
    r"environment|topology|network|diagram|maintenance|audit|change procedure|"
    r"change ?log|history",
    re.I,
)


class _Page:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.lines = text.splitlines()
        self.drafts: dict[str, _Draft] = {}
        self.warnings: list[str] = []
        self.policy_given = False
        self.explicit_deps = False

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.source}: {message}")

    def fail(self, message: str) -> PortregError:
        return PortregError(f"{self.source}: {message}")

    # -- services ---------------------------------------------------------------------------

    def draft(self, name: str) -> _Draft:
        sid = service_id(name)
        if not sid:
            raise self.fail(f"not a usable service name: {name!r}")
        d = self.drafts.get(sid)
        if d is None:
            d = self.drafts[sid] = _Draft(sid, name)
        return d

    def holder(self, port: int) -> _Draft | None:
        """The one service the page has given `port` so far, if exactly one."""
        found = [d for d in self.drafts.values() if port in d.ports.values()]
        return found[0] if len(found) == 1 else None

    def match(self, ref: str, *, strict: bool = False) -> _Draft | None:
        """A service a short name means: "API" → API Server, "Postgres" → PostgreSQL.
        `strict`: the name itself only (diagram labels)."""
        sid = service_id(_plain(ref))
        if not sid:
            return None
        if sid in self.drafts:
            return self.drafts[sid]
        if strict:
            return None
        for test in (
            lambda d: d.id.startswith(sid + "-"),
            lambda d: d.id.startswith(sid),
            lambda d: sid.startswith(d.id),
            lambda d: service_id(d.name.split()[0]) == sid if d.name.split() else False,
            lambda d: sid in d.id.split("-"),
        ):
            found = [d for d in self.drafts.values() if test(d)]
            if len(found) == 1:
                return found[0]
            if found:
                self.warn(
                    f"{ref!r} could mean {', '.join(d.id for d in found)}; took {found[0].id}"
                )
                return found[0]
        return None

    def port(self, cell: str, line: int) -> tuple[int | None, str, bool]:
        """(port or None for TBD, transport named in the cell or "", understood?)."""
        # A struck-out port (`~~55020~~ 55021`) is the old one: the page's edit history.
        raw = _plain(re.sub(r"~~.*?~~", "", cell)).strip()
        raw = re.sub(r"^(\d{1,2})[,.\u202f](\d{3})(?!\d)", r"\1\2", raw)  # 54,000 is 54000
        m = _PORT_CELL.match(raw)
        if m:
            port = int(m.group("port"))
            if not PORT_MIN <= port <= PORT_MAX:
                raise self.fail(f"line {line}: port {port} is out of bounds (1-65535)")
            rest = raw[m.end() :].strip()
            if _NUMBER.search(rest):
                # One port per service and environment: the first is recorded, and the page's
                # reader is told what was not (a second port is a second service to add).
                self.warn(f"line {line}: {raw!r} names more than one port; recorded {port}")
            return port, (m.group("transport") or "").lower(), True
        if raw.upper().startswith("TBD") or raw.lower() in ("", "none", "n/a", "-", "—", "?"):
            return None, "", True
        self.warn(f"line {line}: not a port: {raw!r} (taken as TBD)")
        return None, "", False

    def status(self, cell: str, line: int, default: str) -> str:
        raw = _plain(cell).lower()
        raw = re.sub(r"\(.*?\)", "", raw).strip()
        if not raw:
            return default
        if raw in STATUSES:
            return raw
        if raw in _STATUS_ALIASES:
            return _STATUS_ALIASES[raw]
        self.warn(f"line {line}: unknown status {raw!r} (taken as {default})")
        return default

    def services_table(self, table: _Table, reserved: bool) -> None:
        cols: dict[str, int] = {}
        for idx, head in enumerate(table.header):
            for key, names in _COLUMNS.items():
                if head in names and key not in cols:
                    cols[key] = idx
                    break
        extras = [i for i in range(len(table.header)) if i not in cols.values()]
        default_status = "reserved" if reserved else "active"
        for cells, line in table.rows:

            def cell(key: str, cells: tuple[str, ...] = cells) -> str:
                i = cols.get(key)
                return cells[i].strip() if i is not None and i < len(cells) else ""

            name = _plain(cell("service"))
            if not name:
                continue
            host = _plain(cell("host"))
            try:
                validate.host(host)
            except PortregError as exc:
                self.warn(f"line {line}: {exc.message} (taken as the default host)")
                host = ""
            d = self.draft(name)
            if host != d.host and d.ports:
                # The same name on a second machine (a homelab's "nginx" on each host) is a
                # service of its own: a service lives on one host.
                d = self.draft(f"{name} ({host})" if host else name)
            if not d.ports:
                d.host = host
            port, transport, _ = self.port(cell("port"), line)
            for env in _env_names(cell("environment")):
                if env in d.ports and d.ports[env] is not None and d.ports[env] != port:
                    self.warn(f"line {line}: {d.id} has two {env} ports; kept {d.ports[env]}")
                else:
                    d.ports[env] = port
            proto = _plain(cell("protocol")).lower()
            if proto and not d.protocol:
                d.protocol, proto_transport = _protocol(proto)
                d.transport = d.transport or proto_transport
            if transport:
                d.transport = transport
            if not d.status:
                d.status = self.status(cell("status"), line, default_status)
            notes = _entities(cell("notes"))
            extra = [
                f"{_plain(table.header[i]).capitalize()}: {cells[i].strip()}"
                for i in extras
                if i < len(cells) and cells[i].strip() and table.header[i]
            ]
            notes = "; ".join(x for x in (notes, *extra) if x)
            if notes and not d.notes:
                d.notes = notes
            if cell("purpose") and not d.purpose:
                d.purpose = _entities(cell("purpose"))

    # -- port details -----------------------------------------------------------------------

    def details(self, blocks: list[_Block]) -> None:
        current: _Draft | None = None
        label = ""
        for block in blocks:
            if isinstance(block, _H3):
                m = re.match(r"^(?P<name>.+?)\s*(?:\((?P<port>[^)]*)\))?\s*$", block.text)
                name = m.group("name") if m else block.text
                port_text = (m.group("port") or "") if m else ""
                nums = _PORT_CELL.match(port_text.strip())
                # Its own name, else the one service on the heading's port ("Orders (53300)"
                # for the table's Order Service), else a short name, else a new service.
                current = (
                    self.match(name, strict=True)
                    or (self.holder(int(nums.group("port"))) if nums else None)
                    or self.match(name)
                    or self.draft(name)
                )
                label = ""
                nums = _PORT_CELL.match(port_text.strip())
                if nums:
                    current.own_port = int(nums.group("port"))
                    if not current.ports:
                        current.ports["development"] = current.own_port
                continue
            if current is None:
                continue
            if isinstance(block, _Item | _Para):
                pair = _label(block.text)
                if pair is None:
                    continue
                key, value = pair
                if not value:
                    label = key
                    continue
                label = ""
                if key in _DETAIL_KEYS:
                    field_name = _DETAIL_KEYS[key]
                    if field_name == "health_check":
                        value = _unquote_code(value)
                    current.fields.setdefault(field_name, value)
                elif key in _DEPENDS_KEYS:
                    self.explicit_deps = True
                    for part in re.split(r",|\band\b", value):
                        ref = _plain(part)
                        if ref and ref.lower() not in ("none", "-", "—"):
                            hit = self.match(ref)
                            dep = hit.id if hit else service_id(ref)
                            if dep and dep not in current.depends_on:
                                current.depends_on.append(dep)
            elif isinstance(block, _Fence):
                if "connection" in label:
                    for raw in block.text.splitlines():
                        text = raw.strip().removeprefix("export ").strip()
                        if not text or text.startswith("#") or "=" not in text:
                            continue
                        var, _, value = text.partition("=")
                        current.connection_strings.append(
                            ConnectionString(var.strip(), value.strip())
                        )
                else:
                    current.configuration.append(CodeBlock(block.lang, block.text))

    # -- environments -----------------------------------------------------------------------

    def environments(self, blocks: list[_Block]) -> None:
        env = ""
        for block in blocks:
            if isinstance(block, _H3):
                env = _env_name(block.text)
            elif isinstance(block, _Table):
                self.environment_table(block)
            elif isinstance(block, _Item) and env:
                name, sep, value = _plain(block.text).partition(":")
                if not sep:
                    continue
                self.set_env_port(name.strip(), env, value.strip(), "")

    def environment_table(self, table: _Table) -> None:
        name_col = next((i for i, h in enumerate(table.header) if h in _COLUMNS["service"]), 0)
        envs = {i: _env_name(h) for i, h in enumerate(table.header) if i != name_col and h}
        for cells, line in table.rows:
            if name_col >= len(cells):
                continue
            for i, env in envs.items():
                if i < len(cells):
                    self.set_env_port(cells[name_col], env, cells[i], f"line {line}: ")

    def set_env_port(self, ref: str, env: str, value: str, where: str) -> None:
        raw = _plain(value)
        if raw.lower() in ("", "-", "—", "–", "n/a", "none"):
            return
        d = self.match(ref)
        if d is None:
            self.warn(f"{where}environment list names unknown service {_plain(ref)!r}")
            return
        nums = _PORT_CELL.match(raw)
        port = int(nums.group("port")) if nums else None
        if port is not None and not PORT_MIN <= port <= PORT_MAX:
            raise self.fail(f"{where}port {port} is out of bounds (1-65535)")
        old = d.ports.get(env)
        if old is not None and port != old:
            if port is not None:
                self.warn(f"{where}{d.id} {env}: {port} differs from the table's {old}; kept {old}")
            return
        d.ports[env] = port

    # -- policy -----------------------------------------------------------------------------

    def policy(self, preamble: dict[str, str], rules: list[_Block]) -> Policy:
        start, end = DEFAULT_RANGE
        avoid: set[int] = set()
        avoid_given = False
        step = 1
        interval = DEFAULT_AUDIT_INTERVAL_DAYS
        last_audit: date | None = None
        rng = preamble.get("port range") or preamble.get("range")
        if rng:
            m = _RANGE.search(rng)
            if m:
                start, end = int(m.group(1)), int(m.group(2))
                if not (PORT_MIN <= start <= end <= PORT_MAX):
                    raise self.fail(f"port range {m.group(0)!r} is not within 1-65535")
                self.policy_given = True
                rest = rng[m.end() :]
                if "(" in rest:
                    found = [int(n) for n in _NUMBER.findall(rest)]
                    avoid.update(found)
                    avoid_given = avoid_given or bool(found)
        in_avoid = False
        for block in rules:
            if not isinstance(block, _Item):
                continue
            text = _plain(block.text)
            if block.depth == 1:
                in_avoid = "avoid" in text.split(":", 1)[0].lower()
                if in_avoid and ":" in text:
                    found = [int(n) for n in _NUMBER.findall(text.split(":", 1)[1])]
                    avoid.update(found)
                    avoid_given = avoid_given or bool(found)
                if "sequential" in text.lower():
                    nums = [int(n) for n in _NUMBER.findall(text)]
                    if len(nums) >= 2 and nums[1] > nums[0]:
                        step = nums[1] - nums[0]
            elif in_avoid and ":" in text:
                found = [int(n) for n in _NUMBER.findall(text.split(":", 1)[1])]
                avoid.update(found)
                avoid_given = avoid_given or bool(found)
        for raw in self.lines:
            line = _plain(raw)
            m = re.match(r"^last audit\s*:\s*(.*)$", line, re.I)
            if m:
                d = _DATE.search(m.group(1))
                if d:
                    last_audit = _date(d.group(0))
                self.policy_given = True
            m = re.match(r"^next audit\s*:\s*(.*)$", line, re.I)
            if m:
                self.policy_given = True
                paren = re.search(r"\((.*?)\)", m.group(1))
                word = paren.group(1).lower() if paren else ""
                d = _DATE.search(m.group(1))
                due = _date(d.group(0)) if d else None
                if "monthly" in word or "month" in word:
                    interval = 30
                elif "weekly" in word:
                    interval = 7
                elif "quarterly" in word:
                    interval = 90
                elif (n := re.search(r"every\s+(\d+)\s+days?", word)) is not None:
                    interval = max(int(n.group(1)), 1)
                elif due and last_audit and (due - last_audit).days > 0:
                    interval = (due - last_audit).days
        if avoid_given:
            self.policy_given = True
        return Policy(
            start,
            end,
            tuple(sorted(avoid)) if avoid_given else DEFAULT_AVOID,
            step,
            interval,
            last_audit,
        )

    # -- the whole page ---------------------------------------------------------------------

    def run(self) -> Imported:
        title, sections = _sections(self.text)
        preamble: dict[str, str] = {}
        for block in sections[0].blocks:
            if isinstance(block, _Para):
                for para_line in block.text.splitlines():
                    pair = _label(para_line.strip()) or _plain_label(para_line.strip())
                    if pair:
                        preamble.setdefault(pair[0], pair[1])
        found_table = False
        extra: list[Section] = []
        rules: list[_Block] = []
        details: list[_Block] = []
        envs: list[_Block] = []
        diagrams: list[str] = []
        # Tables first (they name the services), then everything that refers to them.
        for sec in sections:
            reserved = bool(re.search(r"reserved|planned", sec.heading, re.I))
            environment = bool(re.search(r"environment", sec.heading, re.I))
            for block in sec.blocks:
                if isinstance(block, _Table) and not environment:
                    heads = set(block.header)
                    has_name = bool(heads & set(_COLUMNS["service"]))
                    if has_name and heads & set(_COLUMNS["port"]):
                        self.services_table(block, reserved)
                        found_table = True
        if not found_table:
            raise self.fail("no services table found")
        for sec in sections[1:]:
            heading = sec.heading.lower()
            if "environment" in heading:
                envs.extend(sec.blocks)
            elif "detail" in heading:
                details.extend(sec.blocks)
            elif "rule" in heading or "assignment" in heading:
                rules.extend(sec.blocks)
            if re.search(r"topology|network|diagram", heading):
                diagrams.extend(b.text for b in sec.blocks if isinstance(b, _Fence))
            if not _MODELED.search(sec.heading):
                body = self.lines[sec.start + 1 : sec.end]
                while body and body[-1].strip() in ("", "---", "***", "___"):
                    body.pop()
                while body and not body[0].strip():
                    body.pop(0)
                extra.append(Section(sec.heading, "\n".join(body)))
        self.details(details)
        self.environments(envs)
        policy = self.policy(preamble, rules)
        host = ""
        for text in diagrams:
            m = re.search(r"Host\s*\(([^)]+)\)", text)
            if m and not host:
                host = m.group(1).strip()
        if not self.explicit_deps:
            for text in diagrams:
                for dependent, dependency in diagram_edges(text):
                    a = self.match(dependent, strict=True)
                    b = self.match(dependency, strict=True)
                    if a and b and a is not b and b.id not in a.depends_on:
                        a.depends_on.append(b.id)
        registry = Registry(
            title=_plain(title) or DEFAULT_TITLE,
            purpose=preamble.get("purpose", ""),
            host=host,
            policy=policy,
            # Active services first, then reserved ones: the order the page's two tables list
            # them in, so a rendered page reads back in the same order.
            services={
                s.id: s
                for s in sorted(map(_service, self.drafts.values()), key=lambda s: s.reserved)
            },
            extra_sections=tuple(extra),
            last_updated=_datetime(preamble.get("last updated", "")),
        )
        return Imported(registry, self.source, self.policy_given, tuple(self.warnings))


def _protocol(cell: str) -> tuple[str, str]:
    """(application protocol or "" to infer, transport or "") from a Protocol cell."""
    m = re.match(r"^(tcp|udp)\s*\((.+)\)$", cell)
    if m:
        return m.group(2).strip(), m.group(1)
    # "statsd (udp)", "statsd/udp", "statsd over udp": the application protocol first
    m = re.match(r"^(.+?)\s*(?:\(\s*(tcp|udp)\s*\)|/\s*(tcp|udp)|\s+over\s+(tcp|udp))$", cell)
    if m:
        transport = next(g for g in m.groups()[1:] if g)
        return m.group(1).strip(), transport
    if cell == "tcp":
        return "", "tcp"
    if cell == "udp":
        return "udp", "udp"
    return cell, ""


def _service(d: _Draft) -> Service:
    process = d.fields.get("process", "")
    own = d.own_port
    if own is None:
        own = d.ports.get("development")
        if own is None:
            own = next((p for p in d.ports.values() if p is not None), None)
    health = _with_port_placeholder(d.fields.get("health_check", ""), own)
    return Service(
        id=d.id,
        name=d.name,
        ports=dict(d.ports),
        protocol=d.protocol or infer_protocol(d.name, process),
        transport=d.transport or "tcp",
        status=d.status or "active",
        notes=d.notes,
        description=d.fields.get("description", ""),
        process=process,
        deployment=d.fields.get("deployment", ""),
        health_check=health,
        tls=d.fields.get("tls", ""),
        connections=d.fields.get("connections", ""),
        configuration=tuple(
            CodeBlock(c.lang, _with_port_placeholder(c.text, own)) for c in d.configuration
        ),
        connection_strings=tuple(
            ConnectionString(c.env_var, _with_port_placeholder(c.template, own))
            for c in d.connection_strings
        ),
        depends_on=tuple(d.depends_on),
        purpose=d.purpose,
        host=d.host,
    )


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _datetime(text: str) -> datetime | None:
    m = re.search(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?", text)
    if not m:
        return None
    try:
        return datetime.fromisoformat(m.group(0)).replace(microsecond=0)
    except ValueError:
        return None


# --- the topology diagram ----------------------------------------------------------------------

_TOP_OK = set("─━═┬┴┼▲▼►◄")
_SIDE_OK = set("│┃║├┤┼▲▼►◄")
_LINE = set("│┃║─━═┬┴┼├┤┌┐└┘▲▼►◄╭╮╯╰")


@dataclass(frozen=True, slots=True)
class _Box:
    """A box of the topology diagram and the text inside it."""

    top: int
    left: int
    bottom: int
    right: int
    label: str


def _boxes(grid: list[str]) -> list[_Box]:
    width = max((len(r) for r in grid), default=0)
    g = [r.ljust(width) for r in grid]
    found: list[tuple[int, int, int, int]] = []
    for r, row in enumerate(g):
        for c, ch in enumerate(row):
            if ch != "┌":
                continue
            c2 = c + 1
            while c2 < width and row[c2] in _TOP_OK:
                c2 += 1
            if c2 >= width or row[c2] != "┐":
                continue
            r2 = r + 1
            while r2 < len(g) and g[r2][c] in _SIDE_OK and g[r2][c2] in _SIDE_OK:
                r2 += 1
            if r2 >= len(g) or g[r2][c] != "└" or g[r2][c2] != "┘":
                continue
            if all(ch2 in _TOP_OK for ch2 in g[r2][c + 1 : c2]):
                found.append((r, c, r2, c2))
    boxes: list[_Box] = []
    for r, c, r2, c2 in found:
        inner = [
            b for b in found if b != (r, c, r2, c2) and r < b[0] and b[2] < r2 and c < b[1] < c2
        ]
        label = ""
        for rr in range(r + 1, r2):
            chars = [
                g[rr][cc]
                for cc in range(c + 1, c2)
                if not any(b[0] <= rr <= b[2] and b[1] <= cc <= b[3] for b in inner)
            ]
            text = "".join(ch for ch in chars if ch not in _LINE).strip()
            if text:
                label = " ".join(text.split())
                break
        boxes.append(_Box(r, c, r2, c2, label))
    return boxes


def diagram_edges(text: str) -> list[tuple[str, str]]:
    """(dependent label, dependency label) pairs read from an ASCII box diagram.

    A line that leaves a box's bottom and enters another box's top means the lower box uses
    the upper one (the seed draws PostgreSQL and Redis above the API Server that uses them);
    a sideways line counts when an arrow head (► ◄) says which end is used.
    """
    grid = text.splitlines()
    boxes = _boxes(grid)
    border: dict[tuple[int, int], int] = {}
    for i, b in enumerate(boxes):
        for cc in range(b.left, b.right + 1):
            border[(b.top, cc)] = i
            border[(b.bottom, cc)] = i
        for rr in range(b.top, b.bottom + 1):
            border[(rr, b.left)] = i
            border[(rr, b.right)] = i

    def at(r: int, c: int) -> str:
        return grid[r][c] if 0 <= r < len(grid) and 0 <= c < len(grid[r]) else " "

    seen: set[tuple[int, int]] = set()
    edges: list[tuple[str, str]] = []
    for r0, row in enumerate(grid):
        for c0, ch in enumerate(row):
            if ch not in _LINE or (r0, c0) in border or (r0, c0) in seen:
                continue
            stack = [(r0, c0)]
            seen.add((r0, c0))
            upper: dict[int, int] = {}  # box index -> column (dependencies)
            lower: dict[int, int] = {}  # dependents
            while stack:
                r, c = stack.pop()
                here = at(r, c)
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    nr, nc = r + dr, c + dc
                    if (nr, nc) in border:
                        box = border[(nr, nc)]
                        if dr == -1 and here not in "─━═":
                            upper[box] = boxes[box].left
                        elif dr == 1 and here not in "─━═":
                            lower[box] = boxes[box].left
                        elif (dc == 1 and here == "►") or (dc == -1 and here == "◄"):
                            upper[box] = boxes[box].left
                        continue
                    if (nr, nc) not in seen and at(nr, nc) in _LINE:
                        seen.add((nr, nc))
                        stack.append((nr, nc))
            for low in sorted(lower, key=lambda i: (boxes[i].top, boxes[i].left)):
                for up in sorted(upper, key=lambda i: (boxes[i].top, boxes[i].left)):
                    if low != up and boxes[low].label and boxes[up].label:
                        edges.append((boxes[low].label, boxes[up].label))
    return edges


def parse(text: str, source: str) -> Imported:
    """A seed-style Markdown page as an `Imported`; a page without a services table is bad
    input. Deterministic, so importing the same page twice changes nothing."""
    return _Page(text, source).run()


# --- hand-kept port tables ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TablePort:
    """One port a hand-kept table names: a row's service and one of the numbers in its port
    cell (`80 / 443`, `8112,51413`, `53 - DNS<br>3000 - UI` give one `TablePort` each)."""

    service: str
    port: int
    line: int  # 1-based source line of the row
    cell: str  # the port cell as written


# Not part of a word, a version, an address or a time: `P2P`, `1.2.3`, `10.0.0.5`, `host:80`
# (a URL's port belongs to the URL, not to the table), `12:30`.
_CELL_PORT = re.compile(r"(?<![\w.:#-])(?P<lo>\d{1,5})(?:-(?P<hi>\d{1,5}))?(?![\w.:]|-\d)")
_TAG = re.compile(r"<[^>]*>")
_NOT_HOST_SIDE = ("container", "internal", "target", "inside")


def table_ports(text: str) -> tuple[TablePort, ...]:
    """Every port of every pipe table with a port column, in page order.

    Decisions (a hand-kept table is read as a person reads it):
    - The port column is the first one headed like `Port`, `Ports`, `Host Port` (a
      `Container Port` column is the other side of a mapping and is not read while a host-side
      one exists). The service column is the first headed like `Service`, `Name`, `Component`,
      else the first other column.
    - Each number in the cell is a port (`80 / 443`, `8112,51413`, `80 - http<br>443 - https`);
      `A-B` without spaces is a range, port by port. Words, `n/a`, `-` and `TBD` name none.
    - A row without a service name names no port.
    """
    _title, sections = _sections(text)
    out: list[TablePort] = []
    for sec in sections:
        for block in sec.blocks:
            if not isinstance(block, _Table):
                continue
            port_col = _port_column(block.header)
            if port_col is None:
                continue
            name_col = _name_column(block.header, port_col)
            for cells, line in block.rows:
                if port_col >= len(cells) or name_col >= len(cells):
                    continue
                service = _plain(_TAG.sub(" ", cells[name_col]))
                if not service:
                    continue
                for port in cell_ports(cells[port_col]):
                    out.append(TablePort(service, port, line, cells[port_col]))
    return tuple(out)


def cell_ports(cell: str) -> list[int]:
    """The ports a table cell names, in order (see `table_ports`)."""
    text = _plain(_TAG.sub(" ", re.sub(r"~~.*?~~", "", cell)))
    found: list[int] = []
    for m in _CELL_PORT.finditer(text):
        lo = int(m.group("lo"))
        hi = int(m.group("hi") or lo)
        if PORT_MIN <= lo <= hi <= PORT_MAX:
            found.extend(range(lo, hi + 1))
    return found


def _port_column(header: tuple[str, ...]) -> int | None:
    portish = [i for i, h in enumerate(header) if re.search(r"\bports?\b", h)]
    host_side = [i for i in portish if not any(w in header[i] for w in _NOT_HOST_SIDE)]
    exact = [i for i in host_side if header[i] in _COLUMNS["port"]]
    for choice in (exact, host_side):
        if choice:
            return choice[0]
    return None


def _name_column(header: tuple[str, ...], port_col: int) -> int:
    for i, h in enumerate(header):
        if i != port_col and (h in _COLUMNS["service"] or re.search(r"\b(service|name)\b", h)):
            return i
    return next((i for i in range(len(header)) if i != port_col), port_col)
