"""`docker-compose*.y(a)ml` / `compose*.y(a)ml`: the published host ports of each service.

ruamel.yaml (round-trip mode, YAML 1.2: `22:22` stays a string) *locates* every port entry and
reports its line and column; the edit itself replaces only the digits of the host port on that
line, so comments, anchors, quotes, indentation and key order stay byte for byte. Both syntaxes:
short (`"54432:5432"`, `"127.0.0.1:54000:8000"`, `"53000-53002:8000-8002/udp"`,
`"${API_PORT:-54000}:8000"`) and long (`published: 54432`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from portreg.errors import PortregError
from portreg.model import PORT_MAX, PORT_MIN
from portreg.rewrite import Slot, Token, line_body, split_lines

_SHORT = re.compile(
    r"""^(?:(?P<ip>.*):)?
    (?P<host>\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-(?P<default>\d+(?:-\d+)?))?\}|\d+(?:-\d+)?)
    :(?P<container>\d+(?:-\d+)?)
    (?:/(?P<proto>[A-Za-z]+))?$""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Published:
    """One published port entry of a compose service, as the file states it."""

    service: str
    host: str  # "54432", "53000-53002" (a range), or "" when only a variable without default
    container: str  # "5432", "8000-8002"
    protocol: str  # tcp | udp
    host_ip: str
    variable: str  # API_PORT in ${API_PORT:-54000}
    line: int  # 0-based line of the entry's scalar (short) or of `published:` (long)
    col: int
    host_offset: int  # where `host` starts within the scalar's value (short syntax)
    long: bool
    image: str = ""


def _range(text: str) -> tuple[int, int] | None:
    lo, _, hi = text.partition("-")
    if not lo.isdigit() or (hi and not hi.isdigit()):
        return None
    a, b = int(lo), int(hi or lo)
    if not (PORT_MIN <= a <= PORT_MAX and PORT_MIN <= b <= PORT_MAX) or b < a:
        return None
    return a, b


def load(text: str, path: str) -> Any:
    """The compose file's node tree (ruamel's round-trip composer: every node knows its line
    and column; scalars keep their source text). Invalid YAML is an error naming file and line.

    Nodes, not the constructed document: construction doubles the cost and adds nothing here.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    try:
        return yaml.compose(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PortregError(f"{path}: not valid YAML{where}: {problem}") from None
    except Exception as exc:  # ruamel raises a few non-YAMLError types on odd input
        raise PortregError(f"{path}: not valid YAML: {exc}") from None


def _is_map(node: Any) -> bool:
    return type(node).__name__ == "MappingNode"


def _is_seq(node: Any) -> bool:
    return type(node).__name__ == "SequenceNode"


def _is_scalar(node: Any) -> bool:
    return type(node).__name__ == "ScalarNode"


def get(node: Any, key: str) -> Any:
    """A mapping node's value for `key`, following `<<` merge keys (anchors and aliases)."""
    if not _is_map(node):
        return None
    merges: list[Any] = []
    for k, v in node.value:
        if _is_scalar(k) and k.value == key and key != "<<":
            return v
        if _is_scalar(k) and k.value == "<<":
            merges.extend(v.value if _is_seq(v) else [v])
    for m in merges:
        found = get(m, key)
        if found is not None:
            return found
    return None


def items(node: Any) -> list[tuple[str, Any]]:
    if not _is_map(node):
        return []
    return [(str(k.value), v) for k, v in node.value if _is_scalar(k) and k.value != "<<"]


def scalar(node: Any) -> str:
    return str(node.value) if _is_scalar(node) else ""


def shape_problems(root: Any) -> list[str]:
    """What makes a document not the compose file it was named as: no `services` mapping,
    a service that is not a mapping, `ports` that is not a list (compose itself refuses those)."""
    services = get(root, "services")
    if not _is_map(services):
        return ["no `services:` mapping (not a compose file?)"]
    out = []
    for name, svc in items(services):
        if not _is_map(svc):
            out.append(f"{name}: not a mapping; skipped")
        elif get(svc, "ports") is not None and not _is_seq(get(svc, "ports")):
            out.append(f"{name}: `ports` is not a list; skipped")
    return out


def published(root: Any) -> list[Published]:
    """Every published port entry of every service in a compose file's node tree."""
    out: list[Published] = []
    for name, svc in items(get(root, "services")):
        ports = get(svc, "ports")
        if not _is_seq(ports):
            continue
        image = scalar(get(svc, "image"))
        for item in ports.value:
            entry: Published | None = None
            if _is_scalar(item):
                mark = item.start_mark
                entry = _short(name, str(item.value), mark.line, mark.column)
            elif _is_map(item) and get(item, "published") is not None:
                entry = _long(name, item)
            # else `- 8000`: a container port only, nothing published
            if entry is not None:
                out.append(replace(entry, image=image))
    return out


