"""Rewriting the files a project keeps in step with its registry.

Each rewriter *locates* the places that carry a port ("slots": a `.env` value, a compose port
entry, a Markdown table between markers) and changes only those characters; every other byte of
the file stays as it was. Which service a slot belongs to is decided in `portreg.rewrite.plan`
(connection strings and compose service names recorded in the registry first, then names, then
the port itself). Pure: text in, slots and new text out; `plan` and `repo` do the I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portreg.vocabulary import ENVIRONMENTS


@dataclass(frozen=True, slots=True)
class Token:
    """Where a port number sits on a line: [start, end) character offsets, and its value."""

    start: int
    end: int
    port: int


@dataclass(frozen=True, slots=True)
class Slot:
    """One place in a file that carries a service's port.

    `extra` holds the other end of a range ("53000-53002:…"): it moves by the same amount.
    `owners` are the names the file gives it: the env key, or the compose services using it.
    """

    path: str
    kind: str  # "env" | "compose"
    line: int  # 0-based line index
    token: Token
    environment: str
    owners: tuple[str, ...]
    value: str = ""  # the env value (for connection-string templates), or the container port
    extra: Token | None = None
    variables: tuple[str, ...] = ()  # compose: the variables the entry reads (a default's)

    @property
    def port(self) -> int:
        return self.token.port

    def with_port(self, line_text: str, port: int) -> str:
        """`line_text` with this slot's number (and its range end) set for `port`."""
        edits = [(self.token, port)]
        if self.extra is not None:
            edits.append((self.extra, self.extra.port + port - self.token.port))
        out = line_text
        for tok, value in sorted(edits, key=lambda e: e[0].start, reverse=True):
            out = out[: tok.start] + str(value) + out[tok.end :]
        return out


_WORD = re.compile(r"[^a-z0-9]+")
_ALIASES = {
    "prod": "production",
    "production": "production",
    "stage": "staging",
    "staging": "staging",
    "dev": "development",
    "development": "development",
}


def environment_of(filename: str, known: tuple[str, ...] | list[str] = ENVIRONMENTS) -> str:
    """The environment a file describes, from the words of its name (default development).

    `.env.staging`, `docker-compose.prod.yaml` → staging, production; `.env`, `.env.example`,
    `docker-compose.override.yml` → development. A registry's own environments count too.
    """
    base = filename.rsplit("/", 1)[-1].lower()
    words = [w for w in _WORD.split(base) if w]
    for w in words:
        if w in _ALIASES:
            return _ALIASES[w]
        if w in known and w not in ("env", "yaml", "yml"):
            return w
    return "development"


def is_env_file(path: str) -> bool:
    """`.env`, `.env.example`, `.env.staging`, `env.example`, `app.env`, `app.env.example`."""
    base = path.rsplit("/", 1)[-1]
    return "env" in base and bool(_ENV.match(base))  # the test first: most names fail it


_ENV = re.compile(
    r"^(?:\.env(?:\..+)?|env\.(?:example|sample|template|dist)|[\w.-]+\.env(?:\.(?:example|sample|template|dist))?)$"
)
# docker-compose.yml, compose.prod.yaml, docker-stack.yml, docker-compose.override.yml.example
_COMPOSE = re.compile(
    r"^(?:docker-)?(?:compose|stack)(?:[._-][\w.-]*)?\.ya?ml(?:\.(?:example|sample|dist|template))?$",
    re.IGNORECASE,
)


def is_compose_file(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    return ".y" in base.lower() and bool(_COMPOSE.match(base))


def is_markdown_file(path: str) -> bool:
    return path.lower().endswith((".md", ".markdown"))


def split_lines(text: str) -> list[str]:
    """Lines with their endings kept, so joining them gives the text back byte for byte.

    Only `\\n` ends a line (as for git and YAML parsers); str.splitlines would also split on
    form feeds and Unicode separators and so shift every line number after them.
    """
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def line_body(line: str) -> tuple[str, str]:
    """A line without its ending, and the ending (`\\n`, `\\r\\n` or nothing)."""
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""
