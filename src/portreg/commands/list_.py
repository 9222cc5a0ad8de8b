from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.views import Table, View

if TYPE_CHECKING:
    import argparse  # argparse is ~5 ms of start-up: only the quick parser runs here
    from collections.abc import Iterator


@dataclass(frozen=True, slots=True)
class Listing:
    """`list`: one row per service and environment."""

    rows: list[dict[str, Any]]
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> Any:
        return self.rows

    def json_chunks(self) -> Iterator[str]:
        from portreg.fastrows import json_chunks

        return json_chunks(self.rows)

    def views(self) -> list[View]:
        return [
            Table(
                ("Service", "Port", "Protocol", "Status", "Environment", "Notes"),
                tuple(
                    (
                        r["name"] if r["port_name"] is None else f"{r['name']} ({r['port_name']})",
                        _port(r),
                        r["protocol"]
                        if r["transport"] in ("tcp", r["protocol"]) or "+" in r["transport"]
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
    if not env.is_remote:
        # A registry read before and unchanged since: rows from its cached parse, without
        # the model (see portreg.fastrows).
        from portreg import regcache

        data = regcache.valid(env.registry_path())
        if data is not None:
            from portreg import fastrows

            if fastrows.plain(data):
                return Listing(fastrows.service_rows(data, args.env))
    from portreg.backend import open_backend
    from portreg.records import service_rows

    registry = open_backend(env).load()
    rows = service_rows(registry, args.env)
    if args.host is not None:
        rows = [r for r in rows if r["host"] == args.host]
    return Listing(rows)


def _port(row: dict[str, Any]) -> str:
    if row["port"] is None:
        return "TBD"
    return str(row["port"]) if row["port_end"] is None else f"{row['port']}-{row['port_end']}"
