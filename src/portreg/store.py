"""The registry file `ports.toml`: read fast, edit in place, never torn.

Reads use the standard library's `tomllib` (the command line's hot path); writes go through
tomlkit so a hand-edited file keeps its comments, order and layout — only changed values move.
Every write happens under an exclusive `flock` on the registry's directory and lands with a
temp file + `fsync` + `os.replace`, so a reader sees the old file or the new one, and a process
killed mid-write leaves the old one (the kernel drops the lock with the process: no stale lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from portreg import validate
from portreg.errors import PortregError
from portreg.locate import FILENAME
from portreg.model import (
    DEFAULT_LEASE_RANGE,
    DEFAULT_TITLE,
    PORT_MAX,
    PORT_MIN,
    PORT_SEP,
    STATUSES,
    TRANSPORT_VALUES,
    ChangeEntry,
    CodeBlock,
    ConnectionString,
    Policy,
    Registry,
    Section,
    Service,
    service_id,
)

TBD = "TBD"
T = TypeVar("T")

_HEADER = """\
# portreg registry: the source of truth for this project's service ports.
# Edit by hand or with `portreg`; `portreg render` writes the Markdown page from it.
"""


# --- files: lock and atomic replace ------------------------------------------------------------


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive lock for writers of `path`, held on its directory.

    The directory, not the file: `os.replace` swaps the file's inode, so a lock on the old
    inode would not exclude a writer that opened the new one. A symlinked registry (one file
    shared by two checkouts) is locked beside its target, so writers from both checkouts
    exclude each other.
    """
    directory = _target(path).parent
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise PortregError(f"cannot open {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _target(path: Path) -> Path:
    """Where a write of `path` lands: a symlink's final target (the link itself stays)."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new, never half.

    A symlink is written through: its target is replaced and the link stays a link, so every
    checkout sharing the file sees the write. Whether the target may be written at all (inside
    a repository) is the caller's check (`portreg.rewrite.confine`).
    """
    path = _target(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    # O_EXCL on a name of our own, not tempfile.mkstemp: tempfile's import (shutil, bz2,
    # lzma, random) costs `assign` more than the write. `_sweep_temp_files` knows the name.
    tmp = str(directory / f".{path.name}.{os.getpid()}.{time.time_ns():x}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write(path: Path, text: str) -> None:
    """`atomic_write` for a command: a refused write (read-only directory, full disk, an
    immutable file) is one clear line, and the old file stays as it was."""
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise PortregError(f"cannot write {path}: {exc.strerror or exc}") from None


# --- reading -----------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PortregError(
            f"no registry at {path} (run `portreg init` or pass --registry)"
        ) from None
    except UnicodeDecodeError:
        raise PortregError(f"{path}: not a text file (expected TOML in UTF-8)") from None
    except OSError as exc:
        raise PortregError(f"cannot read {path}: {exc.strerror}") from None


def load(path: Path) -> Registry:
    from portreg.regcache import parsed  # cached by file identity: see regcache

    return parsed(path, read_text, lambda t: _toml(t, str(path)), _Reader(str(path)).registry)


def loads(text: str, source: str = FILENAME) -> Registry:
    return _Reader(source).registry(_toml(text, source))


def _toml(text: str, source: str) -> dict[str, Any]:
    if not text.strip():
        # An empty file is a truncated registry far more often than an intended one: never
        # read it as "no services" (the next write would make that permanent).
        raise PortregError(
            f"{source}: the registry is empty (restore it, e.g. from git, or run `portreg init`)"
        )
    import tomllib  # here: a read from the cache never needs it

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already names the line: "... (at line 7, column 12)".
        raise PortregError(f"{source}: invalid TOML: {exc}") from None
    except RecursionError:
        raise PortregError(f"{source}: invalid TOML: nested too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits (Python's int limit)
        raise PortregError(f"{source}: invalid TOML: {str(exc).splitlines()[0][:200]}") from None
    return data


class _Reader:
    """Turns parsed TOML into model values, naming the key path of anything malformed."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> PortregError:
        return PortregError(f"{self.source}: {where}: {what}")

    def string(self, table: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", f"expected a string, got {value!r}")
        # A control character (NUL, ESC, …) is refused here as at every other door: PostgreSQL
        # rejects NUL, and an escape code would reach terminals and pages. Tabs and line breaks
        # stay (descriptions, configuration blocks and sections are multi-line).
        bad = next((c for c in value if _control(c)), None)
        if bad is not None:
            raise self.fail(f"{where}.{key}", f"has a control character ({bad!r})")
        return value

    def port(self, value: Any, where: str) -> int | None:
        if value == TBD:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f'expected a port number or "TBD", got {value!r}')
        if not PORT_MIN <= value <= PORT_MAX:
            raise self.fail(where, f"port {value} is out of bounds (1-65535)")
        return value

    def span(self, value: Any, where: str) -> tuple[int | None, int]:
        """A port, "TBD", or a range `"30000-30009"`: (first port, how many)."""
        if isinstance(value, str) and value != TBD:
            lo, sep, hi = value.partition("-")
            if sep and lo.isdigit() and hi.isdigit():
                start, end = self.port(int(lo), where), self.port(int(hi), where)
                if start is not None and end is not None and start <= end:
                    return start, end - start + 1
            raise self.fail(
                where, f'expected a port, a range like "30000-30009" or "TBD", got {value!r}'
            )
        return self.port(value, where), 1

    def ports(self, raw: Any, where: str) -> tuple[dict[str, int | None], int]:
        if not isinstance(raw, dict):
            raise self.fail(where, "expected a table of environment = port")
        ports: dict[str, int | None] = {}
        widths: set[int] = set()
        for env, value in raw.items():
            ports[env], width = self.span(value, f"{where}.{env}")
            if ports[env] is not None:
                widths.add(width)
        if len(widths) > 1:
            raise self.fail(where, "a range has the same length in every environment")
        return ports, widths.pop() if widths else 1

    def services(self, sid: str, raw: Any) -> list[Service]:
        """A `[services.<id>]` table: the service, then each `[services.<id>.port.<name>]` of it
        (a named port states what differs from the service; the rest it shares)."""
        if _BAD_ID.search(sid):
            # An id is one segment of `/services/{id}` and `SERVICE:NAME` on the command line:
            # `/`, `?`, `#`, `:` or a space would make it unreachable at some door.
            raise self.fail(f"services.{sid}", "an id holds no space, '/', '?', '#', '%' or ':'")
        service = self.service(sid, raw)
        named = raw.get("port", {})
        if not isinstance(named, dict):
            raise self.fail(f"services.{sid}.port", "expected tables of named ports")
        out = [service]
        shared = {k: v for k, v in raw.items() if k not in _OWN_KEYS}
        for name, table in named.items():
            where = f"services.{sid}.port.{name}"
            if not isinstance(table, dict):
                raise self.fail(where, "expected a table")
            if not name or service_id(name) != name:
                raise self.fail(
                    where, f"a port name is lower-case letters, digits and -, got {name!r}"
                )
            out.append(self.service(f"{sid}{PORT_SEP}{name}", {**shared, **table}))
        return out

    def registry(self, data: Mapping[str, Any]) -> Registry:
        meta = data.get("registry", {})
        if not isinstance(meta, dict):
            raise self.fail("registry", "expected a table")
        services_raw = data.get("services", {})
        if not isinstance(services_raw, dict):
            raise self.fail("services", "expected a table of services")
        services = {s.id: s for sid, raw in services_raw.items() for s in self.services(sid, raw)}
        last_updated = meta.get("last_updated")
        sync = data.get("sync", {})
        if not isinstance(sync, dict):
            raise self.fail("sync", "expected a table")
        exclude = sync.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
            raise self.fail("sync.exclude", "expected a list of glob patterns")
        return Registry(
            project=self.string(meta, "project", "registry"),
            title=self.string(meta, "title", "registry", DEFAULT_TITLE),
            purpose=self.string(meta, "purpose", "registry"),
            host=self.string(meta, "host", "registry"),
            policy=self.policy(data.get("policy", {})),
            services=services,
            changes=tuple(self.change(i, c) for i, c in enumerate(data.get("changes", []))),
            extra_sections=tuple(
                Section(self.string(s, "heading", "sections"), self.string(s, "body", "sections"))
                for s in data.get("sections", [])
            ),
            last_updated=None
            if last_updated is None
            else self.moment(last_updated, "registry.last_updated"),
            page=self.string(sync, "page", "sync"),
            exclude=tuple(exclude),
        )

    def policy(self, raw: Any) -> Policy:
        if not isinstance(raw, dict):
            raise self.fail("policy", "expected a table")
        default = Policy()
        rng = raw.get("range", [default.range_start, default.range_end])
        if (
            not isinstance(rng, list)
            or len(rng) != 2
            or not all(isinstance(p, int) and PORT_MIN <= p <= PORT_MAX for p in rng)
            or rng[0] > rng[1]
        ):
            raise self.fail("policy.range", f"expected [start, end] within 1-65535, got {rng!r}")
        avoid = raw.get("avoid", list(default.avoid))
        if not isinstance(avoid, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in avoid
        ):
            raise self.fail("policy.avoid", "expected a list of port numbers")
        step = raw.get("step", 1)
        interval = raw.get("audit_interval_days", default.audit_interval_days)
        for key, value in (("step", step), ("audit_interval_days", interval)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise self.fail(f"policy.{key}", f"expected a positive integer, got {value!r}")
        last = raw.get("last_audit")
        if last is not None and not isinstance(last, date):
            raise self.fail("policy.last_audit", f"expected a date, got {last!r}")
        if isinstance(last, datetime):
            last = last.date()
        lease = raw.get("lease_range", list(default.lease_range))
        if (
            not isinstance(lease, list)
            or len(lease) != 2
            or not all(isinstance(p, int) and PORT_MIN <= p <= PORT_MAX for p in lease)
            or lease[0] > lease[1]
        ):
            raise self.fail(
                "policy.lease_range", f"expected [start, end] within 1-65535, got {lease!r}"
            )
        try:
            validate.policy_values(rng[0], rng[1], tuple(avoid), step, interval, last)
        except PortregError as exc:
            raise PortregError(f"{self.source}: {exc.message}") from None
        return Policy(rng[0], rng[1], tuple(avoid), step, interval, last, (lease[0], lease[1]))

    def service(self, sid: str, raw: Any) -> Service:
        return self._plain_service(sid, raw) or self._service(sid, raw)

    def _plain_service(self, sid: str, raw: Any) -> Service | None:
        """The common service (strings and ports only) read without building any message:
        at 2,000 services this is most of a read. None sends anything else, or anything wrong,
        to `_service`, which names the problem."""
        if type(raw) is not dict or not _PLAIN_KEYS.isdisjoint(raw):
            return None
        ports_raw = raw.get("ports", {})
        if type(ports_raw) is not dict:
            return None
        ports: dict[str, int | None] = {}
        for env, p in ports_raw.items():
            if type(p) is int and PORT_MIN <= p <= PORT_MAX:
                ports[env] = p
            elif p == TBD:
                ports[env] = None
            else:
                return None
        get = raw.get
        name, protocol = get("name", sid), get("protocol", "tcp")
        status, transport = get("status", "active"), get("transport", "tcp")
        if (
            type(name) is not str
            or type(protocol) is not str
            or type(status) is not str
            or type(transport) is not str
            or status not in STATUSES
            or transport not in ("tcp", "udp")
        ):
            return None
        strings = {key: get(key, "") for key in _STRING_KEYS}
        if any(type(v) is not str for v in strings.values()):
            return None
        # A control character goes to `_service`, which refuses it as every other door does
        # (skipping that let an imported NUL reach PostgreSQL: 503 instead of 400).
        if any(map(_CONTROL_CHAR.search, (name, protocol, *strings.values()))):
            return None
        return Service(
            id=sid,
            name=name,
            ports=ports,
            protocol=protocol,
            transport=transport,
            status=status,
            forced=bool(get("forced", False)),
            **strings,
        )

    def _service(self, sid: str, raw: Any) -> Service:
        where = f"services.{sid}"
        if not isinstance(raw, dict):
            raise self.fail(where, "expected a table")
        ports, width = self.ports(raw.get("ports", {}), f"{where}.ports")
        bindings = raw.get("bindings", [])
        if not isinstance(bindings, list) or not all(isinstance(b, str) for b in bindings):
            raise self.fail(f"{where}.bindings", "expected a list of FILE:PLACE strings")
        status = self.string(raw, "status", where, "active")
        if status not in STATUSES:
            raise self.fail(f"{where}.status", f"unknown status {status!r} ({', '.join(STATUSES)})")
        transport = self.string(raw, "transport", where, "tcp")
        if transport not in TRANSPORT_VALUES:
            raise self.fail(
                f"{where}.transport", f"expected tcp, udp or tcp+udp, got {transport!r}"
            )
        conns = raw.get("connection_strings", {})
        if not isinstance(conns, dict):
            raise self.fail(f"{where}.connection_strings", "expected a table of VAR = url")
        config = raw.get("configuration", [])
        if not isinstance(config, list):
            raise self.fail(f"{where}.configuration", "expected an array of tables")
        deps = raw.get("depends_on", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise self.fail(f"{where}.depends_on", "expected a list of service ids")
        container = raw.get("container_port")
        strings = {
            name: self.string(raw, name, where)
            for name in (
                "notes",
                "description",
                "process",
                "deployment",
                "health_check",
                "tls",
                "connections",
                "purpose",
                "compose_service",
                "host",
            )
        }
        try:
            validate.host(strings["host"])
        except PortregError as exc:
            raise self.fail(f"{where}.host", exc.message) from None
        return Service(
            id=sid,
            name=self.string(raw, "name", where, sid),
            ports=ports,
            protocol=self.string(raw, "protocol", where, "tcp"),
            transport=transport,
            status=status,
            configuration=tuple(
                CodeBlock(
                    self.string(c, "lang", f"{where}.configuration"),
                    self.string(c, "text", f"{where}.configuration"),
                )
                for c in config
            ),
            connection_strings=tuple(
                ConnectionString(k, self.string(conns, k, f"{where}.connection_strings"))
                for k in conns
            ),
            depends_on=tuple(deps),
            container_port=None
            if container is None
            else self.port(container, f"{where}.container_port"),
            forced=bool(raw.get("forced", False)),
            width=width,
            bindings=tuple(bindings),
            **strings,
        )

    def moment(self, value: object, where: str) -> datetime:
        if not isinstance(value, date):
            raise self.fail(where, f"expected a date-time like 2026-01-29T06:23:34, got {value!r}")
        return _naive_utc(value)

    def change(self, i: int, raw: Any) -> ChangeEntry:
        where = f"changes[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("at"), datetime):
            raise self.fail(where, "expected a table with an `at` date-time")
        return ChangeEntry(
            at=_naive_utc(raw["at"]),
            who=self.string(raw, "who", where),
            action=self.string(raw, "action", where),
            service=self.string(raw, "service", where),
            environment=self.string(raw, "environment", where),
            old_port=self.port(raw.get("old", TBD), f"{where}.old"),
            new_port=self.port(raw.get("new", TBD), f"{where}.new"),
            reason=self.string(raw, "reason", where),
        )


_STRING_KEYS = (
    "notes",
    "description",
    "process",
    "deployment",
    "health_check",
    "tls",
    "connections",
    "purpose",
    "compose_service",
)
# Keys whose values `_Reader._plain_service` leaves to the full reader (which also checks a
# host's name: the fast path once dropped `host`, so a re-read moved every service to the
# default host and two hosts' same port became a duplicate).
_PLAIN_KEYS = frozenset(
    {"connection_strings", "configuration", "depends_on", "container_port", "bindings", "host"}
)


def _naive_utc(value: object) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        moment: datetime = value.replace(microsecond=0)
        return moment
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise TypeError(f"expected a date-time, got {value!r}")


# --- writing -----------------------------------------------------------------------------------


def to_data(registry: Registry) -> dict[str, Any]:
    """The registry as plain TOML-able data; defaults and empty values are left out."""
    meta: dict[str, Any] = {"project": registry.project, "title": registry.title}
    if registry.purpose:
        meta["purpose"] = registry.purpose
    if registry.host:
        meta["host"] = registry.host
    if registry.last_updated is not None:
        meta["last_updated"] = registry.last_updated
    p = registry.policy
    policy: dict[str, Any] = {
        "range": [p.range_start, p.range_end],
        "avoid": list(p.avoid),
        "step": p.step,
        "audit_interval_days": p.audit_interval_days,
    }
    if p.lease_range != DEFAULT_LEASE_RANGE:
        policy["lease_range"] = list(p.lease_range)
    if p.last_audit is not None:
        policy["last_audit"] = p.last_audit
    data: dict[str, Any] = {
        "registry": meta,
        "policy": policy,
        "services": _services_data(registry),
    }
    sync: dict[str, Any] = {}
    if registry.page:
        sync["page"] = registry.page
    if registry.exclude:
        sync["exclude"] = list(registry.exclude)
    if sync:
        data["sync"] = sync
    if registry.extra_sections:
        data["sections"] = [{"heading": s.heading, "body": s.body} for s in registry.extra_sections]
    if registry.changes:
        data["changes"] = [_change_data(c) for c in registry.changes]
    return data


_SERVICE_ORDER = (
    "name",
    "status",
    "protocol",
    "transport",
    "host",
    "ports",
    "notes",
    "description",
    "process",
    "deployment",
    "health_check",
    "tls",
    "connections",
    "purpose",
    "depends_on",
    "compose_service",
    "container_port",
    "forced",
    "bindings",
    "connection_strings",
    "configuration",
)


# What a named port never takes from its service's table: the port itself and its records.
_OWN_KEYS = frozenset({"port", "ports", "bindings", "forced", "container_port"})


def _services_data(registry: Registry) -> dict[str, Any]:
    """`[services.<id>]` tables, each named port (`kong:https`) as `[services.kong.port.https]`
    holding only what differs from its service."""
    out: dict[str, Any] = {}
    for s in registry.services.values():
        if s.port_name is None:
            out[s.id] = _service_data(s)
    for s in registry.services.values():
        if s.port_name is None:
            continue
        if s.base not in out:  # a named port whose service was never written: give it one
            out[s.base] = _service_data(
                replace(s, id=s.base, ports={}, bindings=(), width=1, forced=False)
            )
        parent = out[s.base]
        own = _service_data(s)
        diff = {k: v for k, v in own.items() if k in _OWN_KEYS or k not in parent or parent[k] != v}
        parent.setdefault("port", {})[s.port_name] = diff
    return out


def _port_value(p: int | None, width: int) -> int | str:
    if p is None:
        return TBD
    return p if width == 1 else f"{p}-{p + width - 1}"


def _service_data(s: Service) -> dict[str, Any]:
    out: dict[str, Any] = {}
    defaults = {f.name: f.default for f in fields(Service) if isinstance(f.default, str | bool)}
    for key in _SERVICE_ORDER:
        if key == "ports":
            out["ports"] = {env: _port_value(p, s.width) for env, p in s.ports.items()}
        elif key == "depends_on":
            if s.depends_on:
                out[key] = list(s.depends_on)
        elif key == "bindings":
            if s.bindings:
                out[key] = list(s.bindings)
        elif key == "container_port":
            if s.container_port is not None:
                out[key] = s.container_port
        elif key == "connection_strings":
            if s.connection_strings:
                out[key] = {c.env_var: c.template for c in s.connection_strings}
        elif key == "configuration":
            if s.configuration:
                out[key] = [{"lang": c.lang, "text": c.text} for c in s.configuration]
        else:
            value = getattr(s, key)
            # name and status are always written, so a reader of the file never guesses.
            if key in ("name", "status", "protocol", "transport") or value != defaults.get(key):
                out[key] = value
    return out


def _change_data(c: ChangeEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"at": c.at, "who": c.who, "action": c.action, "service": c.service}
    if c.environment:
        out["environment"] = c.environment
    out["old"] = TBD if c.old_port is None else c.old_port
    out["new"] = TBD if c.new_port is None else c.new_port
    if c.reason:
        out["reason"] = c.reason
    return out


def dumps(registry: Registry, previous: str | None = None) -> str:
    """The TOML text of `registry`, edited into `previous` when given so its layout survives."""
    import tomlkit

    doc = tomlkit.parse(previous) if previous else tomlkit.document()
    if not previous:
        for line in _HEADER.splitlines():
            doc.add(tomlkit.comment(line.removeprefix("# ")))
        doc.add(tomlkit.nl())
    _merge(doc, to_data(registry), top=True)
    return doc.as_string()


_TOP_LEVEL = frozenset({"registry", "policy", "services", "sync", "sections", "changes"})


def _merge(target: Any, new: Mapping[str, Any], top: bool = False) -> None:
    """Make tomlkit container `target` hold `new`, touching only keys whose values changed.

    At the top level a table portreg does not know (`[tool.x]`) is someone else's and stays.
    """
    for key in [k for k in target if k not in new and (not top or k in _TOP_LEVEL)]:
        del target[key]
    for key, value in new.items():
        if key in target:
            old = target[key]
            if _plain(old) == value:
                continue
            if isinstance(value, dict) and hasattr(old, "items"):
                _merge(old, value)
                continue
            if isinstance(value, list) and _is_table_list(value) and isinstance(old, list):
                old_plain = _plain(old)
                if value[: len(old_plain)] == old_plain:
                    for item in value[len(old_plain) :]:
                        table = _item(item)
                        table.trivia.indent = "\n"  # a blank line before each new entry
                        old.append(table)
                    continue
        target[key] = _item(value, key)


_BAD_ID = re.compile(r"[\s/?#%:\x00-\x1f\x7f-\x9f]")
# The characters `_control` refuses, as one pattern for the plain-service fast path.
_CONTROL_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _control(c: str) -> bool:
    code = ord(c)
    return (code < 32 and c not in "\t\n\r") or 127 <= code < 160


def _literal_ok(value: str) -> bool:
    """Whether a multi-line literal string can hold `value` (TOML allows no control
    characters there; a basic string escapes them, so the export never fails)."""
    return not any((ord(c) < 32 and c not in "\t\n") or ord(c) == 127 for c in value)


def _is_table_list(value: list[Any]) -> bool:
    return bool(value) and all(isinstance(v, dict) for v in value)


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


def _item(value: Any, key: str = "") -> Any:
    import tomlkit

    if isinstance(value, dict):
        if key in ("ports", "connection_strings"):
            table: Any = tomlkit.inline_table()
            table.update(value)
            return table
        # [services] itself carries no keys: only its [services.<id>] sub-tables are written.
        out = tomlkit.table(is_super_table=key in ("services", "port") and bool(value))
        for k, v in value.items():
            out.add(k, _item(v, k))
        return out
    if isinstance(value, list) and _is_table_list(value):
        aot = tomlkit.aot()
        for v in value:
            aot.append(_item(v))
        return aot
    if isinstance(value, str) and "\n" in value and "'''" not in value and _literal_ok(value):
        return tomlkit.string(value, literal=True, multiline=True)
    return tomlkit.item(value)


# --- transactions ------------------------------------------------------------------------------


def mutate(path: Path, change: Callable[[Registry], tuple[Registry, T]]) -> T:
    """Read, change and write the registry under the lock; write only if something changed."""
    from portreg import regcache

    with locked(path):
        _sweep_temp_files(path)
        text, data, before = regcache.read_parsed(
            path, read_text, lambda t: _toml(t, str(path)), _Reader(str(path)).registry
        )
        after, result = change(before)
        if after != before:
            appended = _appended(text, data, before, after)
            if appended is None:
                write(path, dumps(after, previous=text))
            else:
                new_text, new_data = appended
                write(path, new_text)
                regcache.remember(path, new_text, new_data)
        return result


def _appended(
    text: str, data: dict[str, Any], before: Registry, after: Registry
) -> tuple[str, dict[str, Any]] | None:
    """The new text and its parse when `after` only adds services and change-log entries
    (and moves last_updated): the text edit of `portreg.tomlappend`, same bytes as `dumps`."""
    old, new = before.services, after.services
    if len(new) <= len(old) and len(after.changes) <= len(before.changes):
        return None
    if (
        after.changes[: len(before.changes)] != before.changes
        or list(new)[: len(old)] != list(old)
        or any(new[k] is not s and new[k] != s for k, s in old.items())
        or replace(after, services=old, changes=before.changes, last_updated=None)
        != replace(before, last_updated=None)
    ):
        return None
    from portreg import tomlappend

    added = list(new.items())[len(old) :]
    if any(s.port_name is not None or s.width != 1 for _, s in added):
        return None  # a named port is written inside its service's table: tomlkit's path
    services = {k: _service_data(s) for k, s in added}
    changes = [_change_data(c) for c in after.changes[len(before.changes) :]]
    moved = after.last_updated if after.last_updated != before.last_updated else None
    new_text = tomlappend.edit(text, services, changes, moved)
    if new_text is None:
        return None
    data["services"].update(services)  # present: tomlappend found [services] tables
    if changes:
        data["changes"].extend(changes)  # present: tomlappend appends only to a change log
    if moved is not None:
        data["registry"]["last_updated"] = moved
    return new_text, data


def _sweep_temp_files(path: Path) -> None:
    """Remove temp files of writers killed before their `os.replace`.

    Called under the lock, so no live writer owns one of them.
    """
    path = _target(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def create(path: Path, registry: Registry) -> None:
    """Write a new registry; refuses to overwrite one that exists."""
    with locked(path):
        if path.exists():
            raise PortregError(f"{path} already exists")
        write(path, dumps(registry))


def now() -> datetime:
    """The time stamps of the change log: UTC, whole seconds, naive (as the seed writes them)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
