"""docker-compose files as registry values: each service's published host ports.

Pure: text in, an `Imported` out. A compose service becomes a registry service named like it,
with its host port in the file's environment (`docker-compose.staging.yaml` → staging), its
container port, transport (`/udp`) and compose service name recorded (so `move` and `sync`
know which entry is whose). A second published port of one compose service becomes its own
registry service, `<name>-<container port>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portreg import protocols
from portreg.errors import PortregError
from portreg.importers._result import Imported
from portreg.model import Registry, Service, service_id

_HTTP_CONTAINER_PORTS = frozenset({80, 443, 3000, 5000, 8000, 8080, 8443, 9000})


def image_protocol(image: str, container: int | None, transport: str) -> str:
    if transport == "udp":
        return "udp"
    named = protocols.image_protocol(image)
    if named is not None:
        return named
    if container in _HTTP_CONTAINER_PORTS:
        return "http"
    return "tcp"


def _is_ports(value: str) -> bool:
    """`53100` or `53100-53102`, each a port number."""
    parts = value.split("-")
    return 0 < len(parts) <= 2 and all(p.isdigit() and 0 < int(p) < 65536 for p in parts)


def _first(text: str) -> int | None:
    head = text.partition("-")[0]
    return int(head) if head.isdigit() else None


def parse(text: str, source: str, variables: Mapping[str, str] | None = None) -> Imported:
    from portreg.rewrite import environment_of
    from portreg.rewrite.compose import load, published, shape_problems

    doc: Any = load(text, source)
    environment = environment_of(source)
    services: dict[str, Service] = {}
    problems = shape_problems(doc)
    if problems and problems[0].startswith("no `services:`"):
        raise PortregError(f"{source}: {problems[0]}")
    warnings: list[str] = [f"{source}: {problem}" for problem in problems]
    for entry in published(doc):
        host = entry.host
        if not host:
            value = (variables or {}).get(entry.variable, "").strip()
            if not _is_ports(value):
                warnings.append(
                    f"{source}: {entry.service}: ${{{entry.variable}}} has no default port"
                    " and no .env value; skipped"
                )
                continue
            host = value
        lo, _, hi = host.partition("-")
        port = int(lo)
        container = _first(entry.container)
        image = entry.image
        sid, name = service_id(entry.service), entry.service
        if sid in services:
            sid, name = f"{sid}-{container or port}", f"{entry.service}-{container or port}"
        notes = f"publishes {host} -> {entry.container}" if hi else ""
        if hi:
            warnings.append(f"{source}: {entry.service}: port range {host} recorded as {port}")
        services[sid] = Service(
            id=sid,
            name=name,
            ports={environment: port},
            protocol=image_protocol(image, container, entry.protocol),
            transport="udp" if entry.protocol == "udp" else "tcp",
            status="active",
            notes=notes,
            deployment="Docker container",
            compose_service=entry.service,
            container_port=container,
        )
    recorded = {(p, s.transport) for s in services.values() for _, p in s.assigned()}
    warnings.extend(_unread(text, source, variables or {}, recorded))
    return Imported(Registry(services=services), source, warnings=tuple(warnings), kind="compose")


def _unread(
    text: str, source: str, variables: Mapping[str, str], recorded: set[tuple[int, str]]
) -> list[str]:
    """A `FILE:LINE` warning for each published port the entry parser above does not read
    (`$VAR`, an IP in a default, a variable on the container side, the second
    of a port's TCP and UDP entries, a range's other ports, …) and for each entry that
    publishes no fixed port (`expose:`, `network_mode: host`, an ephemeral host port): until
    the registry model holds several ports per service, nothing may be dropped without a word.
    """
    from portreg.importers.published import read

    try:
        found = read(text, source, variables)
    except PortregError:
        return []
    out = [f"{source}:{s.line}: {s.service}: {s.why}; not recorded" for s in found.skipped]
    out += [
        f"{source}:{p.line}: {p.service}: publishes {p.port}/{p.transport}, not recorded"
        for p in found.ports
        if (p.port, p.transport) not in recorded
    ]
    return out
