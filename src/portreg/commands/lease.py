"""`lease [--ttl S] [--json]`: hold a port beyond one command; prints the port alone.

Decision: such a lease has no holder process (a shell's `$(portreg lease)` runs in a subshell
that is gone at once, so its pid would end the lease immediately); it lasts `--ttl` seconds
(default 3600) and then cools down like any other. JSON: the lease object of `leases --json`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portreg.environment import Environment
from portreg.views import Simple

if TYPE_CHECKING:
    import argparse


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg import leases

    lease_range, excluded = leases.policy_for(env.cwd, dict(env.environ), env.registry_option)
    port = leases.acquire(
        lease_range=lease_range, excluded=excluded, pid=None, name=args.name, ttl=args.ttl
    )
    found = [lease for lease in leases.current() if lease.port == port and lease.pid is None]
    data = found[-1].to_json() if found else {"port": port}
    return Simple(text=(str(port),), data=data)
