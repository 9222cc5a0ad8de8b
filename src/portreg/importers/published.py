"""Every host port a compose file publishes, read as compose reads it.

Pure: compose text and the variables compose would see in, one `HostPort` per published host
port (a range port by port, TCP and UDP apart) and one `NotPublished` per entry that names a
port without publishing a fixed one. Nothing is dropped without a word: an entry is either
recorded or reported with its 1-based line (for long syntax, the line of `published:`) and why.

Decisions (Compose Specification, 05-services.md `ports`, `expose`, `network_mode`):
- Variables are interpolated first (`portreg.importers.interpolate`), on either side of `:`,
  and may carry an IP (`${X:-127.0.0.1:13306}:3306`).
- `HOST_RANGE:CONTAINER_RANGE` of equal length publishes port for port; a host range with one
  container port (`8000-9000:80`) lets the engine pick one port: not recorded, reported.
- An empty host part (`:8000`, `${UNSET}:8000`, `127.0.0.1::80`, `- 8000`, long syntax without
  `published`) is an ephemeral host port: reported, not recorded.
- `expose:` and `network_mode: host` publish nothing portreg can record: reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portreg.importers.interpolate import InterpolationError, interpolate

_SHORT = re.compile(
    r"""^(?:(?P<ip>\[[0-9A-Fa-f:.]*\]|[^:\[\]]*):)??
    (?P<host>\d*(?:-\d+)?)
    :(?P<container>\d+(?:-\d+)?)
    (?:/(?P<proto>[A-Za-z]+))?$""",
    re.VERBOSE,
)
_CONTAINER_ONLY = re.compile(r"^(?P<container>\d+(?:-\d+)?)(?:/(?P<proto>[A-Za-z]+))?$")


@dataclass(frozen=True, slots=True)
class HostPort:
    """One published host port."""

    service: str
    port: int
    transport: str  # tcp | udp (sctp is kept as written)
    host_ip: str
    line: int  # 1-based
    container: int | None
    variables: tuple[str, ...]  # what the host port's text read, in order
    range_start: int  # first host port of the entry's range (== port when no range)
    range_end: int
    # the variables only the container's side reads (`${SANDBOX_PORT:-8194}` in dify's
    # `${EXPOSE_SANDBOX_PORT:-8194}:${SANDBOX_PORT:-8194}`): no place of the host port
    inner: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotPublished:
    """A ports entry (or mode) that publishes nothing, with its line and why."""

    service: str
    line: int
    why: str
    # the variables it reads: a container's port (`"${AD_PORT}"`, `expose: [$X]`), so a `.env`
    # key of that name is no host port
    variables: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Read:
    """A compose file read as compose reads it: published ports, and what publishes none."""

    ports: tuple[HostPort, ...]
    skipped: tuple[NotPublished, ...]


def read(text: str, source: str, variables: Mapping[str, str]) -> Read:
    from portreg.importers.yamlnodes import get, items, load, scalar

    root: Any = load(text, source)
    ports: list[HostPort] = []
    skipped: list[NotPublished] = []
    for name, svc in items(get(root, "services")):
        mode = get(svc, "network_mode")
        if mode is not None and _value(scalar(mode), variables) == "host":
            skipped.append(
                NotPublished(name, mode.start_mark.line + 1, "network_mode: host publishes none")
            )
        exposed = get(svc, "expose")
        for item in getattr(exposed, "value", []) if _kind(exposed) == "Sequence" else []:
            try:
                read_vars = interpolate(scalar(item), variables).variables
            except InterpolationError:
                read_vars = ()
            skipped.append(
                NotPublished(
                    name,
                    item.start_mark.line + 1,
                    f"expose {scalar(item)!r} is for other containers, not published",
                    read_vars,
                )
            )
        listed = get(svc, "ports")
        if _kind(listed) != "Sequence":
            continue
        for item in listed.value:
            if _kind(item) == "Scalar":
                _short(name, item, variables, ports, skipped)
            elif _kind(item) == "Mapping":
                _long(name, item, variables, ports, skipped)
            else:
                skipped.append(NotPublished(name, item.start_mark.line + 1, "not a port entry"))
    return Read(tuple(ports), tuple(skipped))


def _kind(node: Any) -> str:
    return type(node).__name__.removesuffix("Node")


def _value(text: str, variables: Mapping[str, str]) -> str:
    try:
        return interpolate(text, variables).value
    except InterpolationError:
        return text


def _short(
    service: str,
    node: Any,
    variables: Mapping[str, str],
    ports: list[HostPort],
    skipped: list[NotPublished],
) -> None:
    line = node.start_mark.line + 1
    raw = str(node.value)
    try:
        done = interpolate(raw, variables)
    except InterpolationError as exc:
        skipped.append(NotPublished(service, line, str(exc)))
        return
    value = done.value.strip()
    if _CONTAINER_ONLY.match(value):
        skipped.append(NotPublished(service, line, f"{raw!r}: ephemeral host port", done.variables))
        return
    m = _SHORT.match(value)
    if m is None:
        skipped.append(NotPublished(service, line, f"{raw!r} reads {value!r}: not a port entry"))
        return
    ip = (m.group("ip") or "").strip("[]")
    _publish(
        service,
        line,
        raw,
        m.group("host"),
        m.group("container"),
        (m.group("proto") or "tcp").lower(),
        ip,
        _host_variables(raw, variables, done.variables),
        ports,
        skipped,
        _container_variables(raw, variables),
    )


def _host_variables(
    raw: str, variables: Mapping[str, str], read: tuple[str, ...]
) -> tuple[str, ...]:
    """The variables that carry the host port of a short entry: those of its host part only.
    In dify's `${EXPOSE_SANDBOX_PORT:-8194}:${SANDBOX_PORT:-8194}` SANDBOX_PORT is the
    container's port, and in mailcow's `${HTTP_BIND:-}:${HTTP_PORT:-80}:80` HTTP_BIND its
    address: moving the host port must rewrite neither. A text whose parts cannot be told
    apart (one variable holding `8080:80`) keeps every variable it read."""
    parts = _top_level_parts(raw)
    if len(parts) not in (2, 3):
        return read
    host = parts[-2]
    try:
        return interpolate(host, variables).variables
    except InterpolationError:
        return read


def _container_variables(raw: str, variables: Mapping[str, str]) -> tuple[str, ...]:
    """The variables of a short entry's container part that its host part does not read."""
    parts = _top_level_parts(raw)
    if len(parts) not in (2, 3):
        return ()
    try:
        host = set(interpolate(parts[-2], variables).variables)
        inner = interpolate(parts[-1], variables).variables
    except InterpolationError:
        return ()
    return tuple(v for v in inner if v not in host)


