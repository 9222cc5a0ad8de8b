"""Variable interpolation as the Compose Specification defines it (12-interpolation.md).

Pure: a string and a mapping of variables in, the interpolated string out. Forms:
`$VAR` and `${VAR}`; `${VAR:-default}` (unset *or empty* → default) and `${VAR-default}`
(unset only → default); `${VAR:?err}` / `${VAR?err}` (an error when unset-or-empty / unset);
`${VAR:+alt}` / `${VAR+alt}` (alt when set-and-non-empty / set, else empty); `$$` is a literal
`$`. Defaults and alternatives may themselves hold interpolations (`${A:-${B:-53000}}`),
resolved only when used, as compose does.

Besides the value, `interpolate` reports which variables were *read* (in order) — the importer
needs them to know what carries a port — and raises `InterpolationError` for `:?`/`?` and for
malformed text, so the importer can name `FILE:LINE` and say why an entry was not recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A `${VAR:?err}` on an unset variable, or text compose itself refuses to interpolate."""


@dataclass(frozen=True, slots=True)
class Interpolated:
    """The value, and every variable whose value (or absence) decided it."""

    value: str
    variables: tuple[str, ...]


def interpolate(text: str, variables: Mapping[str, str]) -> Interpolated:
    used: list[str] = []
    value, end = _expand(text, 0, variables, used, closing=False)
    assert end == len(text)
    return Interpolated(value, tuple(dict.fromkeys(used)))


def _expand(
    text: str, i: int, env: Mapping[str, str], used: list[str], *, closing: bool
) -> tuple[str, int]:
    """Expand from `i` to the end (or, inside a `${…}` default, to its unmatched `}`)."""
    out: list[str] = []
    n = len(text)
    while i < n:
        c = text[i]
        if closing and c == "}":
            return "".join(out), i
        if c != "$":
            out.append(c)
            i += 1
            continue
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("${", i):
            piece, i = _braced(text, i + 2, env, used)
            out.append(piece)
            continue
        m = _NAME.match(text, i + 1)
        if m is None:
            out.append("$")  # a lone `$` before a non-name character stays as it is
            i += 1
            continue
        used.append(m.group())
        out.append(env.get(m.group(), ""))
        i = m.end()
    if closing:
        raise InterpolationError(f"unclosed '${{' in {text!r}")
    return "".join(out), i


def _braced(text: str, i: int, env: Mapping[str, str], used: list[str]) -> tuple[str, int]:
    """`NAME[op word]}` starting at `i` (just past `${`): the value and the index past `}`."""
    m = _NAME.match(text, i)
    if m is None:
        raise InterpolationError(f"invalid interpolation format in {text!r}")
    name = m.group()
    used.append(name)
    i = m.end()
    present = name in env
    value = env.get(name, "")
    if text.startswith("}", i):
        return value, i + 1
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(op, i):
            break
    else:
        raise InterpolationError(f"invalid interpolation format for ${{{name}}} in {text!r}")
    colon = op.startswith(":")
    is_set = bool(value) if colon else present
    # The word is expanded only when it is used: `${A:-${B}}` reads B only when A is unset.
    if (op[-1] == "-" and not is_set) or (op[-1] == "+" and is_set) or (op[-1] == "?"):
        scratch = used if not (op[-1] == "?" and is_set) else []
        word, end = _expand(text, i + len(op), env, scratch, closing=True)
    else:
        word, end = _expand(text, i + len(op), env, [], closing=True)
    if op[-1] == "-":
        return (value if is_set else word), end + 1
    if op[-1] == "+":
        return (word if is_set else ""), end + 1
    if not is_set:
        why = word or ("is empty or unset" if colon else "is unset")
        raise InterpolationError(f"required variable {name}: {why}")
    return value, end + 1
