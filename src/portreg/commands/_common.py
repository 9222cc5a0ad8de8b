"""What several commands share: the change stamp, the live ports, the local-or-remote switch."""

from __future__ import annotations

from portreg.environment import Environment
from portreg.ops import Stamp


def stamp(env: Environment) -> Stamp:
    return Stamp(who=env.who, at=env.now())