def _top_level_parts(raw: str) -> list[str]:
    """`raw` split at its colons that are in no `${…}` and no `[…]` (an IPv6 address)."""
    out: list[str] = []
    depth = 0
    bracket = False
    start = i = 0
    while i < len(raw):
        if raw.startswith("$$", i):
            i += 2
            continue
        if raw.startswith("${", i):
            depth += 1
            i += 2
            continue
        c = raw[i]
        if c == "}" and depth:
            depth -= 1
        elif c == "[" and not depth:
            bracket = True
        elif c == "]" and not depth:
            bracket = False
        elif c == ":" and not depth and not bracket:
            out.append(raw[start:i])
            start = i + 1
        i += 1
    out.append(raw[start:])
    return out


def _long(
    service: str,
    node: Any,
    variables: Mapping[str, str],
    ports: list[HostPort],
    skipped: list[NotPublished],
) -> None:
    from portreg.importers.yamlnodes import get, scalar

    published = get(node, "published")
    target = get(node, "target")
    values: dict[str, str] = {}
    used: list[str] = []
    for key in ("published", "target", "host_ip", "protocol"):
        n = get(node, key)
        if n is None:
            continue
        try:
            done = interpolate(scalar(n), variables)
        except InterpolationError as exc:
            where = (n.start_mark.line if n is not None else node.start_mark.line) + 1
            skipped.append(NotPublished(service, where, str(exc)))
            return
        values[key] = done.value.strip()
        if key == "published":
            used.extend(done.variables)
    anchor = published if published is not None else (target or node)
    line = anchor.start_mark.line + 1
    if not values.get("published"):
        skipped.append(NotPublished(service, line, "no `published`: ephemeral host port"))
        return
    _publish(
        service,
        line,
        f"published: {scalar(published)}",
        values["published"],
        values.get("target", ""),
        (values.get("protocol") or "tcp").lower(),
        values.get("host_ip", ""),
        tuple(used),
        ports,
        skipped,
    )


