"""`.env`, `.env.example`, `.env.*`: the `KEY=VALUE` lines whose value is a port or a URL with one.

Line-level on purpose: python-dotenv's writer drops inline comments and the quotes of
`export X="…"`. Only the digits of the port change; `export`, quotes, spacing and comments stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portreg.model import PORT_MAX, PORT_MIN
from portreg.rewrite import Slot, Token, line_body, split_lines

_ASSIGN = re.compile(r"^[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*")
# A port after a host: `localhost:54432/db`, `@db:5432?x`, `0.0.0.0:54000`, `[::1]:54000`.
# Not `user:1234@host` (the password), not `postgres:postgres@`.
_HOST_PORT = re.compile(r"(?<=[A-Za-z0-9\]_.-]):(?P<port>\d{1,5})(?=$|[/?#,;\s])")
_INLINE_COMMENT = re.compile(r"[ \t]+#")


@dataclass(frozen=True, slots=True)
class Entry:
    """One `KEY=VALUE` line: the value's text and where it starts on the line."""

    line: int
    key: str
    value: str
    start: int
    quoted: bool


def entries(text: str) -> list[Entry]:
    out: list[Entry] = []
    for i, raw in enumerate(split_lines(text)):
        body, _ = line_body(raw)
        m = _ASSIGN.match(body)
        if m is None:
            continue
        start = m.end()
        rest = body[start:]
        quoted = rest[:1] in ("'", '"')
        if quoted:
            q = rest[0]
            j = 1
            while j < len(rest) and rest[j] != q:
                j += 2 if (q == '"' and rest[j] == "\\") else 1
            value, start = rest[1:j], start + 1
        else:
            cut = _INLINE_COMMENT.search(rest)
            value = (rest[: cut.start()] if cut else rest).rstrip()
            if value.startswith("#"):
                value = ""
        out.append(Entry(i, m.group("key"), value, start, quoted))
    return out


_HOST_START = re.compile(r"[@/,\[\s=]")


def tokens(value: str, key: str = "PORT") -> list[Token]:
    """The ports in a value: the whole value when it is a number and the key names a port
    (`API_PORT=53100`; `TIMEOUT_MS=30000` and `YEAR=2024` are not ports), else each
    `host:PORT` (`12:30` is not one)."""
    if value.isdigit():
        port = int(value)
        if not PORT_MIN <= port <= PORT_MAX or "PORT" not in key.upper():
            return []
        return [Token(0, len(value), port)]
    found = []
    for m in _HOST_PORT.finditer(value):
        port = int(m.group("port"))
        starts = [h.end() for h in _HOST_START.finditer(value, 0, m.start())]
        host = value[starts[-1] if starts else 0 : m.start()]
        if not any(c.isalpha() or c in ".]" for c in host):
            continue  # a time, a ratio, a password: not a host
        if PORT_MIN <= port <= PORT_MAX:
            found.append(Token(m.start("port"), m.end("port"), port))
    return found


def slots(
    text: str, path: str, environment: str, bound: frozenset[str] = frozenset()
) -> list[Slot]:
    """The ports of a `.env` file; a key in `bound` (recorded by import as carrying a port,
    `INNER` read by `${INNER:-6060}`) is a port whatever its name."""
    out: list[Slot] = []
    for e in entries(text):
        for t in tokens(e.value, "PORT" if e.key in bound else e.key):
            out.append(
                Slot(
                    path=path,
                    kind="env",
                    line=e.line,
                    token=Token(e.start + t.start, e.start + t.end, t.port),
                    environment=environment,
                    owners=(e.key,),
                    value=e.value,
                )
            )
    return out


def template(slot: Slot) -> str:
    """The slot's value with `{port}` where the port stands (a connection-string template)."""
    value = slot.value
    for t in tokens(value):  # the slot's offsets are line offsets: find the port in the value
        if t.port == slot.port:
            return value[: t.start] + "{port}" + value[t.end :]
    return value
