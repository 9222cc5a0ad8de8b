"""What reading one file gives: the registry it describes, with its warnings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from portreg.model import Registry

if TYPE_CHECKING:
    from portreg.importers.published import Read


@dataclass(frozen=True, slots=True)
class Imported:
    """What one file says. `policy_given`: the file stated a range/avoid list/audit dates."""

    registry: Registry
    source: str
    policy_given: bool = False
    warnings: tuple[str, ...] = ()
    kind: str = "markdown"  # markdown | compose | env (compose and env ports are clash-checked)
    # compose only: every published port as read, and each compose service's image, so the
    # compose files of one import are combined (one owner per port, in any order).
    published: Read | None = None
    images: Mapping[str, str] = field(default_factory=dict)
    # compose only: the other names a container answers to on the compose network
    # (`container_name`, `hostname`, network `aliases`, `links` aliases): a `.env` URL to one
    # of them is a container's own port, like a URL to a service by its name
    aliases: frozenset[str] = frozenset()
    # compose only: each `env_file:` it names (as a path like `source`) -> the services using it
    env_files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # env only: `REDIS_PORT` -> `redis` when the file also says `REDIS_HOST=redis`: the host
    # that port is reached on, which may be a compose service (then it is not a host port)
    hosts: Mapping[str, str] = field(default_factory=dict)
    # compose only: the (service, 1-based line) of each entry whose line carries its host
    # port's digits (`"9000:80"`, `${P:-9000}:80`); `$BIND:80` carries none (its `.env` does)
    literal: frozenset[tuple[str, int]] = frozenset()
    # compose only: variables that only a container's side of an entry reads (`SANDBOX_PORT`
    # in `${EXPOSE_SANDBOX_PORT:-8194}:${SANDBOX_PORT:-8194}`): a .env key of that name is a
    # container's port, no host port of its own and no place of the published one
    inner: frozenset[str] = frozenset()
    # `FILE:LINE` lines for ports another service of this import owns (what `import` exits 1 for)
    clashes: tuple[str, ...] = ()