def _bounds(text: str) -> tuple[int, int] | None:
    lo, dash, hi = text.partition("-")
    if not lo.isdigit() or (dash and not hi.isdigit()):
        return None
    a, b = int(lo), int(hi or lo)
    return (a, b) if 1 <= a <= b <= 65535 else None


def _publish(
    service: str,
    line: int,
    raw: str,
    host: str,
    container: str,
    transport: str,
    ip: str,
    used: tuple[str, ...],
    ports: list[HostPort],
    skipped: list[NotPublished],
    inner: tuple[str, ...] = (),
) -> None:
    if not host:
        skipped.append(NotPublished(service, line, f"{raw!r}: ephemeral host port"))
        return
    hb = _bounds(host)
    cb = _bounds(container) if container else None
    if hb is None or (container and cb is None):
        skipped.append(NotPublished(service, line, f"{raw!r}: not a valid port"))
        return
    h_lo, h_hi = hb
    if cb is not None and h_hi > h_lo and cb[0] == cb[1]:
        skipped.append(NotPublished(service, line, f"{raw!r}: one port picked from {h_lo}-{h_hi}"))
        return
    if cb is not None and h_hi - h_lo != cb[1] - cb[0]:
        skipped.append(NotPublished(service, line, f"{raw!r}: ranges of different lengths"))
        return
    for k in range(h_hi - h_lo + 1):
        ports.append(
            HostPort(
                service,
                h_lo + k,
                transport,
                ip,
                line,
                None if cb is None else cb[0] + k,
                used,
                h_lo,
                h_hi,
                inner,
            )
        )


def project_variables(dotenv: str | None, examples: list[str]) -> dict[str, str]:
    """What `${VAR}` reads: the project directory's `.env` (what compose reads), over the
    defaults of `.env.example` / `env.example` / `*.env.example` files imported along (what
    nobody but people read, yet where projects write the intended values). A key `.env`
    leaves out comes from the first example that has it."""
    from portreg.rewrite.envfile import entries

    out: dict[str, str] = {}
    for text in examples:
        for e in entries(text):
            out.setdefault(e.key, e.value)
    if dotenv is not None:
        out.update({e.key: e.value for e in entries(dotenv)})
    return out


@dataclass(frozen=True, slots=True)
class Owned:
    """What several compose files publish, one owner per host port and transport."""

    ports: tuple[tuple[str, HostPort], ...]  # (file, port), in (file, line) order
    warnings: tuple[str, ...]  # `FILE:LINE: …`, one per entry not recorded


def owners(reads: Mapping[str, Read]) -> Owned:
    """One owner per (host port, transport): the first in (file name, line) order, so the same
    files named in any order give the same registry. Every other claimant, and every entry
    that publishes no fixed port, is a `FILE:LINE` warning saying why it was not recorded.

    The same compose service on the same port twice (an override file repeating the base
    file's entry; compose appends `ports:` lists) is one recording, not a clash."""
    claims = sorted(((src, p) for src, r in reads.items() for p in r.ports), key=_order)
    kept: dict[tuple[int, str], tuple[str, HostPort]] = {}
    warnings: list[str] = []
    for src, p in claims:
        key = (p.port, p.transport)
        first = kept.get(key)
        if first is None:
            kept[key] = (src, p)
        elif first[1].service != p.service:
            warnings.append(
                f"{src}:{p.line}: {p.service} publishes {p.port}/{p.transport}, already"
                f" {first[1].service}'s ({first[0]}:{first[1].line}); not recorded"
            )
    for src in sorted(reads):
        warnings.extend(f"{src}:{s.line}: {s.service}: {s.why}" for s in reads[src].skipped)
    return Owned(tuple(sorted(kept.values(), key=_order)), tuple(sorted(warnings, key=_where)))


def _order(claim: tuple[str, HostPort]) -> tuple[str, int, int, str]:
    src, p = claim
    return (src, p.line, p.port, p.transport)


def _where(warning: str) -> tuple[str, int]:
    src, _, rest = warning.partition(":")
    line = rest.partition(":")[0]
    return (src, int(line) if line.isdigit() else 0)
