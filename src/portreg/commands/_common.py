"""What several commands share: the change stamp, the live ports, the local-or-remote switch."""

from __future__ import annotations

from portreg.environment import Environment
from portreg.model import Registry
from portreg.ops import Stamp


def stamp(env: Environment) -> Stamp:
    return Stamp(who=env.who, at=env.now())


def live_ports(registry: Registry) -> set[int]:
    """Ports live on this host within the policy's range (the only ones `assign` could pick)."""
    from portreg.host import live_ports as scan

    return scan((registry.policy.range_start, registry.policy.range_end))
