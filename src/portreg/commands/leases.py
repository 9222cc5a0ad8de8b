"""`leases [--json]`: the live leases on this host, active and cooling.

JSON: an array of `{"port", "pid", "name", "since", "state"}` (`state`: `active` or
`cooling`; `pid` is null for a ttl-only lease, which also carries `expires`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portreg.environment import Environment
from portreg.views import Simple

if TYPE_CHECKING:
    import argparse


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg import leases

    found = leases.current()
    lines = tuple(
        f"{lease.port}\t{lease.state()}\tpid {lease.pid if lease.pid is not None else '-'}"
        f"\t{lease.name}\tsince {lease.to_json()['since']}"
        for lease in found
    )
    return Simple(text=lines or ("no leases",), data=[lease.to_json() for lease in found])
