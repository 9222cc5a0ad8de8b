from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.views import Table, View


@dataclass(frozen=True, slots=True)
class Detail:
    """One service's registrations, as `show` prints them."""

    record: dict[str, Any]
    history: list[dict[str, Any]]
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> Any:
        return {**self.record, "history": self.history}

    def views(self) -> list[View]:
        r = self.record
        ports = ", ".join(f"{e}: {'TBD' if p is None else p}" for e, p in r["ports"].items())
        fields = [
            ("Service", f"{r['name']} ({r['service']})"),
            ("Ports", ports),
            ("Protocol", f"{r['protocol']}/{r['transport']}"),
            ("Status", r["status"]),
            ("Notes", r["notes"]),
            ("Description", r["description"]),
            ("Process", r["process"]),
            ("Deployment", r["deployment"]),
            ("Health check", r["health_check"]),
            ("TLS", r["tls"]),
            ("Connections", r["connections"]),
            ("Purpose", r["purpose"]),
            ("Depends on", ", ".join(r["depends_on"])),
            *((f"{k}", v) for k, v in r["connection_strings"].items()),
        ]
        views: list[View] = [Table(("Field", "Value"), tuple((k, v) for k, v in fields if v))]
        if self.history:
            views.append(
                Table(
                    ("When", "Who", "Action", "Env", "Old", "New", "Reason"),
                    tuple(
                        tuple(
                            str(h[k] if h[k] is not None else "—")
                            for k in ("at", "who", "action", "environment", "old", "new", "reason")
                        )
                        for h in self.history
                    ),
                    title="History",
                )
            )
        return views


def run(env: Environment, args: argparse.Namespace) -> Detail:
    from portreg.backend import open_backend
    from portreg.ops import find
    from portreg.records import service_detail

    registry = open_backend(env).load()
    service = find(registry, args.service, whole=True)
    history = [
        {
            "at": c.at.isoformat(sep=" "),
            "who": c.who,
            "action": c.action,
            "environment": c.environment,
            "old": c.old_port,
            "new": c.new_port,
            "reason": c.reason,
        }
        for c in registry.changes
        if c.service == service.id
    ]
    return Detail(service_detail(service), history)
