"""Every mention of a port in the repository's files, and whether portreg rewrites it.

The mentions `move` does not handle (code, scripts, prose) are the ones a person must still
look at: the seed's "notify the team" step.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from portreg.errors import PortregError
from portreg.rewrite import (
    is_compose_file,
    is_env_file,
    is_markdown_file,
    line_body,
    split_lines,
)


@dataclass(frozen=True, slots=True)
class Mention:
    """A line of a file that mentions a port."""

    path: str
    line: int  # 1-based
    text: str
    rewritable: bool
    how: str  # env | compose | marker | page | "" (a person must look)

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.path,
            "line": self.line,
            "text": self.text,
            "rewritable": self.rewritable,
            "rewriter": self.how or None,
        }


def _owned_lines(rel: str, text: str, port: int) -> tuple[dict[int, str], bool]:
    """0-based lines a rewriter owns (line → rewriter), and whether the whole file is owned."""
    from portreg.rewrite import compose, envfile
    from portreg.rewrite.markdown import block_lines, is_page

    if is_env_file(rel):
        return {s.line: "env" for s in envfile.slots(text, rel, "") if s.port == port}, False
    if is_compose_file(rel):
        try:
            found = compose.slots(text, rel, "")
        except PortregError:
            return {}, False
        owned = {}
        for s in found:
            ends = {s.port} if s.extra is None else set(range(s.port, s.extra.port + 1))
            if port in ends:
                owned[s.line] = "compose"
        return owned, False
    if is_markdown_file(rel):
        if is_page(text):
            return {}, True
        return dict.fromkeys(block_lines(text, rel), "marker"), False
    return {}, False


def find(
    root: Path, port: int, skip: Path | None = None, exclude: tuple[str, ...] = ()
) -> list[Mention]:
    """Whole-number mentions of `port` in the files under `root` (git's list when a work tree)."""
    from portreg.rewrite import repo

    needle = str(port)
    raw_needle = needle.encode()
    pattern = re.compile(rf"(?<![0-9]){needle}(?![0-9])")
    from portreg.rewrite.confine import inside

    skip_rel = None
    if skip is not None:
        # The registry as named, not resolved: a symlinked ports.toml shared with another
        # checkout is skipped here, not refused as a link out of the repository.
        rel_skip = os.path.relpath(os.path.abspath(skip), os.path.abspath(root))
        skip_rel = None if rel_skip.startswith("..") else rel_skip.replace(os.sep, "/")
    out: list[Mention] = []
    for rel in repo.list_files(root, exclude):
        if rel == skip_rel:
            continue
        path = inside(root, rel)  # a candidate that resolves outside is refused, never read
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if raw_needle not in data or b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", "replace")
        hits = [
            (i, line_body(raw)[0])
            for i, raw in enumerate(split_lines(text))
            if needle in raw and pattern.search(raw)
        ]
        if not hits:
            continue
        owned, whole = _owned_lines(rel, text, port)
        for i, body in hits:
            how = "page" if whole else owned.get(i, "")
            shown = body.strip()
            if len(shown) > 200:
                shown = shown[:197] + "..."
            out.append(Mention(rel, i + 1, shown, bool(how), how))
    return out
