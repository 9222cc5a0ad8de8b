"""What reading one file gives: the registry it describes, with its warnings."""

from __future__ import annotations

from dataclasses import dataclass

from portreg.model import Registry


@dataclass(frozen=True, slots=True)
class Imported:
    """What one file says. `policy_given`: the file stated a range/avoid list/audit dates."""

    registry: Registry
    source: str
    policy_given: bool = False
    warnings: tuple[str, ...] = ()
    kind: str = "markdown"  # markdown | compose | env (compose and env ports are clash-checked)
