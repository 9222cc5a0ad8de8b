"""Registry operations as pure functions: (registry, request) -> (new registry, outcome).

The local store runs them under its file lock; the server runs the same rules in SQL.
Live host ports come in as a set, the clock and the author as values.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from portreg import validate
from portreg.errors import Conflict, NotFound, PortregError
from portreg.model import PORT_SEP, ChangeEntry, Registry, Service, service_id
from portreg.naming import claim, new_id, usable
from portreg.policy import Problem, holders_on, judge, next_free, refusal


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who changes the registry, and when."""

    who: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a write did: the service, environment and port it ended with."""

    service: str
    environment: str
    port: int | None
    changed: bool
    warnings: tuple[str, ...] = ()


def _by_name(registry: Registry, ref: str) -> Service | None:
    exact = registry.get(usable(ref))
    if exact is not None:
        return exact
    found = registry.get(service_id(ref))
    return None if found is None else claim(ref, found)


def _existing(registry: Registry, ref: str) -> Service | None:
    """The registration `ref` names (id, display name, or `SERVICE:NAME` for one of a
    service's named ports), if any, for the commands that may create it."""
    base_ref, sep, name = ref.partition(PORT_SEP)
    if not sep or registry.get(ref) is not None:
        return _by_name(registry, ref)
    base = _by_name(registry, base_ref)
    if base is None:
        return None
    return registry.get(f"{base.base}{PORT_SEP}{new_id(name)}")


def new_registration(registry: Registry, ref: str) -> Service:
    """A new service named `ref`, or a new named port `SERVICE:NAME` (of a known service: it
    takes the service's facts, name, protocol, status, …)."""
    base_ref, sep, name = ref.partition(PORT_SEP)
    if not sep:
        return Service(id=new_id(ref), name=ref)
    base = _by_name(registry, base_ref)
    port = new_id(name)
    if base is None:
        return Service(id=f"{new_id(base_ref)}{PORT_SEP}{port}", name=base_ref)
    return replace(
        base, id=f"{base.base}{PORT_SEP}{port}", ports={}, bindings=(), width=1, forced=False
    )


def _several(registry: Registry, s: Service) -> PortregError | None:
    """The error for naming a service whose ports all have names: which one is meant?"""
    if s.ports or s.port_name is not None:
        return None
    named = [o.id for o in registry.ports_of(s.id) if o.port_name is not None]
    if not named:
        return None
    return PortregError(f"{s.id} has several ports ({', '.join(named)}); name one as {s.id}:NAME")


def find(registry: Registry, ref: str, *, whole: bool = False) -> Service:
    """A registration by id, display name or `SERVICE:NAME`; an unknown one is bad input.

    A service whose ports all have names (`kong:http`, `kong:https`) is ambiguous, unless
    `whole` (releasing the service with every port) is meant.
    """
    try:
        service = _existing(registry, ref)
    except Conflict:
        service = None  # a name that only shares the id names no service
    if service is None:
        base_ref, sep, name = ref.partition(PORT_SEP)
        base = _existing(registry, base_ref) if sep else None
        if base is not None:
            names = ", ".join(o.id for o in registry.ports_of(base.id))
            raise NotFound(f"{base.id} has no port named {name!r} ({names})")
        raise NotFound(f"unknown service {ref!r} (see `portreg list`)")
    if not whole:
        ambiguous = _several(registry, service)
        if ambiguous is not None:
            raise ambiguous
    return service


def _log(
    registry: Registry,
    stamp: Stamp,
    action: str,
    s: Service,
    env: str,
    old: int | None,
    new: int | None,
    reason: str = "",
) -> Registry:
    return registry.with_change(
        ChangeEntry(stamp.at, stamp.who, action, s.id, env, old, new, reason)
    )


def _host_of(existing: Service | None, host: str | None) -> str:
    """The host a write lands on: the one named, else the service's own, else the default.

    A service lives on one host; naming another one is a move (`move --host`), not a side
    effect of `assign`, `add` or `reserve`."""
    if host is not None:
        validate.host(host)
    if existing is None:
        return host or ""
    if host is not None and host != existing.host:
        where = existing.host or "the default host"
        raise Conflict(
            f"{existing.id} lives on {where}, not {host or 'the default host'}; "
            f"use `portreg move {existing.id} PORT --host {host or 'HOST'} --reason …` to move it"
        )
    return existing.host


def _fail_if(problems: Sequence[Problem], prefix: str = "") -> None:
    if problems:
        raise refusal(problems, prefix)


def assign(
    registry: Registry,
    ref: str,
    environment: str,
    stamp: Stamp,
    *,
    live: Collection[int] = (),
    protocol: str | None = None,
    transport: str | None = None,
    host: str | None = None,
) -> tuple[Registry, Outcome]:
    """The service's port in `environment`, picking the next free one if it has none.

    `live` is what is live on the service's host (`host`, else its own, else the default)."""
    validate.environment(environment)
    existing = _existing(registry, ref)
    if existing is not None:
        ambiguous = _several(registry, existing)
        if ambiguous is not None:
            raise ambiguous
    where = _host_of(existing, host)
    if existing is not None and existing.ports.get(environment) is not None:
        return registry, Outcome(existing.id, environment, existing.ports[environment], False)
    port = next_free(registry, live, host=where)
    if existing is None:
        fresh = new_registration(registry, ref)
        service = replace(
            fresh,
            ports={environment: port},
            protocol=protocol or transport or fresh.protocol,
            transport=transport or fresh.transport,
            host=where,
        )
    else:
        service = existing.with_port(environment, port)
    updated = _log(
        registry.with_service(service), stamp, "assign", service, environment, None, port
    )
    return updated, Outcome(service.id, environment, port, True)


def add(
    registry: Registry,
    ref: str,
    port: int,
    environment: str,
    stamp: Stamp,
    *,
    live: Collection[int] = (),
    protocol: str | None = None,
    transport: str | None = None,
    status: str | None = None,
    notes: str | None = None,
    force: bool = False,
    host: str | None = None,
) -> tuple[Registry, Outcome]:
    """Record `port` for a service, enforcing the policy unless `force` (a known exception)."""
    validate.environment(environment)
    if notes is not None:
        validate.text(notes, "notes")
    existing = _existing(registry, ref)
    if existing is not None:
        ambiguous = _several(registry, existing)
        if ambiguous is not None:
            raise ambiguous
    where = _host_of(existing, host)
    fresh = existing or replace(new_registration(registry, ref), host=where)
    sid = fresh.id
    current = existing.ports.get(environment) if existing else None
    if current is not None and current != port:
        raise Conflict(
            f"{sid} already has port {current} in {environment}; "
            f"use `portreg move {sid} {port} --reason …` to change it"
        )
    verdict = judge(
        registry, port, live=(), owner=sid, host=where, transport=transport or fresh.transport
    )
    warnings: list[str] = []
    if port in live:
        # Documenting a service that already runs is what `add` is for: warn, don't refuse.
        warnings.append(f"warning: port {port} is in use on the host")
    taken = [p for p in verdict.problems if p.code == "registered"]
    if taken:
        # --force records an exception to the policy, never a port twice on one host (the
        # server's UNIQUE (host, transport, port) could not store it), so it is not offered.
        raise refusal(taken)
    if verdict.problems and not force:
        raise refusal(verdict.problems, suffix="; pass --force to record it as a known exception")
    # Uniqueness is per transport, so this is allowed; but another service holding the number
    # for the other transport is most often a mistake worth a line, not a silent success.
    mine = set((transport or fresh.transport).split("+"))
    others = sorted(
        {
            f"{s.id} ({t})"
            for s, _ in holders_on(registry, port, host=where)
            if s.base != fresh.base
            for t in s.transports
            if t not in mine
        }
    )
    if others:
        warnings.append(
            f"warning: port {port} is also registered to {', '.join(others)};"
            f" this records it for {'+'.join(sorted(mine))}"
        )
    base = fresh
    service = replace(
        base.with_port(environment, port),
        protocol=protocol or base.protocol if existing else (protocol or transport or "tcp"),
        transport=transport or base.transport,
        status=status or base.status,
        notes=base.notes if notes is None else notes,
        forced=base.forced or (force and bool(verdict.problems)),
    )
    if existing == service:
        return registry, Outcome(sid, environment, port, False, tuple(warnings))
    updated = _log(
        registry.with_service(service), stamp, "add", service, environment, current, port
    )
    return updated, Outcome(sid, environment, port, True, tuple(warnings))


def reserve(
    registry: Registry,
    ref: str,
    stamp: Stamp,
    *,
    port: int | None = None,
    purpose: str = "",
    environment: str = "development",
    live: Collection[int] = (),
    host: str | None = None,
) -> tuple[Registry, Outcome]:
    """Keep a port for a planned service (the seed's Reserved Ports table)."""
    validate.environment(environment)
    validate.text(purpose, "purpose")
    existing = _existing(registry, ref)
    where = _host_of(existing, host)
    if existing is not None and not existing.reserved:
        raise Conflict(
            f"{existing.id} is already registered ({existing.status}); nothing to reserve"
        )
    current = existing.ports.get(environment) if existing else None
    if current is not None and (port is None or port == current):
        if purpose and existing is not None and purpose != existing.purpose:
            updated = registry.with_service(replace(existing, purpose=purpose))
            return updated, Outcome(existing.id, environment, current, True)
        return registry, Outcome(existing.id if existing else "", environment, current, False)
    base = existing or replace(new_registration(registry, ref), status="reserved", host=where)
    sid = base.id
    if port is None:
        port = next_free(registry, live, host=where)
    else:
        _fail_if(
            judge(
                registry, port, live=live, owner=sid, host=where, transport=base.transport
            ).problems
        )
    service = replace(base.with_port(environment, port), purpose=purpose or base.purpose)
    updated = _log(
        registry.with_service(service), stamp, "reserve", service, environment, current, port
    )
    return updated, Outcome(sid, environment, port, True)


def release(
    registry: Registry, ref: str, stamp: Stamp, *, environment: str | None = None
) -> tuple[Registry, Outcome]:
    """Free one environment's port (it becomes TBD), or remove the service with all its ports."""
    service = find(registry, ref, whole=environment is None)
    if environment is None:
        # The service with every port it has; one named port (`kong:admin`) alone.
        group = [service] if service.port_name else registry.ports_of(service.id)
        updated = registry
        for member in group:
            updated = updated.without_service(member.id)
            for env, port in member.assigned():
                updated = _log(updated, stamp, "release", member, env, port, None)
        if not any(m.assigned() for m in group):
            updated = _log(updated, stamp, "release", service, "", None, None)
        return updated, Outcome(service.id, "", None, True)
    old = service.ports.get(environment)
    if old is None:
        # Saying "released" for a port that was never there would tell the user something
        # happened; it is bad input like any other request naming what does not exist.
        raise PortregError(f"{service.id} has no port in {environment}; nothing to release")
    service = service.with_port(environment, None)
    updated = _log(
        registry.with_service(service), stamp, "release", service, environment, old, None
    )
    return updated, Outcome(service.id, environment, None, True)


def move(
    registry: Registry,
    ref: str,
    port: int,
    environment: str,
    stamp: Stamp,
    *,
    reason: str,
    live: Collection[int] = (),
    width: int | None = None,
    host: str | None = None,
) -> tuple[Registry, Outcome]:
    """The change procedure's registry step: the service's port in `environment` becomes `port`.

    Only a port the service has can move (a new environment gets one from `assign` or `add`).
    A published range of `width` extra ports moves whole: every port it would cover obeys the
    rules. Refused if any of them is avoided, out of range, registered to another service or
    live on the host; moving to the port it already has changes nothing. `host` moves the
    service to another host (its other environments' ports go along and must be free there
    too); `live` is what is live on the target host.
    """
    if not reason.strip():
        raise PortregError("a move needs a reason (--reason TEXT)")
    validate.text(reason, "reason")
    validate.environment(environment)
    s = find(registry, ref)
    old = s.ports.get(environment)
    if old is None:
        raise PortregError(
            f"{s.id} has no port in {environment}; use `portreg assign` or `portreg add` to give "
            "it one"
        )
    if host is not None:
        validate.host(host)
    target = s.host if host is None else host
    if old == port and target == s.host:
        return registry, Outcome(s.id, environment, port, False)
    if width is None:
        width = s.width - 1
    span = f"{port}-{port + width}" if width else str(port)
    on = f" on host {target}" if target != s.host and target else ""
    for p in range(port, port + width + 1):
        problems = judge(
            registry, p, live=live, owner=s.id, host=target, transport=s.transport
        ).problems
        where = f"{p}: " if width else ""
        _fail_if(problems, f"cannot move {s.id} to {span}{on}: {where}")
    if target != s.host:
        for env, p in s.assigned():
            if env == environment:
                continue
            problems = judge(registry, p, owner=s.id, host=target, transport=s.transport).problems
            _fail_if(
                [q for q in problems if q.code == "registered"],
                f"cannot move {s.id} to host {target or 'the default host'}: {env}: ",
            )
    moved = replace(s.with_port(environment, port), host=target)
    entry = ChangeEntry(stamp.at, stamp.who, "move", s.id, environment, old, port, reason)
    return registry.with_service(moved).with_change(entry), Outcome(s.id, environment, port, True)
