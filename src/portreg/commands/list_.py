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
                        r["name"] if r["port_name"] is None else f"{r['name']} ({r['port_name']})",
                        _port(r),
                        r["protocol"]
                        if "+" in r["transport"] or r["transport"] == "tcp"
                        else f"{r['protocol']}/{r['transport']}",
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
    return Listing(service_rows(registry, args.env))


def _port(row: dict[str, Any]) -> str:
    if row["port"] is None:
        return "TBD"
    return str(row["port"]) if row["port_end"] is None else f"{row['port']}-{row['port_end']}"
