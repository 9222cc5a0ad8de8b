"""`docker-compose*.y(a)ml` / `compose*.y(a)ml`: the published host ports of each service.

ruamel.yaml (round-trip mode, YAML 1.2: `22:22` stays a string) *locates* every port entry and
reports its line and column; the edit itself replaces only the digits of the host port on that
line, so comments, anchors, quotes, indentation and key order stay byte for byte. Both syntaxes:
short (`"54432:5432"`, `"127.0.0.1:54000:8000"`, `"53000-53002:8000-8002/udp"`,
`"${API_PORT:-54000}:8000"`) and long (`published: 54432`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from portreg.importers.yamlnodes import get, is_map, is_seq, items
from portreg.rewrite import Slot, Token, line_body, split_lines


def shape_problems(root: Any) -> list[str]:
    """What makes a document not the compose file it was named as: no `services` mapping,
    a service that is not a mapping, `ports` that is not a list (compose itself refuses those)."""
    services = get(root, "services")
    if not is_map(services):
        return ["no `services:` mapping (not a compose file?)"]
    out = []
    for name, svc in items(services):
        if not is_map(svc):
            out.append(f"{name}: not a mapping; skipped")
        elif get(svc, "ports") is not None and not is_seq(get(svc, "ports")):
            out.append(f"{name}: `ports` is not a list; skipped")
    return out


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
    word, a variable's name or an address (the host side comes before the container's).

    str.find, not a regex per entry: 500 entries meant 500 patterns, past re's cache."""
    digits = str(start)
    at = body.find(digits)
    while at >= 0:
        after = at + len(digits)
        before_ok = at == 0 or not (body[at - 1].isalnum() or body[at - 1] in "_.")
        if before_ok and not body[after : after + 1].isdigit():
            break
        at = body.find(digits, at + 1)
    if at < 0:
        return None
    first = Token(at, at + len(digits), start)
    if end == start:
        return first, None
    last = f"-{end}"
    tail = at + len(digits)
    if not body.startswith(last, tail) or body[tail + len(last) : tail + len(last) + 1].isdigit():
        return None
    return first, Token(tail + 1, tail + len(last), end)
