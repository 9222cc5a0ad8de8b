"""Markdown: tables between `<!-- portreg:begin NAME -->` and `<!-- portreg:end -->` markers in
any file (README.md, CLAUDE.md, …), and the generated registry page.

Between the markers, the lines are replaced by `portreg.render.marker_table(registry, NAME)`;
blank lines right after the begin marker and right before the end marker are kept, and so is
everything outside the markers. The page is `portreg.render.markdown(registry)` as a whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portreg.errors import PortregError
from portreg.model import Registry
from portreg.rewrite import Slot, line_body, split_lines

BEGIN = re.compile(r"^\s*<!--\s*portreg:begin\s+(?P<name>[A-Za-z0-9_-]+)\s*-->\s*$")
END = re.compile(r"^\s*<!--\s*portreg:end\s*-->\s*$")
MARKER = "portreg:begin"
FENCE = re.compile(r"^ {0,3}(?P<mark>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True, slots=True)
class Block:
    """A marked region: the begin marker's and the end marker's 0-based line indexes."""

    name: str
    begin: int
    end: int


def blocks(text: str, path: str) -> list[Block]:
    """The marked regions of a file; an unclosed or nested marker is an error naming the line."""
    if "portreg:" not in text:
        return []
    out: list[Block] = []
    open_at: tuple[str, int] | None = None
    fence = ""  # the open code fence: markers shown inside one are examples, not markers
    for i, raw in enumerate(split_lines(text)):
        body, _ = line_body(raw)
        f = FENCE.match(body)
        if f is not None and open_at is None:
            mark = f.group("mark")
            if not fence:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence) and not f.group("info").strip():
                fence = ""
            continue
        if fence or "portreg:" not in body:
            continue
        m = BEGIN.match(body)
        if m is not None:
            if open_at is not None:
                raise PortregError(
                    f"{path}:{i + 1}: portreg:begin inside the block opened at line "
                    f"{open_at[1] + 1} (close it with <!-- portreg:end -->)"
                )
            open_at = (m.group("name"), i)
        elif END.match(body):
            if open_at is None:
                raise PortregError(f"{path}:{i + 1}: portreg:end without a portreg:begin")
            out.append(Block(open_at[0], open_at[1], i))
            open_at = None
    if open_at is not None:
        raise PortregError(
            f"{path}:{open_at[1] + 1}: portreg:begin {open_at[0]} is never closed "
            "(add <!-- portreg:end -->)"
        )
    return out


def render_blocks(text: str, path: str, registry: Registry) -> str:
    """`text` with every marked table regenerated from `registry`."""
    from portreg import render

    found = blocks(text, path)
    if not found:
        return text
    lines = split_lines(text)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    out: list[str] = []
    pos = 0
    for b in found:
        out.extend(lines[pos : b.begin + 1])
        inner = lines[b.begin + 1 : b.end]
        lead = 0
        while lead < len(inner) and not inner[lead].strip():
            lead += 1
        trail = 0
        while trail < len(inner) - lead and not inner[len(inner) - 1 - trail].strip():
            trail += 1
        try:
            table = render.marker_table(registry, b.name)
        except PortregError as exc:
            raise PortregError(f"{path}:{b.begin + 1}: {exc.message}") from None
        out.extend(inner[:lead])
        out.extend(row + eol for row in table.rstrip("\n").split("\n"))
        out.extend(inner[len(inner) - trail :])
        pos = b.end
    out.extend(lines[pos:])
    return "".join(out)


def block_lines(text: str, path: str) -> set[int]:
    """0-based indexes of the lines inside marked regions (what `sync` owns)."""
    try:
        found = blocks(text, path)
    except PortregError:
        return set()
    return {i for b in found for i in range(b.begin + 1, b.end)}


def is_page(text: str, title: str | None = None) -> bool:
    """Whether `text` is a registry page in the seed's format (a file `sync` regenerates)."""
    head = text[:4096]
    first = head.lstrip().split("\n", 1)[0].rstrip("\r")
    if not first.startswith("# "):
        return False
    if title is not None and first[2:].strip() != title.strip():
        return False
    return "**Port Range:**" in head and "## Active Services" in text


_PORT_IN_CELL = re.compile(r"(?<![\w.:/@-])(\d{1,5})(?![\w.:@]|-\d)")
_DEV = ("dev", "development", "local")


def table_slots(text: str, path: str, environments: list[str] | tuple[str, ...]) -> list[Slot]:
    """Port cells of hand-kept Markdown tables (outside portreg's marked blocks and fences):
    every number 1-65535 in a column whose header says "port" (`80 / 443` is two), first
    column included (`| Port Number | Service |`), owned by the row's name: the column headed
    like `Service` / `Name`, else the first other one. A `Container Port` (`Internal`,
    `Target`) column is the other side of a mapping, never a host port: not read (a move of
    a service on 8000 must not rewrite another row's container port 8000). The environment
    is the header's (`Production Port`), else development."""
    from portreg.rewrite import Token, environment_of

    lines = split_lines(text)
    skip = block_lines(text, path) if MARKER in text else set()
    out: list[Slot] = []
    header: list[str] | None = None
    port_cols: set[int] = set()
    name_col: int | None = None
    fence = False
    for i, line in enumerate(lines):
        body, _ = line_body(line)
        if FENCE.match(body):
            fence = not fence
        stripped = body.strip()
        if fence or i in skip or not stripped.startswith("|"):
            header = None if not stripped.startswith("|") else header
            continue
        cells = _cells(body)
        if header is None:
            header = [c.lower() for c, _ in cells]
            port_cols = _port_columns(header)
            name_col = _name_column(header, port_cols)
            continue
        if all(set(c.strip()) <= set("-: ") for c, _ in cells):
            continue  # the separator row
        has_name = name_col is not None and name_col < len(cells)
        name = _plain(cells[name_col][0]) if has_name and name_col is not None else ""
        if not name:
            continue
        for k, (cell, offset) in enumerate(cells):
            if k not in port_cols:
                continue
            title = header[k]
            env = environment_of(title.replace(" ", "-"), list(environments))
            for m in _PORT_IN_CELL.finditer(cell):
                port = int(m.group(1))
                if not 1 <= port <= 65535:
                    continue
                tok = Token(offset + m.start(1), offset + m.end(1), port)
                out.append(Slot(path, "markdown", i, tok, env, (name,), cell.strip()))
    return out


_CONTAINER_SIDE = ("container", "internal", "target", "inside")
_NAME = re.compile(r"\b(?:service|name|component|app|application)s?\b")


def _port_columns(header: list[str]) -> set[int]:
    """The columns whose header says "port" on the host's side."""
    return {
        k for k, h in enumerate(header) if "port" in h and not any(w in h for w in _CONTAINER_SIDE)
    }


def _name_column(header: list[str], port_cols: set[int]) -> int | None:
    """The row's name: the first column headed like `Service` / `Name`, else the first column
    that is no port column."""
    others = [k for k in range(len(header)) if k not in port_cols]
    named = [k for k in others if _NAME.search(_plain(header[k]))]
    first = named or others
    return first[0] if first else None


def _cells(body: str) -> list[tuple[str, int]]:
    """A table row's cells and where each starts on the line (an escaped `\\|` stays in)."""
    out: list[tuple[str, int]] = []
    start = body.index("|") + 1
    i = start
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == "|":
            out.append((body[start:i], start))
            start = i + 1
        i += 1
    if body[start:].strip():
        out.append((body[start:], start))
    return out


def _plain(cell: str) -> str:
    return re.sub(r"[*_`\[\]]|\(.*?\)", "", cell).strip()