def _short(name: str, value: str, line: int, col: int) -> Published | None:
    m = _SHORT.match(value.strip())
    if m is None:
        return None
    host = m.group("host")
    offset = m.start("host")
    variable = ""
    if host.startswith("${"):
        variable = re.sub(r"[:}].*|-.*", "", host[2:])
        host = m.group("default") or ""
        offset = m.start("default") if host else offset
    if host and _range(host) is None:
        return None
    return Published(
        service=name,
        host=host,
        container=m.group("container"),
        protocol=(m.group("proto") or "tcp").lower(),
        host_ip=(m.group("ip") or "").strip("[]"),
        variable=variable,
        line=line,
        col=col,
        host_offset=offset + (len(value) - len(value.lstrip())),
        long=False,
    )


def _long(name: str, item: Any) -> Published | None:
    node = get(item, "published")
    host = scalar(node).strip()
    if _range(host) is None:
        return None
    return Published(
        service=name,
        host=host,
        container=scalar(get(item, "target")),
        protocol=(scalar(get(item, "protocol")) or "tcp").lower(),
        host_ip=scalar(get(item, "host_ip")),
        variable="",
        line=node.start_mark.line,
        col=node.start_mark.column,
        host_offset=0,
        long=True,
    )


def _locate(body: str, entry: Published) -> tuple[Token, Token | None] | None:
    """The host port's digits (and a range's end) on the entry's line, or None if unsure."""
    bounds = _range(entry.host)
    if bounds is None:
        return None
    lo_text, _, hi_text = entry.host.partition("-")
    base = entry.col + (1 if body[entry.col : entry.col + 1] in ("'", '"') else 0)
    start = base + entry.host_offset
    if body[start : start + len(entry.host)] != entry.host:
        # The scalar's text differs from its value (escapes, odd quoting): find the number alone.
        hits = [
            m.start()
            for m in re.finditer(rf"(?<!\d){re.escape(entry.host)}(?!\d)", body[entry.col :])
        ]
        if len(hits) != 1:
            return None
        start = entry.col + hits[0]
    first = Token(start, start + len(lo_text), bounds[0])
    if not hi_text:
        return first, None
    hi_start = start + len(lo_text) + 1
    return first, Token(hi_start, hi_start + len(hi_text), bounds[1])


def slots(text: str, path: str, environment: str) -> list[Slot]:
    """The published host ports of `text` whose digits the line itself carries, as slots;
    raises PortregError on invalid YAML.

    Read as compose reads it (`portreg.importers.published`, with no variables set, so a
    default is what the line says: `${SQL_PORT:-127.0.0.1:13306}:3306`, `published:
    "${WEBP:-8083}"`); `$VAR` without a default carries no digits here (its `.env` does).
    """
    from portreg.importers.published import read

    found = read(text, path, {})
    lines = split_lines(text)
    out: dict[tuple[int, int], Slot] = {}
    for hp in found.ports:
        if hp.port != hp.range_start or hp.line > len(lines):
            continue
        body, _ = line_body(lines[hp.line - 1])
        located = _find(body, hp.range_start, hp.range_end)
        if located is None:
            continue
        token, extra = located
        key = (hp.line - 1, token.start)
        prev = out.get(key)
        if prev is not None:  # TCP and UDP of one entry, or one entry shared through an anchor
            owners = tuple(dict.fromkeys((*prev.owners, hp.service)))
            out[key] = replace(prev, owners=owners)
            continue
        out[key] = Slot(
            path=path,
            kind="compose",
            line=hp.line - 1,
            token=token,
            environment=environment,
            owners=(hp.service,),
            value="" if hp.container is None else str(hp.container),
            extra=extra,
            variables=hp.variables,
        )
    return sorted(out.values(), key=lambda s: (s.line, s.token.start))


def _find(body: str, start: int, end: int) -> tuple[Token, Token | None] | None:
    """The host port's digits on its line: the first number equal to it that is no part of a
    word, a variable's name or an address (the host side comes before the container's)."""
    m = re.search(rf"(?<![\w.]){start}(?!\d)", body)
    if m is None:
        return None
    first = Token(m.start(), m.end(), start)
    if end == start:
        return first, None
    tail = re.match(rf"-{end}(?!\d)", body[m.end() :])
    if tail is None:
        return None
    return first, Token(m.end() + 1, m.end() + tail.end(), end)
