"""The common write (new services and their change-log entries) as a text edit of ports.toml.

`store.dumps` edits the whole file through tomlkit: at 2,000 services its parse and
`as_string` are over a second, for a change of a dozen lines. When a change only adds
services at the end of `[services]`, appends change-log entries and moves
`registry.last_updated`, the new text is the old text with the new lines put where tomlkit
would put them: the new tables before the first `[[changes]]` (or at the end), the entries at
the end, the one `last_updated = …` line replaced. The result is byte-identical to
`store.dumps(after, previous=text)` (tests/registry/test_tomlappend.py checks the two against
each other); anything else (a changed service, a value this module does not format exactly as
tomlkit does, a layout it does not recognise) returns None and the caller takes tomlkit's path.

Values are written only in forms whose TOML reading is unambiguous (plain strings, integers,
whole-second local date-times, inline tables of those), so the parse the cache keeps for the
new file is what reading it would give (the tests compare the two).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

# Lexical tokens of TOML that can hide a `[` at the start of a line or a `#`: strings and
# comments, and table headers at the start of a line (outside strings, since strings are
# consumed whole). Multi-line strings may end with up to two extra quotes.
_LEX = re.compile(
    r"(?=[\"'#\[ \t])"
    r'(?:(?P<mlb>"""(?:[^\\]|\\[\s\S])*?"""(?!"))'
    r"|(?P<mll>'''[\s\S]*?'''(?!'))"
    r'|(?P<b>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<l>'[^'\n]*')"
    r"|(?P<c>\#[^\n]*)"
    r"|(?P<h>^[ \t]*\[[^\n]*))",
    re.MULTILINE,
)
_BARE = re.compile(r"[A-Za-z0-9_-]+")
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\\\n]*"|'[^'\n]*')"""
_HEADER = re.compile(rf"(\[\[?)[ \t]*({_PART}(?:[ \t]*\.[ \t]*{_PART})*)[ \t]*(\]\]?)[ \t]*(#.*)?")
_LAST_UPDATED = re.compile(r"^last_updated = [0-9T:-]+$", re.MULTILINE)
_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f]*')


def _key(k: str) -> str | None:
    if _BARE.fullmatch(k):
        return k
    return f'"{k}"' if _PLAIN.fullmatch(k) else None


def _value(v: Any) -> str | None:
    """`v` as tomlkit writes it, or None where this module does not know that for sure."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return f'"{v}"' if _PLAIN.fullmatch(v) else None
    if isinstance(v, datetime):
        if v.tzinfo is not None or v.microsecond:
            return None
        return v.isoformat()
    if isinstance(v, list) and all(isinstance(x, str | int) and not isinstance(x, bool) for x in v):
        items = [_value(x) for x in v]
        return None if None in items else "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
    return None


def _inline(d: dict[str, Any]) -> str | None:
    parts = []
    for k, v in d.items():
        key, value = _key(k), _value(v)
        if key is None or value is None:
            return None
        parts.append(f"{key} = {value}")
    return "{" + ", ".join(parts) + "}"


def _table(header: str, data: dict[str, Any], inline: frozenset[str]) -> str | None:
    lines = [header]
    for k, v in data.items():
        key = _key(k)
        value = _inline(v) if k in inline and isinstance(v, dict) else _value(v)
        if key is None or value is None:
            return None
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


_LINE_START = re.compile(r"^[ \t]*\[[^\n]*", re.MULTILINE)


def _headers(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, int]]] | None:
    """(offset, normalised header) of every top-level table header, and the spans of the
    multi-line strings; None if a header looks odd."""
    out = []
    # Only a multi-line string can hide a `[` at the start of a line (comments and one-line
    # strings end with theirs). Without one, the lines that start with `[` are the headers,
    # found far faster than by lexing every string and comment of the file.
    strings: list[tuple[int, int]] = []
    if '"""' in text or "'''" in text:
        tokens = list(_LEX.finditer(text))
        found: Iterator[re.Match[str]] = (m for m in tokens if m.lastgroup == "h")
        strings = [m.span() for m in tokens if m.lastgroup in ("mlb", "mll")]
    else:
        found = _LINE_START.finditer(text)
    for m in found:
        h = _HEADER.fullmatch(m.group().strip())
        if h is None or (h.group(1) == "[") != (h.group(3) == "]"):
            return None  # not a header after all (an array of arrays?): tomlkit's path
        out.append((m.start(), f"{h.group(1)}{h.group(2)}{h.group(3)}"))
    return out, strings


