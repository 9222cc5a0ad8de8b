"""The registry as plain values: services, their ports per environment, the policy, the change log.

Nothing here touches a file, a socket or a process; every other layer builds on these types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

# The model's words, re-exported (`X as X` marks them so for mypy --strict).
from portreg.vocabulary import (
    BOTH as BOTH,
    DEFAULT_AUDIT_INTERVAL_DAYS as DEFAULT_AUDIT_INTERVAL_DAYS,
    DEFAULT_AVOID as DEFAULT_AVOID,
    DEFAULT_LEASE_RANGE as DEFAULT_LEASE_RANGE,
    DEFAULT_RANGE as DEFAULT_RANGE,
    DEFAULT_TITLE as DEFAULT_TITLE,
    END as END,
    ENVIRONMENTS as ENVIRONMENTS,
    PORT_MAX as PORT_MAX,
    PORT_MIN as PORT_MIN,
    PORT_SEP as PORT_SEP,
    RESERVED_STATUSES as RESERVED_STATUSES,
    STATUSES as STATUSES,
    TRANSPORT_VALUES as TRANSPORT_VALUES,
    TRANSPORTS as TRANSPORTS,
)

_ID_RUN = re.compile(r"[\W_]+")


def service_id(name: str) -> str:
    """The id of a display name: NFKC-normalised and case-folded, each run of characters other
    than letters and digits (any script) one `-`. Letters are kept, never dropped, so names in
    different scripts stay different services.

    >>> service_id("API Server"), service_id("PostgreSQL"), service_id("**SSE** Worker!")
    ('api-server', 'postgresql', 'sse-worker')
    >>> service_id("日本-api"), service_id("中国-api"), service_id("Köln")
    ('日本-api', '中国-api', 'köln')
    """
    import unicodedata

    return _ID_RUN.sub("-", unicodedata.normalize("NFKC", name).casefold()).strip("-")


def port_ref(text: str) -> str:
    """The id a command-line reference names: `Kong:HTTPS` -> `kong:https`, `API Server` ->
    `api-server` (each side of the first `:` normalised as an id)."""
    base, sep, name = text.partition(PORT_SEP)
    if not sep:
        return service_id(text)
    return f"{service_id(base)}{PORT_SEP}{service_id(name)}"


@dataclass(frozen=True, slots=True)
class ConnectionString:
    """An environment variable whose value carries the port, e.g. DATABASE_URL.

    `template` holds `{port}` where the port stands, so a move rewrites it without guessing.
    """

    env_var: str
    template: str

    def render(self, port: int | None) -> str:
        return self.template.replace("{port}", "TBD" if port is None else str(port))


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """A configuration snippet from the page (`bash`, `yaml`, …), kept verbatim."""

    lang: str
    text: str


@dataclass(frozen=True, slots=True)
class Service:
    """One service: its ports per environment and everything the seed page says of it."""

    id: str
    name: str
    ports: dict[str, int | None] = field(default_factory=dict)  # environment -> port; None = TBD
    protocol: str = "tcp"  # application protocol: http, postgres, redis, tcp, udp, …
    transport: str = "tcp"
    status: str = "active"
    notes: str = ""
    description: str = ""  # the seed's "Service:" line, e.g. "FastAPI application"
    process: str = ""
    deployment: str = ""
    health_check: str = ""
    tls: str = ""
    connections: str = ""
    configuration: tuple[CodeBlock, ...] = ()
    connection_strings: tuple[ConnectionString, ...] = ()
    depends_on: tuple[str, ...] = ()
    purpose: str = ""  # why a reserved/planned port is kept
    compose_service: str = ""  # service name in docker-compose files, when it differs from id
    container_port: int | None = None
    forced: bool = False  # recorded on purpose despite the policy (`add --force`)
    # A range registration: each environment's port is the first of `width` consecutive ports.
    width: int = 1
    # Where import found this port: `FILE:KEY` for a .env key, `FILE:SERVICE` for a compose
    # service's ports entry, `FILE:#ROW` for a Markdown table row; `move` and `sync` rewrite
    # exactly these.
    bindings: tuple[str, ...] = ()

    @property
    def base(self) -> str:
        """The id of the service this port belongs to (`kong` for `kong:https`)."""
        return self.id.partition(PORT_SEP)[0]

    @property
    def port_name(self) -> str | None:
        """The port's name among its service's ports, None for a service's own (only) port."""
        return self.id.partition(PORT_SEP)[2] or None

    @property
    def label(self) -> str:
        """The display name, with the port's name for one of several: `Kong (https)`."""
        return self.name if self.port_name is None else f"{self.name} ({self.port_name})"

    def span(self, environment: str) -> str:
        """The port as people write it: `53000`, a range `30000-30009`, or TBD."""
        port = self.ports.get(environment)
        if port is None:
            return "TBD"
        return str(port) if self.width == 1 else f"{port}-{port + self.width - 1}"

    @property
    def transports(self) -> tuple[str, ...]:
        return tuple(self.transport.split("+"))

    def port_end(self, environment: str) -> int | None:
        """The last port of a range registration in `environment`, None for a single port."""
        port = self.ports.get(environment)
        return None if port is None or self.width == 1 else port + self.width - 1

    def covers(self, port: int) -> list[str]:
        """The environments whose registration (a single port or a range) includes `port`."""
        w = self.width
        return [env for env, p in self.ports.items() if p is not None and p <= port < p + w]

    # The machine its ports live on ("" = the registry's default host). Uniqueness is per
    # (host, transport, port): see `policy.holders_on`.
    host: str = ""

    @property
    def reserved(self) -> bool:
        return self.status in RESERVED_STATUSES

    def port(self, environment: str) -> int | None:
        return self.ports.get(environment)

    def with_port(self, environment: str, port: int | None) -> Service:
        return replace(self, ports={**self.ports, environment: port})

    @property
    def primary_port(self) -> int | None:
        """The port that `{port}` in templates stands for: development's, else the first one."""
        dev = self.ports.get("development")
        if dev is not None:
            return dev
        return next((p for p in self.ports.values() if p is not None), None)

    def health_check_for(self, environment: str | None) -> str:
        port = self.primary_port if environment is None else self.ports.get(environment)
        if not self.health_check or (port is None and "{port}" in self.health_check):
            return "" if port is None else self.health_check
        return self.health_check.replace("{port}", str(port))

    def assigned(self) -> list[tuple[str, int]]:
        """(environment, port) for every environment that has a port."""
        return [(env, p) for env, p in self.ports.items() if p is not None]

    def occupied(self) -> list[tuple[str, range]]:
        """(environment, every port its registration takes: a range whole) per environment."""
        return [(env, range(p, p + self.width)) for env, p in self.ports.items() if p is not None]


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules for picking ports: range, avoid list, step, audit interval."""

    range_start: int = DEFAULT_RANGE[0]
    range_end: int = DEFAULT_RANGE[1]
    avoid: tuple[int, ...] = DEFAULT_AVOID
    step: int = 1
    audit_interval_days: int = DEFAULT_AUDIT_INTERVAL_DAYS
    last_audit: date | None = None
    lease_range: tuple[int, int] = DEFAULT_LEASE_RANGE

    def in_range(self, port: int) -> bool:
        return self.range_start <= port <= self.range_end

    @property
    def size(self) -> int:
        return len(range(self.range_start, self.range_end + 1, self.step))


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """One line of the change log: who moved what, when and why."""

    at: datetime
    who: str
    action: str  # add, assign, reserve, release, move, import, update
    service: str
    environment: str = ""
    old_port: int | None = None
    new_port: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    """A part of an imported page portreg has no model for; kept so a render loses nothing."""

    heading: str
    body: str


@dataclass(frozen=True, slots=True)
class Registry:
    """The whole registry: services, policy, change log, page metadata."""

    project: str = ""
    title: str = DEFAULT_TITLE
    purpose: str = ""
    host: str = ""  # the container host shown in the topology, e.g. an address
    policy: Policy = field(default_factory=Policy)
    services: dict[str, Service] = field(default_factory=dict)
    changes: tuple[ChangeEntry, ...] = ()
    extra_sections: tuple[Section, ...] = ()
    last_updated: datetime | None = None
    # `[sync]`: the generated page's path ("" = every page with this registry's title), and
    # glob patterns of files that sync, move and refs never read or rewrite (test fixtures).
    page: str = ""
    exclude: tuple[str, ...] = ()

    def get(self, sid: str) -> Service | None:
        return self.services.get(sid)

    def with_service(self, service: Service) -> Registry:
        return replace(self, services={**self.services, service.id: service})

    def without_service(self, sid: str) -> Registry:
        return replace(self, services={k: v for k, v in self.services.items() if k != sid})

    def with_change(self, entry: ChangeEntry) -> Registry:
        return replace(self, changes=(*self.changes, entry), last_updated=entry.at)

    def environments(self) -> list[str]:
        """The standard environments first, then any other that a service names."""
        seen = dict.fromkeys(ENVIRONMENTS)
        for s in self.services.values():
            seen.update(dict.fromkeys(s.ports))
        return list(seen)

    def holders(self, port: int, transport: str | None = None) -> list[tuple[Service, str]]:
        """Every (service, environment) whose registration covers `port` (a range covers each
        of its ports), reserved services included; on `transport` only, if given."""
        return [
            (s, env)
            for s in self.services.values()
            if transport is None or transport in s.transports
            for env in s.covers(port)
        ]

    def taken_ports(self) -> set[int]:
        taken: set[int] = set()
        for s in self.services.values():
            for _, ports in s.occupied():
                taken.update(ports)
        return taken

    def listed(self) -> list[Service]:
        """Every registration a table shows: a service whose ports all have names is shown
        by its named ports alone."""
        named = {s.base for s in self.services.values() if s.port_name is not None}
        return [
            s
            for s in self.services.values()
            if s.ports or s.port_name is not None or s.id not in named
        ]

    def ports_of(self, base: str) -> list[Service]:
        """A service's registrations: its own port and each named one (`kong`, `kong:https`)."""
        prefix = base + PORT_SEP
        return [s for sid, s in self.services.items() if sid == base or sid.startswith(prefix)]
