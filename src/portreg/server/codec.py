"""Model values to table rows and back: how a `Service`, a `Policy` and a change are stored.

A service's table columns hold what the queries filter on; everything else is one JSON `data`
column with only the fields that differ from the defaults. Timestamps are naive UTC seconds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from typing import Any

from portreg.model import ChangeEntry, CodeBlock, ConnectionString, Policy, Service

_COLUMNS = ("name", "protocol", "transport", "status", "notes")


_SKIP = {"id", "ports", *_COLUMNS}


# A range registration (`Service.width` > 1) is stored as its first port plus one row per other
# port, environment `development+1`, `development+2`, …: UNIQUE(host, transport, port) and the
# allocator's scan of taken ports then cover every port of it, on SQLite and PostgreSQL alike.
# Environment names never hold a `+` (validate.environment), so a reader can tell them apart.
SHADOW = "+"


def assignment_rows(s: Service) -> list[dict[str, Any]]:
    """The `assignments` rows of one service: a row per environment, and a range's others."""
    rows: list[dict[str, Any]] = []
    for i, (env, port) in enumerate(s.ports.items()):
        rows.append(
            {"service_id": s.id, "environment": env, "host": s.host, "transport": s.transport,
             "port": port, "seq": i}
        )  # fmt: skip
        if port is not None:
            rows.extend(
                {"service_id": s.id, "environment": f"{env}{SHADOW}{k}", "host": s.host,
                 "transport": s.transport, "port": port + k, "seq": i}
                for k in range(1, s.width)
            )  # fmt: skip
    return rows


def own_ports(rows: Any) -> dict[str, int | None]:
    """environment -> port from `assignments` rows (environment, port), a range's others out."""
    return {env: port for env, port in rows if SHADOW not in env}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def service_data(s: Service) -> str:
    data: dict[str, Any] = {}
    defaults = Service(id="", name="")
    for f in fields(Service):
        if f.name in _SKIP:
            continue
        value = getattr(s, f.name)
        if value == getattr(defaults, f.name):
            continue
        if f.name in {"configuration", "connection_strings"}:
            value = [asdict(c) for c in value]
        elif isinstance(value, tuple):
            value = list(value)
        data[f.name] = value
    return json.dumps(data, separators=(",", ":"))


def service_from(r: Any, ports: dict[str, int | None]) -> Service:
    data = json.loads(r.data or "{}")
    if "configuration" in data:
        data["configuration"] = tuple(CodeBlock(**c) for c in data["configuration"])
    if "connection_strings" in data:
        data["connection_strings"] = tuple(
            ConnectionString(**c) for c in data["connection_strings"]
        )
    if "depends_on" in data:
        data["depends_on"] = tuple(data["depends_on"])
    return Service(
        id=r.id,
        name=r.name,
        ports=ports,
        protocol=r.protocol,
        transport=r.transport,
        status=r.status,
        notes=r.notes,
        **data,
    )


def policy_data(p: Policy) -> dict[str, Any]:
    from portreg.records import policy_dict

    return policy_dict(p)


def policy_from(d: dict[str, Any]) -> Policy:
    last = d.get("last_audit")
    return Policy(
        range_start=int(d["range"][0]),
        range_end=int(d["range"][1]),
        avoid=tuple(int(x) for x in d.get("avoid", ())),
        step=int(d.get("step", 1)),
        audit_interval_days=int(d.get("audit_interval_days", 30)),
        last_audit=date.fromisoformat(last) if last else None,
    )


def change_dict(cid: int, c: ChangeEntry) -> dict[str, Any]:
    return {
        "id": cid,
        "at": c.at.isoformat(sep=" "),
        "who": c.who,
        "action": c.action,
        "service": c.service,
        "environment": c.environment,
        "old": c.old_port,
        "new": c.new_port,
        "reason": c.reason,
    }


def change_from(r: Any) -> ChangeEntry:
    return ChangeEntry(
        r.at, r.who, r.action, r.service, r.environment, r.old_port, r.new_port, r.reason
    )
