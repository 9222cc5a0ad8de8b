"""Registry operations as pure functions: (registry, request) -> (new registry, outcome).

The local store runs them under its file lock; the server runs the same rules in SQL.
Live host ports come in as a set, the clock and the author as values.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from portreg.errors import PortregError
from portreg.model import ChangeEntry, Registry, Service, service_id
from portreg.policy import judge, next_free


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


MAX_NAME = 100


def _usable(ref: str) -> str:
    """`ref` if it can name a service: the name becomes a display name in tables and pages, so
    a control character (a newline from a shell substitution) or an essay is refused rather
    than silently flattened into an id that may be another service's."""
    if any(ord(c) < 32 or ord(c) == 127 for c in ref):
        raise PortregError(f"not a usable service name: {ref!r} (it has a control character)")
    if len(ref) > MAX_NAME:
        raise PortregError(f"not a usable service name: longer than {MAX_NAME} characters")
    return ref


def new_id(ref: str) -> str:
    """The id of a new service named `ref` ("API Server" → api-server)."""
    sid = service_id(_usable(ref))
    if not sid:
        raise PortregError(f"not a usable service name: {ref!r} (it needs a letter or digit)")
    return sid


def _existing(registry: Registry, ref: str) -> Service | None:
    """The service `ref` names (id or display name), if any, for the commands that may create it."""
    return registry.get(_usable(ref)) or registry.get(service_id(ref))


def find(registry: Registry, ref: str) -> Service:
    """A service by id or display name; an unknown one is bad input."""
    service = registry.get(ref) or registry.get(service_id(ref))
    if service is None:
        raise PortregError(f"unknown service {ref!r} (see `portreg list`)")
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


def _fail_if(problems: Collection[str]) -> None:
    if problems:
        raise PortregError("; ".join(problems))


def assign(
    registry: Registry,
    ref: str,
    environment: str,
    stamp: Stamp,
    *,
    live: Collection[int] = (),
    protocol: str | None = None,
    transport: str | None = None,
) -> tuple[Registry, Outcome]:
    """The service's port in `environment`, picking the next free one if it has none."""
    existing = _existing(registry, ref)
    if existing is not None and existing.ports.get(environment) is not None:
        return registry, Outcome(existing.id, environment, existing.ports[environment], False)
    port = next_free(registry, live)
    if existing is None:
        sid = new_id(ref)
        service = Service(
            id=sid,
            name=ref,
            ports={environment: port},
            protocol=protocol or transport or "tcp",
            transport=transport or "tcp",
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
) -> tuple[Registry, Outcome]:
    """Record `port` for a service, enforcing the policy unless `force` (a known exception)."""
    existing = _existing(registry, ref)
    sid = existing.id if existing else new_id(ref)
    current = existing.ports.get(environment) if existing else None
    if current is not None and current != port:
        raise PortregError(
            f"{sid} already has port {current} in {environment}; "
            f"use `portreg move {sid} {port} --reason …` to change it"
        )
    verdict = judge(registry, port, live=(), owner=sid)
    warnings: list[str] = []
    if port in live:
        # Documenting a service that already runs is what `add` is for: warn, don't refuse.
        warnings.append(f"warning: port {port} is in use on this host")
    if verdict.problems and not force:
        _fail_if([*verdict.problems, "pass --force to record it as a known exception"])
    base = existing or Service(id=sid, name=ref)
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
) -> tuple[Registry, Outcome]:
    """Keep a port for a planned service (the seed's Reserved Ports table)."""
    existing = _existing(registry, ref)
    if existing is not None and not existing.reserved:
        raise PortregError(
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
        port = next_free(registry, live)
    else:
        _fail_if(judge(registry, port, live=live, owner=sid).problems)
    base = existing or Service(id=sid, name=ref, status="reserved")
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
        return registry, Outcome(service.id, environment, None, False)
    service = service.with_port(environment, None)
    updated = _log(
        registry.with_service(service), stamp, "release", service, environment, old, None
    )
    return updated, Outcome(service.id, environment, None, True)
