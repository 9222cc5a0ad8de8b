"""docker-compose files as registry values: every published host port, one registration each.

Pure: text in, an `Imported` out (`parse`), and the files of one import combined (`combine`):
the ports are read as compose reads them (`portreg.importers.published`), one owner per host
port and transport whatever the order of the files, then grouped per compose service:

- one registration per published entry: a range (`30000-30009:30000-30009`) is one, the same
  entry on TCP and UDP (`3478:3478` and `3478:3478/udp`) is one (`tcp+udp`: they move together);
- a compose service with one registration is a registry service named like it; with several,
  each is a named port (`kong:https`): the name comes from the variable that carries it
  (`KONG_HTTPS_PORT` -> `https`), else from the container port's well-known name (`443` ->
  `https`), else the container port's number;
- each registration records where it came from (`bindings`: `FILE:SERVICE` for the compose
  entry, `$VAR` for a variable that carries the host port), so `move` and `sync` rewrite
  exactly those places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from portreg import protocols
from portreg.errors import PortregError
from portreg.importers._result import Imported
from portreg.model import BOTH, END, PORT_SEP, Registry, Service, service_id

_HTTP_CONTAINER_PORTS = frozenset({80, 443, 3000, 5000, 8000, 8080, 8443, 9000})
# Names people give these ports (IANA service names, shortened where everyone does).
_WELL_KNOWN = {
    20: "ftp-data", 21: "ftp", 22: "ssh", 25: "smtp", 53: "dns", 67: "dhcp", 80: "http",
    110: "pop3", 123: "ntp", 143: "imap", 389: "ldap", 443: "https", 465: "smtps",
    587: "submission", 636: "ldaps", 993: "imaps", 995: "pop3s", 1883: "mqtt", 3478: "turn",
    4190: "sieve", 5349: "turns", 8080: "http-alt", 8443: "https-alt", 8883: "mqtts",
}  # fmt: skip
_CLASH = "'s ("  # how `published.owners` names the owner: "already web's (FILE:LINE)"
_PORT_WORDS = frozenset({"port", "ports", "host", "published", "bind", "listen", "external"})


def image_protocol(image: str, container: int | None, transport: str) -> str:
    if transport == "udp":
        return "udp"
    named = protocols.image_protocol(image)
    if named is not None:
        return named
    if container in _HTTP_CONTAINER_PORTS:
        return "http"
    return "tcp"


def project_env(source: str) -> str:
    """The `.env` compose interpolates a compose file's variables from: its directory's."""
    import posixpath

    return posixpath.normpath(posixpath.join(posixpath.dirname(source.strip()), ".env"))


def container_env_files(text: str, source: str) -> set[str]:
    """The `env_file:`s of one compose file that are not its project `.env` (what `sync` and
    `move` read as container environments); a cheap "no" for a file that names none."""
    if "env_file" not in text:
        return set()
    from portreg.importers.yamlnodes import load

    return {p for p in _env_files(load(text, source), source) if p != project_env(source)}


def _env_files(doc: Any, source: str) -> dict[str, tuple[str, ...]]:
    """Each `env_file:` (a path, a list of paths or of `{path: …}`), relative to the compose
    file's directory as compose resolves it, with the services that name it."""
    import posixpath

    from portreg.importers.yamlnodes import get, is_seq, items, scalar

    here = posixpath.dirname(source)
    out: dict[str, list[str]] = {}
    for name, svc in items(get(doc, "services")):
        node = get(svc, "env_file")
        for entry in node.value if is_seq(node) else [node]:
            path = scalar(entry) or scalar(get(entry, "path"))
            if path:
                key = posixpath.normpath(posixpath.join(here, path))
                out.setdefault(key, []).append(name)
    return {k: tuple(v) for k, v in out.items()}


def _network_names(doc: Any) -> frozenset[str]:
    """Every name besides its service name a container answers to on the compose network."""
    from portreg.importers.yamlnodes import get, is_seq, items, scalar

    names: set[str] = set()
    for _, svc in items(get(doc, "services")):
        names.update(scalar(get(svc, key)) for key in ("container_name", "hostname"))
        for _, net in items(get(svc, "networks")):  # the list form carries no aliases
            aliases = get(net, "aliases")
            names.update(scalar(a) for a in (aliases.value if is_seq(aliases) else ()))
        links = get(svc, "links")
        for link in links.value if is_seq(links) else ():
            names.add(scalar(link).rpartition(":")[2])
    names.discard("")
    return frozenset(names)


def parse(text: str, source: str, variables: Mapping[str, str] | None = None) -> Imported:
    """One compose file: its services (as `combine` makes them) and its `FILE:LINE` warnings."""
    from portreg.importers.published import read
    from portreg.importers.yamlnodes import get, items, load, scalar
    from portreg.rewrite.compose import shape_problems, slots

    doc: Any = load(text, source)
    problems = shape_problems(doc)
    if problems and problems[0].startswith("no `services:`"):
        raise PortregError(f"{source}: {problems[0]}")
    found = read(text, source, variables or {})
    images = {name: scalar(get(svc, "image")) for name, svc in items(get(doc, "services"))}
    piece = Imported(
        Registry(),
        source,
        warnings=tuple(f"{source}: {problem}" for problem in problems),
        kind="compose",
        published=found,
        images=images,
        aliases=_network_names(doc),
        env_files=_env_files(doc, source),
        literal=frozenset(
            (owner, slot.line + 1) for slot in slots(text, source, "") for owner in slot.owners
        ),
        inner=frozenset(v for hp in found.ports for v in hp.inner)
        | {v for skip in found.skipped for v in skip.variables},
    )
    services, warnings, clashes = combine([piece])
    return replace(
        piece,
        registry=Registry(services=services),
        warnings=(*piece.warnings, *warnings),
        clashes=tuple(clashes),
    )


