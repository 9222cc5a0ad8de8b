"""`.env` files as registry values: keys whose value is a port or a URL with one.

Pure: text in, an `Imported` out. The service comes from the URL's scheme when it names one
(`postgresql+asyncpg://…` → PostgreSQL, `redis://` → Redis), else from the key without its
suffix (`API_PORT` → api, `POSTGRES_PORT` → PostgreSQL). A URL is recorded as the service's
connection string (`{port}` where the port stands), so `move` rewrites that key. Standard ports
(`POSTGRES_CONTAINER_PORT=5432`) are a container's own, not the registry's: they are skipped.
"""

from __future__ import annotations

import re
from dataclasses import replace

from portreg.importers._result import Imported
from portreg.model import DEFAULT_AVOID, ConnectionString, Registry, Service, service_id
from portreg.protocols import named_kind

_SUFFIX = re.compile(
    r"_(?:PORT|URL|URI|DSN|ADDR|ADDRESS|HOST|ENDPOINT|SERVER)(?:_.*)?$", re.IGNORECASE
)
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9]+)?://")


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


def parse(text: str, source: str) -> Imported:
    from portreg.rewrite import environment_of
    from portreg.rewrite.envfile import entries, tokens

    environment = environment_of(source)
    services: dict[str, Service] = {}
    warnings: list[str] = []
    for e in entries(text):
        found = tokens(e.value, e.key)
        if len(found) != 1:
            continue
        port = found[0].port
        if port in DEFAULT_AVOID:
            continue  # a container's or a tool's standard port, not a registry entry
        name, protocol = service_for(e.key, e.value)
        sid = service_id(name)
        if not sid:
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
    return Imported(Registry(services=services), source, warnings=tuple(warnings), kind="env")
