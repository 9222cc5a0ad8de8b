"""`.env` files as registry values: keys whose value is a port or a URL with one.

Pure: text in, an `Imported` out. The service comes from the URL's scheme when it names one
(`postgresql+asyncpg://…` → PostgreSQL, `redis://` → Redis), else from the key without its
suffix (`API_PORT` → api, `POSTGRES_PORT` → PostgreSQL). A URL is recorded as the service's
connection string (`{port}` where the port stands), so `move` rewrites that key.

`ports` lists every key that carries a port, whatever the port (`APP_PORT=3000` and
`WEB_PORT=8080` too: a standard port a project publishes is still its port; the audit says
`avoided-port`). `parse` records them all, and says `FILE:LINE` and why for each one it cannot
record: a key naming a container's own port (`POSTGRES_CONTAINER_PORT=5432`, `*_INTERNAL_PORT`,
`*_TARGET_PORT`: the other side of a mapping, not a host port), a value with several ports, a
key that gives no service name. Nothing is skipped without a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from portreg.importers._result import Imported
from portreg.model import ConnectionString, Registry, Service, service_id
from portreg.protocols import named_kind

_SUFFIX = re.compile(
    r"_(?:PORT|URL|URI|DSN|ADDR|ADDRESS|HOST|ENDPOINT|SERVER)(?:_.*)?$", re.IGNORECASE
)
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9]+)?://")
# The container's side of a mapping: `POSTGRES_CONTAINER_PORT`, `APP_INTERNAL_PORT`.
_CONTAINER_SIDE = re.compile(r"(?:^|_)(?:CONTAINER|INTERNAL|TARGET)_PORT(?:_|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class EnvPort:
    """One port a `.env` line carries: `KEY=53100`, or the `:53100` of `KEY=http://h:53100/x`."""

    key: str
    port: int
    line: int  # 1-based
    value: str  # the whole value, as written (quotes and comment removed)
    start: int  # offsets of the port's digits in `value`
    end: int


def ports(text: str) -> tuple[EnvPort, ...]:
    """Every port the file's `KEY=VALUE` lines carry, in file order (a value with two
    `host:port` parts gives two). Commented-out lines carry none."""
    from portreg.rewrite.envfile import entries, tokens

    return tuple(
        EnvPort(e.key, t.port, e.line + 1, e.value, t.start, t.end)
        for e in entries(text)
        for t in tokens(e.value, e.key)
    )


def service_for(key: str, value: str) -> tuple[str, str]:
    """(display name, protocol) of the service a `KEY=value` line is about."""
    m = _SCHEME.match(value)
    scheme = m.group("scheme").lower() if m else ""
    kind = named_kind(scheme) if scheme else None
    if kind is not None:
        return kind
    stem = _SUFFIX.sub("", key) or key
    kind = named_kind(stem)
    if kind is not None and not (scheme and scheme.startswith("http")):
        return kind
    name = " ".join(w if w.isupper() and len(w) <= 4 else w.title() for w in stem.split("_") if w)
    protocol = "http" if scheme in ("http", "https", "ws", "wss") else "tcp"
    return name or key, protocol


# `X_PORT` beside one of these says which host X is reached on.
_HOST_KEYS = ("_HOST", "_HOSTNAME", "_SERVER", "_ADDR", "_ADDRESS", "_host", "_hostname")


def parse(text: str, source: str) -> Imported:
    from portreg.rewrite import environment_of
    from portreg.rewrite.envfile import entries, tokens

    environment = environment_of(source)
    services: dict[str, Service] = {}
    warnings: list[str] = []
    every = entries(text)
    values = {e.key: e.value.strip() for e in every}
    hosts = {
        e.key: values[host]
        for e in every
        if e.key.upper().endswith("_PORT")
        for host in (e.key[:-5] + suffix for suffix in _HOST_KEYS)
        if values.get(host)
    }
    for e in every:
        found = tokens(e.value, e.key)
        if not found:
            continue
        where = f"{source}:{e.line + 1}: {e.key}"
        if len(found) > 1:
            listed = ", ".join(str(t.port) for t in found)
            warnings.append(f"{where} names {len(found)} ports ({listed}); not recorded")
            continue
        port = found[0].port
        if _CONTAINER_SIDE.search(e.key):
            warnings.append(f"{where}={port} is a container's own port; not recorded")
            continue
        name, protocol = service_for(e.key, e.value)
        sid = service_id(name)
        if not sid:
            warnings.append(f"{where}: no service name in the key; {port} not recorded")
            continue
        conns: tuple[ConnectionString, ...] = ()
        if not e.value.isdigit():
            t = found[0]
            conns = (ConnectionString(e.key, e.value[: t.start] + "{port}" + e.value[t.end :]),)
        old = services.get(sid)
        if old is None:
            services[sid] = Service(
                id=sid,
                name=name,
                ports={environment: port},
                protocol=protocol,
                connection_strings=conns,
                bindings=(f"${e.key}",),
            )
            continue
        if old.ports.get(environment) != port:
            warnings.append(
                f"{source}:{e.line + 1}: {e.key} says {sid} is on {port}, "
                f"an earlier line says {old.ports.get(environment)}; keeping the first"
            )
            continue
        services[sid] = replace(
            old,
            connection_strings=(*old.connection_strings, *conns),
            bindings=(*old.bindings, f"${e.key}"),
        )
    return Imported(
        Registry(services=services), source, warnings=tuple(warnings), kind="env", hosts=hosts
    )
