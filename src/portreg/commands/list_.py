from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.views import Table, View


@dataclass(frozen=True, slots=True)
class Listing:
    """`list`: one row per service and environment."""

    rows: list[dict[str, Any]]
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> Any:
        return self.rows

    def views(self) -> list[View]:
        return [
            Table(
                ("Service", "Port", "Protocol", "Status", "Environment", "Notes"),
                tuple(
                    (
                        r["name"],
                        "TBD" if r["port"] is None else str(r["port"]),
                        r["protocol"],
                        r["status"],
                        r["environment"],
                        r["notes"],
                    )
                    for r in self.rows
                ),
            )
        ]


def run(env: Environment, args: argparse.Namespace) -> Listing:
    from portreg.backend import open_backend
    from portreg.records import service_rows

    registry = open_backend(env).load()
    rows = service_rows(registry, args.env)
    if args.host is not None:
        rows = [r for r in rows if r["host"] == args.host]
    return Listing(rows)
