"""Reading what teams already have — seed-style Markdown pages, compose files, .env files —
into registry values, and merging those into a registry. Pure: text in, values out.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from portreg.errors import PortregError
from portreg.importers._result import Imported
from portreg.model import DEFAULT_TITLE, ChangeEntry, Registry, Section, Service
from portreg.ops import Stamp


@dataclass(frozen=True, slots=True)
class MergeReport:
    """What merging imported services into a registry added, updated and warned about."""

    registry: Registry
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    clashes: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = ()


def kind_of(name: str, text: str) -> str:
    """ "markdown", "compose" or "env", by file name first, then by content."""
    base = name.rsplit("/", 1)[-1].lower()
    if base.endswith((".yaml", ".yml")):
        return "compose"
    if base.startswith(".env") or base.endswith(".env"):
        return "env"
    if base.endswith((".md", ".markdown", ".txt")):
        return "markdown"
    stripped = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if stripped and all("=" in ln and " " not in ln.split("=", 1)[0].strip() for ln in stripped):
        return "env"
    if any(ln.startswith("services:") for ln in text.splitlines()):
        return "compose"
    return "markdown"


def parse(name: str, data: bytes, variables: Mapping[str, str] | None = None) -> Imported:
    """One file's content as an `Imported`; empty, binary or unparseable input is bad input.

    `variables` resolve a compose file's `${VAR}` ports that have no default (what compose
    itself would read from the project's `.env`)."""
    if not data.strip():
        raise PortregError(f"{name}: file is empty")
    if b"\x00" in data:
        raise PortregError(f"{name}: binary file, not a Markdown page, compose file or .env file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PortregError(f"{name}: not UTF-8 text") from None
    kind = kind_of(name, text)
    if kind == "compose":
        from portreg.importers import compose

        return compose.parse(text, name, variables or {})
    if kind == "env":
        from portreg.importers import dotenv

        return dotenv.parse(text, name)
    from portreg.importers import markdown

    return markdown.parse(text, name)


_KEEP_DEFAULT = {f.name: f.default for f in fields(Service)}


def merge_service(old: Service, new: Service) -> Service:
    """`new`'s facts over `old`'s: a field the file states wins, one it leaves out is kept."""
    changes: dict[str, object] = {}
    for f in fields(Service):
        if f.name in ("id", "ports"):
            continue
        if f.name == "bindings":
            changes[f.name] = tuple(dict.fromkeys((*old.bindings, *new.bindings)))
            continue
        value = getattr(new, f.name)
        if (
            value in ((), "", None, False)
            or (f.name == "width" and value == 1)
            or (
                f.name in ("protocol", "transport", "status")
                and value == _KEEP_DEFAULT[f.name]
                and getattr(old, f.name) != value
                and not new.ports
            )
        ):
            continue
        changes[f.name] = value
    ports = dict(old.ports)
    for env, port in new.ports.items():
        if port is not None or env not in ports:
            ports[env] = port
    return replace(old, ports=ports, **changes)  # type: ignore[arg-type]


def merge(base: Registry, pieces: list[Imported], stamp: Stamp) -> MergeReport:
    """Fold imported files into `base`. Imports record what a page says, even where it breaks
    the policy (the audit reports that); merging the same content twice changes nothing."""
    pieces, clashes = resolve_clashes(base, _combined(pieces))
    clashes = [c for p in pieces for c in p.clashes] + clashes
    registry = base
    added: list[str] = []
    updated: list[str] = []
    warnings: list[str] = []
    sources: dict[str, list[str]] = {}
    given: dict[tuple[str, str], tuple[int, str]] = {}  # (id, environment) -> (port, file)
    for piece in pieces:
        inc = piece.registry
        warnings.extend(piece.warnings)
        warnings.extend(_overridden(given, piece))
        if piece.policy_given:
            registry = replace(registry, policy=inc.policy)
        registry = replace(
            registry,
            project=inc.project or registry.project,
            title=inc.title if inc.title and inc.title != DEFAULT_TITLE else registry.title,
            purpose=inc.purpose or registry.purpose,
            host=inc.host or registry.host,
            extra_sections=_union(registry.extra_sections, inc.extra_sections),
        )
        for service in inc.services.values():
            old = registry.get(service.id)
            merged = service if old is None else merge_service(old, service)
            if merged != old:
                registry = registry.with_service(merged)
                sources.setdefault(service.id, []).append(piece.source)
    # One entry per service whose net state changed: files that disagree (a base compose file
    # and its override) must not log a change back and forth at every import.
    for sid, files in sources.items():
        old, new = base.get(sid), registry.services[sid]
        if new == old:
            continue
        (added if old is None else updated).append(sid)
        registry = registry.with_change(
            ChangeEntry(
                stamp.at,
                stamp.who,
                "import",
                sid,
                "",
                None if old is None else old.primary_port,
                new.primary_port,
                f"imported from {', '.join(dict.fromkeys(files))}",
            )
        )
    return MergeReport(
        _with_headers(registry),
        tuple(added),
        tuple(dict.fromkeys(updated)),
        tuple(clashes),
        tuple(warnings),
    )


def _overridden(given: dict[tuple[str, str], tuple[int, str]], piece: Imported) -> list[str]:
    """One line per port of `piece` that replaces another file's port of this same import
    (a page's 54432 and a compose file's `54433:5432`): the later file wins, and says so."""
    out: list[str] = []
    for s in piece.registry.services.values():
        for env, port in s.assigned():
            before = given.get((s.id, env))
            if before is not None and before[0] != port:
                out.append(
                    f"{piece.source}: {s.id} is on {port} in {env} here, {before[1]} says"
                    f" {before[0]}; recorded {port}"
                )
            given[s.id, env] = (port, piece.source)
    return out


def _with_headers(registry: Registry) -> Registry:
    """A service entry (no port of its own) for named ports whose service is not recorded,
    so `kong` names the service of `kong:http` and `kong:https`."""
    for s in list(registry.services.values()):
        if s.port_name is not None and registry.get(s.base) is None:
            header = replace(
                s, id=s.base, ports={}, bindings=(), width=1, container_port=None, forced=False
            )
            registry = registry.with_service(header)
    return registry


def _combined(pieces: list[Imported]) -> list[Imported]:
    """The compose files of one import as one piece: compose concatenates what several files
    publish, and one owner per port must not depend on the order they were named in."""
    composes = sorted((p for p in pieces if p.kind == "compose"), key=lambda p: p.source)
    if len(composes) < 2:
        return pieces
    from portreg.importers import compose

    services, warnings, clashes = compose.combine(composes)
    own = [w for p in composes for w in p.warnings if not _is_port_warning(w)]
    images = {name: image for p in composes for name, image in p.images.items()}
    joined = Imported(
        Registry(services=services),
        ", ".join(p.source for p in composes),
        warnings=(*own, *warnings),
        kind="compose",
        images=images,
        aliases=frozenset(a for p in composes for a in p.aliases),
        env_files={k: v for p in composes for k, v in p.env_files.items()},
        inner=frozenset(v for p in composes for v in p.inner),
        clashes=tuple(clashes),
    )
    others = [p for p in pieces if p.kind != "compose"]
    return [*others, joined]


def _is_port_warning(w: str) -> bool:
    """A `FILE:LINE:` warning of one file's reading, which `combine` says again for all files."""
    head = w.split(": ", 1)[0]
    return head.rsplit(":", 1)[-1].isdigit()


def resolve_clashes(base: Registry, pieces: list[Imported]) -> tuple[list[Imported], list[str]]:
    """Compose and .env pieces with their services renamed to the registry's (`postgres` in a
    compose file is the registry's `postgresql`), and no service on a port that several
    services claim (across files, or against the registry): one line per such clash.

    Markdown pages are taken as they are (a page is a registry already).
    """

    # Pages, then compose files, then .env files: a `.env` value is most often a client's view
    # of a service a compose file publishes, whichever order the files were named in.
    # An override file after the file it overrides.
    rank = {"compose": 1, "env": 3}
    pieces = sorted(pieces, key=lambda p: (rank.get(p.kind, 0), p.source))
    known = base
    for piece in pieces:
        if piece.kind not in ("compose", "env"):
            for s in piece.registry.services.values():
                if known.get(s.id) is None:
                    known = known.with_service(s)
    holders: dict[tuple[int, str], set[str]] = {}
    for held in known.services.values():
        for _, start in held.assigned():
            for port in range(start, start + held.width):
                for t in held.transports:
                    holders.setdefault((port, t), set()).add(held.id)
    # (port, transport) -> {resolved id: [(name, source)]}
    claims: dict[tuple[int, str], dict[str, list[tuple[str, str]]]] = {}
    renamed: list[Imported] = []
    networked = {name for p in pieces if p.kind == "compose" for name in (*p.images, *p.aliases)}
    carried = {b[1:] for s in known.services.values() for b in s.bindings if b.startswith("$")}
    carried |= {
        b[1:]
        for p in pieces
        if p.kind == "compose"
        for s in p.registry.services.values()
        for b in s.bindings
        if b.startswith("$")
    }
    inner = {v for p in pieces if p.kind == "compose" for v in p.inner} - carried
    published: set[str] = set()  # ids a compose file of this import publishes
    container_env = _container_env_files(pieces)
    for piece in [_without_container_ports(p, container_env, carried) for p in pieces]:
        if piece.kind not in ("compose", "env"):
            renamed.append(piece)
            continue
        services: dict[str, Service] = {}
        notes: list[str] = []
        for found in piece.registry.services.values():
            s = found
            address = _compose_network_address(s, networked) if piece.kind == "env" else None
            if address is not None:
                # `SANDBOX_HTTP_PROXY=http://ssrf_proxy:3128`: the container's own port, seen
                # from the compose network; the host port ssrf_proxy publishes is another
                # matter (moving it must not rewrite this).
                notes.append(
                    f"{piece.source}: {address} names a compose service's own port on the"
                    " compose network, not a host port; not recorded"
                )
                continue
            keys = {b[1:] for b in s.bindings if b.startswith("$")}
            peer = next(
                (piece.hosts[k] for k in sorted(keys) if piece.hosts.get(k) in networked), ""
            )
            remote = next(
                (
                    piece.hosts[k]
                    for k in sorted(keys)
                    if _remote(piece.hosts.get(k, ""), networked)
                ),
                "",
            )
            if piece.kind == "env" and remote and not peer and not keys & carried:
                # `SMTP_PORT=587` beside `SMTP_HOST=smtp.gmail.com`: another machine's port.
                notes.append(
                    f"{piece.source}: {', '.join(sorted(keys))} is a port of {remote}, another"
                    " machine (its host key says so), not a host port here; not recorded"
                )
                continue
            if piece.kind == "env" and peer:
                # `REDIS_HOST=redis` beside `REDIS_PORT=6379`: what a container dials on the
                # compose network, whatever redis publishes on the host.
                notes.append(
                    f"{piece.source}: {', '.join(sorted(keys))} is {peer}'s port on the compose"
                    f" network (its host key names that compose service), not a host port;"
                    " not recorded"
                )
                continue
            if piece.kind == "env" and keys and keys <= inner:
                notes.append(
                    f"{piece.source}: {', '.join(sorted(keys))} is the container's side of a"
                    " compose entry, not a host port; not recorded"
                )
                continue
            sid = _resolve(known, s, piece.kind)
            other = _published_elsewhere(known, s, sid) if sid in published else None
            if piece.kind == "env" and other is not None and not keys & carried:
                # `DATABASE_PORT=5432` beside a compose file publishing db on `5434:5433`
                # without reading that key: the key is not what publishes it, and taking its
                # number would make `sync` rewrite the compose file's true port.
                notes.append(
                    f"{piece.source}: {', '.join(sorted(keys))} says {sid} is on"
                    f" {s.assigned()[0][1]}, but the compose files publish it on {other} and do"
                    " not read the key; not recorded"
                )
                continue
            if s.port_name is not None and sid is None:
                sid, s = _named(known, s, piece.kind)
            if (
                sid is not None
                and sid in services
                and _same_ports(services[sid], s)
                and (keys & carried or _addresses_the_host(s))
            ):
                # Another key of this file for the same port (`WEB_PORT=8080` and
                # `PUBLIC_URL=http://localhost:8080`): one registration, both its places.
                services[sid] = _onto(services[sid], s)
                continue
            if sid is None or sid in services:
                # new, or another registration of a service this file already named
                sid = s.id
            if known.get(sid) is None:
                known = known.with_service(s)
            # A name a compose/.env file derives never renames a service already known.
            resolved = s if known.services[sid] is s else _onto(known.services[sid], s)
            services[sid] = resolved
            if piece.kind == "compose":
                published.add(sid)
            for _, start in resolved.assigned():
                for port in range(start, start + resolved.width):
                    for t in resolved.transports:
                        by_id = claims.setdefault((port, t), {})
                        by_id.setdefault(sid, []).append((s.name, piece.source))
        renamed.append(
            replace(
                piece,
                registry=replace(piece.registry, services=services),
                warnings=(*piece.warnings, *notes),
            )
        )
    extra: list[str] = []
    clashing: dict[int, str] = {}
    lost: dict[int, set[str]] = {}  # a port compose publishes: the .env claims that lose it
    for (port, t), by_id in sorted(claims.items()):
        registered = holders.get((port, t), set()) - set(by_id)
        if len(by_id) + len(registered) < 2 or port in clashing or port in lost:
            continue
        owners = [sid for sid in by_id if sid in published]
        if len(owners) == 1 and not registered:
            # The compose file publishes it: its service owns it, a `.env` key naming the
            # same number (`DB_PORT=5432` beside `DB_HOST=db_postgres`) is named, not kept.
            others = [f"{n} in {src}" for sid in by_id if sid != owners[0] for n, src in by_id[sid]]
            lost[port] = set(by_id) - {owners[0]}
            notes_for_clash = f"port {port}/{t} is {owners[0]}'s (published by a compose file)"
            clashing_env = f"{notes_for_clash}; not recorded again for {', '.join(others)}"
            extra.append(clashing_env)
            continue
        who = [f"{name} in {source}" for sid in by_id for name, source in by_id[sid]]
        who += [f"{sid} in the registry" for sid in sorted(registered)]
        clashing[port] = f"clash on port {port}/{t}: {', '.join(who)}; nothing recorded on {port}"
    if not clashing and not lost:
        return renamed, extra
    out: list[Imported] = []
    for piece in renamed:
        if piece.kind not in ("compose", "env"):
            out.append(piece)
            continue
        kept: dict[str, Service] = {}
        for sid, s in piece.registry.services.items():
            ports = {
                env: p
                for env, p in s.ports.items()
                if p not in clashing and (p is None or sid not in lost.get(p, set()))
            }
            if ports or not s.ports:
                kept[sid] = replace(s, ports=ports)
        out.append(replace(piece, registry=replace(piece.registry, services=kept)))
    return out, [*clashing.values(), *extra]


_HOST_SIDE = ("localhost", "127.0.0.1", "0.0.0.0", "host.docker.internal", "[::1]")


def _remote(host: str, networked: set[str]) -> bool:
    """Whether a `X_HOST` value names another machine: not this host, not a container of the
    compose network, not a variable left to fill."""
    h = host.strip().strip("'\"").lower()
    local = h in _HOST_SIDE or h in ("::1", "::", "ip6-localhost") or h.startswith("127.")
    return bool(h) and not local and h not in networked and not any(c in h for c in "${}")


def _addresses_the_host(s: Service) -> bool:
    """Whether each of `s`'s connection strings reaches its port on this host's side."""
    return bool(s.connection_strings) and all(
        any(f"{h}:{{port}}" in c.template for h in _HOST_SIDE) for c in s.connection_strings
    )


def _without_container_ports(
    piece: Imported,
    container_env: Mapping[str, tuple[tuple[str, ...], bool]],
    carried: set[str],
) -> Imported:
    """`piece` without the bare ports of a compose `env_file:` (one line names them).

    Compose reads its own variables from the project's `.env` only; an `env_file:` is what the
    containers see, so a bare port there is theirs, never a host port (a URL to localhost, the
    address a browser is sent to, still is one). A project `.env` that is also an `env_file:`
    (outline's `PORT=3000`) keeps only the keys compose itself reads for a port."""
    found = container_env.get(posixpath.normpath(piece.source)) if piece.kind == "env" else None
    if found is None:
        return piece
    users, project = found
    inside = [
        s
        for s in piece.registry.services.values()
        if not _addresses_the_host(s) and not (project and {b[1:] for b in s.bindings} & carried)
    ]
    if not users or not inside:
        return piece
    names = sorted({b[1:] for s in inside for b in s.bindings})
    note = (
        f"{piece.source}: the container environment of {', '.join(users)} (env_file:),"
        f" not host ports; {', '.join(names)} not recorded"
    )
    kept = {k: s for k, s in piece.registry.services.items() if s not in inside}
    return replace(
        piece,
        registry=replace(piece.registry, services=kept),
        warnings=(*piece.warnings, note),
    )


def _container_env_files(pieces: list[Imported]) -> dict[str, tuple[tuple[str, ...], bool]]:
    """The `env_file:`s of this import's compose files, with the services naming each and
    whether it is also a project `.env` (the file compose interpolates from)."""
    from portreg.importers.compose import project_env

    composes = [p for p in pieces if p.kind == "compose"]
    projects = {project_env(src) for p in composes for src in p.source.split(", ")}
    return {
        path: (users, path in projects) for p in composes for path, users in p.env_files.items()
    }


def _published_elsewhere(known: Registry, s: Service, sid: str | None) -> int | None:
    """The port a compose file of this import publishes `sid` on in `s`'s environment, when
    `s` (a `.env` key's registration) names another number there; else None."""
    held = known.get(sid) if sid is not None else None
    if held is None or _addresses_the_host(s) or len(s.assigned()) != 1:
        return None
    env, port = s.assigned()[0]
    first = held.ports.get(env)
    if first is None or first <= port < first + held.width:
        return None
    return first


def _same_ports(a: Service, b: Service) -> bool:
    """Whether every port `b` names is one `a` holds in the same environment."""
    return bool(b.assigned()) and set(b.assigned()) <= set(a.assigned())


_URL_HOST = re.compile(r"(?:^|//|@)(?P<host>[A-Za-z0-9_.-]+):\{port\}")


def _compose_network_address(s: Service, networked: set[str]) -> str | None:
    """`KEY=template` when each of `s`'s connection strings addresses a compose service of
    this import by its name (`http://ssrf_proxy:{port}`), else None."""
    if not networked or not s.connection_strings:
        return None
    for c in s.connection_strings:
        m = _URL_HOST.search(c.template)
        if m is None or m.group("host") not in networked:
            return None
    c = s.connection_strings[0]
    return f"{c.env_var}={c.render(next(iter(s.ports.values()), None))}"


def _resolve(known: Registry, s: Service, kind: str) -> str | None:
    """The known registration a compose/.env file's `s` is, if any (module doc of `merge`)."""
    from portreg.rewrite.plan import match_name

    if kind == "env":
        # A key a compose file reads for this port (`${KONG_HTTPS_PORT:-8443}`) is that port's,
        # whatever its name suggests.
        keys = {b for b in s.bindings if b.startswith("$")}
        bound = {h.id for h in known.services.values() if keys & set(h.bindings)}
        if len(bound) == 1:
            return bound.pop()
    sid = _compose_holder(known, s) if kind == "compose" else None
    if sid is None:
        sid = s.id if known.get(s.id) is not None else None
    if sid is None and s.port_name is None:
        sid = match_name(known, s.compose_service or s.name) or match_name(known, s.id)
        if sid is not None and _several_named(known, sid):
            sid = None  # a name for a service of several ports names none of them
    if sid is None and kind == "env":
        # `MQ_URL=amqp://…:53672` names no service, but its port is `mq`'s.
        sid = _sole_holder(known, s)
    return sid


def _several_named(known: Registry, sid: str) -> bool:
    s = known.services[sid]
    return not s.ports and any(o.port_name for o in known.ports_of(sid))


def _named(known: Registry, s: Service, kind: str) -> tuple[str | None, Service]:
    """A named port of a compose service the registry may know by another name: the known
    service's own port if it carries this one's, else a new named port under it."""
    from portreg.model import PORT_SEP
    from portreg.rewrite.plan import match_name

    base = s.base if known.get(s.base) is not None else match_name(known, s.compose_service)
    if base is None:
        return None, s
    base = known.services[base].base
    own = known.services.get(base)
    if own is not None and any(own.ports.get(env) == p for env, p in s.assigned()):
        return base, s
    return None, replace(s, id=f"{base}{PORT_SEP}{s.port_name}")


def _compose_holder(known: Registry, s: Service) -> str | None:
    """The known service recorded for this compose service that already holds its port."""
    for env, port in s.assigned():
        for holder, held_env in known.holders(port):
            if held_env == env and holder.compose_service == s.compose_service:
                return holder.id
    return None


def _sole_holder(known: Registry, s: Service) -> str | None:
    """The one known service that already holds every port `s` names, if there is one."""
    ids = {h.id for _, port in s.assigned() for h, _env in known.holders(port)}
    return ids.pop() if len(ids) == 1 and s.assigned() else None


def _onto(known: Service, s: Service) -> Service:
    """What a compose/.env file says about a service the registry already knows by another
    name: its ports and the file's names for it; the registry's own facts stay."""
    conns = (*known.connection_strings, *s.connection_strings)
    return replace(
        known,
        ports=s.ports,
        # a .env key names a range's first port: the range is the compose file's
        width=s.width if s.compose_service else known.width,
        transport=s.transport if s.compose_service else known.transport,
        bindings=tuple(dict.fromkeys((*known.bindings, *s.bindings))),
        connection_strings=tuple({c.env_var: c for c in conns}.values()),
        compose_service=s.compose_service or known.compose_service,
        container_port=s.container_port or known.container_port,
    )


def _union(a: tuple[Section, ...], b: tuple[Section, ...]) -> tuple[Section, ...]:
    return tuple(dict.fromkeys((*a, *b)))