def edit(
    text: str,
    new_services: dict[str, dict[str, Any]],
    new_changes: list[dict[str, Any]],
    last_updated: datetime | None,
) -> str | None:
    """`text` with the services (store's TOML data, in order) and change entries added, and
    `registry.last_updated` set; None when the edit is not certain to equal tomlkit's."""
    if not text.endswith("\n") or "\r" in text or not (new_services or new_changes):
        return None  # CRLF files, a last line without its newline: tomlkit's path
    lexed = _headers(text)
    if lexed is None:
        return None
    headers, strings = lexed
    names = [h for _, h in headers]
    if not any(h == "[services]" or h.startswith("[services.") for h in names):
        return None  # `services` written inline, or absent: let tomlkit decide
    first_changes = next((i for i, h in enumerate(names) if h == "[[changes]]"), None)
    if first_changes is not None and any(h != "[[changes]]" for h in names[first_changes:]):
        return None  # something after the change log: tomlkit's placement is not ours to guess
    if new_changes and first_changes is None:
        return None  # the first entry of a change log: tomlkit's path, once
    # The [registry] table's span, for its last_updated line.
    reg = [i for i, h in enumerate(names) if h == "[registry]"]
    if len(reg) != 1:
        return None
    start = headers[reg[0]][0]
    end = headers[reg[0] + 1][0] if reg[0] + 1 < len(headers) else len(text)
    if any(a < end and b > start for a, b in strings):
        return None  # a multi-line string in [registry] could hold a `last_updated =` line
    stamps = list(_LAST_UPDATED.finditer(text, start, end))
    if last_updated is not None and len(stamps) != 1:
        return None  # not there yet: tomlkit finds its place once, then it is there

    service_text = []
    for sid, data in new_services.items():
        key = _key(sid)
        if key is None:
            return None
        table = _table(f"[services.{key}]", data, frozenset({"ports", "connection_strings"}))
        if table is None or not set(data) <= _SERVICE_KEYS:
            return None
        service_text.append(table)
    change_text = []
    for data in new_changes:
        table = _table("[[changes]]", data, frozenset())
        if table is None:
            return None
        change_text.append("\n" + table)

    out = text
    if last_updated is not None:
        stamp = _value(last_updated)
        if stamp is None:
            return None
        m = stamps[0]
        out = f"{out[: m.start()]}last_updated = {stamp}{out[m.end() :]}"
        shift = len(out) - len(text)
    else:
        shift = 0
    added = "".join(service_text)
    if first_changes is None:
        out = out + "\n" + added.replace("\n[services.", "\n\n[services.")
    else:
        at = headers[first_changes][0] + shift
        # tomlkit ends the table before with one blank line, and adds none after the new one.
        if out[at - 2 : at] == "\n\n":
            lead = ""
        elif out[at - 1 : at] == "\n" and out[at - 2 : at - 1] not in (" ", "\t", ""):
            lead = "\n"
        else:
            return None  # whitespace tomlkit may treat otherwise: its path
        out = out[:at] + lead + added.replace("\n[services.", "\n\n[services.") + out[at:]
    return out + "".join(change_text)


# Keys of a service table that `_table` writes as tomlkit does (no multi-line text, no arrays of
# tables): the rest go through tomlkit.
_SERVICE_KEYS = frozenset(
    {
        "name",
        "status",
        "protocol",
        "transport",
        "ports",
        "notes",
        "description",
        "process",
        "deployment",
        "health_check",
        "tls",
        "connections",
        "purpose",
        "depends_on",
        "compose_service",
        "container_port",
        "forced",
        "connection_strings",
    }
)
