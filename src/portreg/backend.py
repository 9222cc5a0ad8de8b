"""Where commands read and write the registry: a local ports.toml, or a portreg server.

`open_backend(env)` picks by `--registry` / `PORTREG_REGISTRY`: an http(s) URL means the
server (`portreg.client.RemoteBackend`), anything else the local file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from portreg.environment import Environment
from portreg.model import Registry

if TYPE_CHECKING:
    from portreg.ops import Outcome, Stamp


class Backend(Protocol):
    def load(self) -> Registry: ...

    def assign(
        self,
        ref: str,
        environment: str,
        *,
        protocol: str | None,
        transport: str | None,
        host: str | None = None,
    ) -> Outcome: ...

    def add(
        self,
        ref: str,
        port: int,
        environment: str,
        *,
        protocol: str | None,
        transport: str | None,
        status: str | None,
        notes: str | None,
        force: bool,
        host: str | None = None,
    ) -> Outcome: ...

    def reserve(
        self,
        ref: str,
        *,
        port: int | None,
        purpose: str,
        environment: str,
        host: str | None = None,
    ) -> Outcome: ...

    def release(self, ref: str, *, environment: str | None) -> Outcome: ...

    def move(
        self, ref: str, port: int, *, environment: str, reason: str, host: str | None = None
    ) -> Outcome: ...


class LocalBackend:
    """ports.toml under its lock; the live host is scanned inside the lock, so it is current.

    Only the default host is scanned: this machine cannot see the sockets of a host named by
    `--host` (a server learns those from `portreg agent`)."""

    def __init__(self, env: Environment, path: Path) -> None:
        self.env = env
        self.path = path

    def _stamp(self) -> Stamp:
        from portreg.ops import Stamp

        return Stamp(who=self.env.who, at=self.env.now())

    def load(self) -> Registry:
        from portreg.store import load

        return load(self.path)

    def assign(
        self,
        ref: str,
        environment: str,
        *,
        protocol: str | None,
        transport: str | None,
        host: str | None = None,
    ) -> Outcome:
        from portreg import ops
        from portreg.host import live_ports as scan_live
        from portreg.model import service_id
        from portreg.store import mutate

        self.env.start_who()  # git answers while the registry is read

        def change(r: Registry) -> tuple[Registry, Outcome]:
            stamp = self._stamp()
            existing = r.get(ref) or r.get(service_id(ref))
            if existing is not None and existing.ports.get(environment) is not None:
                return ops.assign(r, ref, environment, stamp, host=host)  # no host scan needed
            where = host if host is not None else (existing.host if existing else "")
            return ops.assign(
                r,
                ref,
                environment,
                stamp,
                live=scan_live((r.policy.range_start, r.policy.range_end)) if not where else (),
                protocol=protocol,
                transport=transport,
                host=host,
            )

        return mutate(self.path, change)

    def add(
        self,
        ref: str,
        port: int,
        environment: str,
        *,
        protocol: str | None,
        transport: str | None,
        status: str | None,
        notes: str | None,
        force: bool,
        host: str | None = None,
    ) -> Outcome:
        from portreg import ops
        from portreg.host import live_ports
        from portreg.store import mutate

        stamp = self._stamp()
        live = live_ports((port, port)) if not host else set()
        return mutate(
            self.path,
            lambda r: ops.add(
                r,
                ref,
                port,
                environment,
                stamp,
                live=live,
                protocol=protocol,
                transport=transport,
                status=status,
                notes=notes,
                force=force,
                host=host,
            ),
        )

    def reserve(
        self,
        ref: str,
        *,
        port: int | None,
        purpose: str,
        environment: str,
        host: str | None = None,
    ) -> Outcome:
        from portreg import ops
        from portreg.host import live_ports as scan_live
        from portreg.store import mutate

        stamp = self._stamp()
        return mutate(
            self.path,
            lambda r: ops.reserve(
                r,
                ref,
                stamp,
                port=port,
                purpose=purpose,
                environment=environment,
                live=set()
                if host
                else scan_live((r.policy.range_start, r.policy.range_end))
                | (set() if port is None else _live_one(port)),
                host=host,
            ),
        )

    def release(self, ref: str, *, environment: str | None) -> Outcome:
        from portreg import ops
        from portreg.store import mutate

        stamp = self._stamp()
        return mutate(self.path, lambda r: ops.release(r, ref, stamp, environment=environment))

    def move(
        self, ref: str, port: int, *, environment: str, reason: str, host: str | None = None
    ) -> Outcome:
        """The change procedure: the registry and every file next to it (`portreg.rewrite`)."""
        from portreg.host import live_ports
        from portreg.ops import Outcome
        from portreg.rewrite.plan import move

        stamp = self._stamp()
        report = move(
            self.path,
            ref,
            port,
            environment,
            reason,
            who=stamp.who,
            at=stamp.at,
            live=lambda p: live_ports((p, p)),
            host=host,
        )
        return Outcome(report.service, environment, report.new, report.changed)


def _live_one(port: int) -> set[int]:
    from portreg.host import live_ports

    return live_ports((port, port))


def open_backend(env: Environment) -> Backend:
    if env.is_remote:
        from portreg.client import RemoteBackend

        return RemoteBackend(env)
    return LocalBackend(env, env.registry_path())