@dataclass
class _Entry:
    """One published entry (its TCP and UDP lines together) in one environment."""

    service: str
    environment: str
    start: int
    end: int
    container: int | None
    transports: set[str] = field(default_factory=set)
    variables: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    host_ip: str = ""


def combine(pieces: list[Imported]) -> tuple[dict[str, Service], list[str], list[str]]:
    """The services every compose piece of one import publishes, the `FILE:LINE` warnings for
    entries that publish no fixed port, and those for ports another service owns (clashes).
    The same files in any order give the same result."""
    from portreg.importers.published import owners
    from portreg.rewrite import environment_of

    reads = {p.source: p.published for p in pieces if p.published is not None}
    literal = {p.source: p.literal for p in pieces}
    images: dict[str, str] = {}
    for p in sorted(pieces, key=lambda p: p.source):
        for name, image in p.images.items():
            images.setdefault(name, image) if not image else images.update({name: image})
    owned = owners(reads)
    entries: dict[tuple[str, str, int, int], _Entry] = {}
    for src, hp in owned.ports:
        env = environment_of(src)
        key = (hp.service, env, hp.range_start, hp.range_end)
        e = entries.get(key)
        if e is None:
            offset = hp.port - hp.range_start
            cstart = None if hp.container is None else hp.container - offset
            e = entries[key] = _Entry(
                hp.service, env, hp.range_start, hp.range_end, cstart, host_ip=hp.host_ip
            )
        e.transports.add(hp.transport)
        e.variables.extend(v for v in hp.variables if v not in e.variables)
        # The compose entry is a place of the port only when its line carries the digits:
        # `"$SENTRY_BIND:80/tcp"` is bound through `$SENTRY_BIND` alone (its `.env` line).
        carries = (hp.service, hp.line) in literal.get(src, frozenset()) or not hp.variables
        if carries and src not in e.sources:
            e.sources.append(src)
    by_service: dict[str, list[_Entry]] = {}
    for e in entries.values():
        by_service.setdefault(e.service, []).append(e)
    services: dict[str, Service] = {}
    for compose_name in sorted(by_service):
        group = by_service[compose_name]
        names = _names(compose_name, group)
        several = len(set(names.values())) > 1
        base = service_id(compose_name)
        for e in sorted(group, key=lambda e: (e.container or 0, e.start, e.environment)):
            name = names[id(e)]
            sid = f"{base}{PORT_SEP}{name}" if several else base
            transport = BOTH if e.transports >= {"tcp", "udp"} else min(e.transports)
            old = services.get(sid)
            bindings = [f"{src}:{compose_name}" for src in e.sources]
            bindings += [f"${v}" for v in e.variables]
            if e.end > e.start and len(e.variables) >= 2:
                # `${MIN}-${MAX}:…`: the second variable carries the range's last port
                bindings[-len(e.variables) + 1] = f"${e.variables[1]}{END}"
            if old is not None:
                services[sid] = replace(
                    old,
                    ports={**old.ports, e.environment: e.start},
                    bindings=tuple(dict.fromkeys((*old.bindings, *bindings))),
                )
                continue
            services[sid] = Service(
                id=sid,
                name=compose_name,
                ports={e.environment: e.start},
                protocol=image_protocol(images.get(compose_name, ""), e.container, transport),
                transport=transport,
                deployment="Docker container",
                compose_service=compose_name,
                container_port=e.container,
                width=e.end - e.start + 1,
                bindings=tuple(dict.fromkeys(bindings)),
            )
    clashes = [w for w in owned.warnings if _CLASH in w]
    return services, [w for w in owned.warnings if _CLASH not in w], clashes


def _names(compose_name: str, group: list[_Entry]) -> dict[int, str]:
    """A port name for each entry of one compose service: the same entry in another
    environment's file gets the same name; two entries of one environment never share one
    (`http-alt`, then `http-alt-2` for an override's second host port on the same container
    port)."""
    prefix = service_id(compose_name)
    out: dict[int, str] = {}
    # Entries of one environment in a stable order: by container port, then host port.
    ordered = sorted(group, key=lambda e: (e.environment, e.container or 0, e.start))
    used: dict[str, set[str]] = {}
    for e in ordered:
        name = wanted = _name_of(prefix, e)
        taken = used.setdefault(e.environment, set())
        k = 2
        while name in taken:
            name = f"{wanted}-{k}"
            k += 1
        taken.add(name)
        out[id(e)] = name
    return out


def _name_of(prefix: str, e: _Entry) -> str:
    for var in e.variables:
        words = [w for w in service_id(var).split("-") if w]
        if words and "-".join(words[: len(prefix.split("-"))]) == prefix:
            words = words[len(prefix.split("-")) :]
        words = [w for w in words if w not in _PORT_WORDS]
        if words:
            return "-".join(words)
    if e.start != e.end:
        return "range" if e.container is None else f"{e.container}-{e.container + e.end - e.start}"
    if e.container is not None and e.container in _WELL_KNOWN:
        return _WELL_KNOWN[e.container]
    return str(e.container or e.start)
