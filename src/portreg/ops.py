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
from portreg.model import ChangeEntry, Registry, Service, service_id
from portreg.naming import claim, new_id, usable
from portreg.policy import Problem, judge, next_free, refusal


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


def _existing(registry: Registry, ref: str) -> Service | None:
    """The service `ref` names (id or display name), if any, for the commands that may create it."""
    exact = registry.get(usable(ref))
    if exact is not None:
        return exact
    found = registry.get(service_id(ref))
    return None if found is None else claim(ref, found)


def find(registry: Registry, ref: str) -> Service:
    """A service by id or display name; an unknown one is bad input."""
    service = registry.get(ref)
    if service is None:
        found = registry.get(service_id(ref))
        if found is not None:
            try:
                service = claim(ref, found)
            except Conflict:
                service = None  # a name that only shares the id names no service
    if service is None:
        raise NotFound(f"unknown service {ref!r} (see `portreg list`)")
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
    where = _host_of(existing, host)
    if existing is not None and existing.ports.get(environment) is not None:
        return registry, Outcome(existing.id, environment, existing.ports[environment], False)
    port = next_free(registry, live, host=where)
    if existing is None:
        sid = new_id(ref)
        service = Service(
            id=sid,
            name=ref,
            ports={environment: port},
            protocol=protocol or transport or "tcp",
            transport=transport or "tcp",
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
    where = _host_of(existing, host)
    sid = existing.id if existing else new_id(ref)
    current = existing.ports.get(environment) if existing else None
    if current is not None and current != port:
        raise Conflict(
            f"{sid} already has port {current} in {environment}; "
            f"use `portreg move {sid} {port} --reason …` to change it"
        )
    verdict = judge(
        registry,
        port,
        live=(),
        owner=sid,
        host=where,
        transport=transport or (existing.transport if existing else "tcp"),
    )
    warnings: list[str] = []
    if port in live:
        # Documenting a service that already runs is what `add` is for: warn, don't refuse.
        warnings.append(f"warning: port {port} is in use on the host")
    if verdict.problems and not force:
        raise refusal(verdict.problems, suffix="; pass --force to record it as a known exception")
    base = existing or Service(id=sid, name=ref, host=where)
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
    sid = existing.id if existing else new_id(ref)
    if port is None:
        port = next_free(registry, live, host=where)
    else:
        transport = existing.transport if existing else "tcp"
        _fail_if(
            judge(registry, port, live=live, owner=sid, host=where, transport=transport).problems
        )
    base = existing or Service(id=sid, name=ref, status="reserved", host=where)
    service = replace(base.with_port(environment, port), purpose=purpose or base.purpose)
    updated = _log(
        registry.with_service(service), stamp, "reserve", service, environment, current, port
    )
    return updated, Outcome(sid, environment, port, True)


def release(
    registry: Registry, ref: str, stamp: Stamp, *, environment: str | None = None
) -> tuple[Registry, Outcome]:
    """Free one environment's port (it becomes TBD), or remove the service with all its ports."""
    service = find(registry, ref)
    if environment is None:
        updated = registry.without_service(service.id)
        for env, port in service.assigned():
            updated = _log(updated, stamp, "release", service, env, port, None)
        if not service.assigned():
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
    width: int = 0,
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
