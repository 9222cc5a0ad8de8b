"""JSON-ready records: the shapes that `list --json`, `show --json` and the server share."""

from __future__ import annotations

from typing import Any

from portreg.model import Policy, Registry, Service


def service_rows(registry: Registry, environment: str | None = None) -> list[dict[str, Any]]:
    """One object per service, port and environment (DESIGN.md's `list --json`); TBD is `null`.

    A named port's row has `port_name`; a range's `port_end`; a port on TCP and UDP is a row
    per transport. A service whose ports all have names has no row of its own.
    """
    envs = registry.environments()
    named = {s.base for s in registry.services.values() if s.port_name is not None}
    rows: list[dict[str, Any]] = []
    for s in registry.services.values():
        if not s.ports and s.port_name is None and s.id in named:
            continue
        ports = s.ports or {"development": None}
        for env in sorted(ports, key=envs.index):
            if environment is None or env == environment:
                if "+" in s.transport:
                    rows.extend(row(s, env, t) for t in s.transports)
                else:
                    rows.append(row(s, env))
    return rows


def row(s: Service, env: str, transport: str | None = None) -> dict[str, Any]:
    return {
        "service": s.base,
        "port_name": s.port_name,
        "name": s.name,
        "environment": env,
        "port": s.ports.get(env),
        "port_end": s.port_end(env),
        "protocol": s.protocol,
        "transport": transport or s.transport,
        "status": s.status,
        "notes": s.notes,
        "health_check": s.health_check_for(env),
        "purpose": s.purpose,
        "host": s.host,
    }


def service_detail(s: Service) -> dict[str, Any]:
    """Everything recorded about one service, templates filled in with its own port."""
    port = s.primary_port
    return {
        "service": s.id,
        "port_name": s.port_name,
        "name": s.name,
        "status": s.status,
        "protocol": s.protocol,
        "transport": s.transport,
        "ports": dict(s.ports),
        "port_ends": {env: s.port_end(env) for env in s.ports} if s.width > 1 else {},
        "bindings": list(s.bindings),
        "notes": s.notes,
        "description": s.description,
        "process": s.process,
        "deployment": s.deployment,
        "health_check": s.health_check_for(None),
        "tls": s.tls,
        "connections": s.connections,
        "purpose": s.purpose,
        "depends_on": list(s.depends_on),
        "connection_strings": {c.env_var: c.render(port) for c in s.connection_strings},
        "configuration": [
            {"lang": c.lang, "text": c.text.replace("{port}", str(port))} for c in s.configuration
        ],
        "compose_service": s.compose_service,
        "container_port": s.container_port,
        "forced": s.forced,
        "host": s.host,
    }


def policy_dict(p: Policy) -> dict[str, Any]:
    """The policy as every door shows it (`render --format json`, `GET /api/v1/policy`)."""
    from portreg.policy import next_audit

    due = next_audit(p)
    return {
        "range": [p.range_start, p.range_end],
        "avoid": list(p.avoid),
        "step": p.step,
        "audit_interval_days": p.audit_interval_days,
        "last_audit": p.last_audit.isoformat() if p.last_audit else None,
        "next_audit": due.isoformat() if due else None,
    }
