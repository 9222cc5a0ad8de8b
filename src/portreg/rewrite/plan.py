"""Which slot belongs to which service, what every file should say, and writing it all or nothing.

Binding a slot to a service, in order of trust:
1. recorded in the registry: an env key listed in a service's `connection_strings`, a compose
   service named by a service's `compose_service`;
2. by name: the env key's stem (`POSTGRES_PORT` → postgres, `API_URL` → api), the URL's scheme
   (`postgresql+asyncpg://` → postgres) or the compose service's name, matched against service
   ids, names and protocols (`postgres` ↔ `postgresql`, `api` ↔ `api-server`) — only when exactly
   one service matches, and never for a port on the avoid list (`POSTGRES_PORT=5432` is the
   container's own port, not ours);
3. by port: the slot's number is the port a service has in the file's environment.

`move` learns from (3): a compose service or env key found only by its port is recorded in the
registry, so after the port changes the next `sync` still knows whose it is.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from portreg.errors import PortregError
from portreg.model import END, ConnectionString, Registry, Service, service_id
from portreg.protocols import canonical
from portreg.rewrite import (
    Slot,
    environment_of,
    line_body,
    split_lines,
)
from portreg.rewrite.cleancache import COMPOSE, ENV, Selector, candidates, names_in

_GENERIC_PROTOCOLS = frozenset({"", "tcp", "udp", "http", "https"})
_KEY_SUFFIX = re.compile(
    r"_(?:PORT|URL|URI|DSN|ADDR|ADDRESS|HOST|ENDPOINT|SERVER|CONN|CONNECTION)(?:_.*)?$",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9]+)?://")


# --- binding -----------------------------------------------------------------------------------


class Names:
    """The registry's names for its services, indexed once: many slots ask the same questions."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.by_compose: dict[str, set[str]] = {}
        self.by_exact: dict[str, set[str]] = {}
        self.by_kind: dict[str, set[str]] = {}
        self.by_env_var: dict[str, set[str]] = {}
        self.by_compose_raw: dict[str, set[str]] = {}
        for s in registry.services.values():
            if s.compose_service:
                self.by_compose.setdefault(service_id(s.compose_service), set()).add(s.id)
                self.by_compose_raw.setdefault(s.compose_service, set()).add(s.id)
            self.by_exact.setdefault(s.id, set()).add(s.id)
            self.by_exact.setdefault(service_id(s.name), set()).add(s.id)
            proto = service_id(s.protocol)
            proto = canonical(proto)
            if proto not in _GENERIC_PROTOCOLS:
                self.by_kind.setdefault(proto, set()).add(s.id)
            for c in s.connection_strings:
                self.by_env_var.setdefault(c.env_var, set()).add(s.id)
        self.ids = list(registry.services)
        self._memo: dict[str, str | None] = {}

    def match(self, raw: str) -> str | None:
        """The one service a name (compose service, env key stem, URL scheme) refers to."""
        if raw not in self._memo:
            self._memo[raw] = self._match(service_id(raw))
        return self._memo[raw]

    def _match(self, n: str) -> str | None:
        if not n:
            return None
        for index in (self.by_compose, self.by_exact):
            hits = index.get(n)
            if hits:
                if len(hits) == 1:
                    return next(iter(hits))
                # `api` beside its second published port `api-9000`: the one named exactly
                return n if n in hits else None
        found = set(self.by_kind.get(canonical(n), ()))
        if len(n) >= 3:
            found.update(i for i in self.ids if i.startswith(n) or n.startswith(i))
        return found.pop() if len(found) == 1 else None


def match_name(registry: Registry, raw: str) -> str | None:
    """The one service a name refers to, if exactly one does (see `Names`)."""
    return Names(registry).match(raw)


@dataclass(frozen=True, slots=True)
class Binding:
    """A slot and the service it belongs to, with how that was decided."""

    slot: Slot
    service: str | None
    how: str  # recorded | name | port | ""
    end: bool = False  # the slot carries the last port of the service's range

    def port(self, first: int, width: int) -> int:
        """What the slot should say when the registration starts at `first`."""
        return first + width - 1 if self.end else first


def _env_by_name(names: Names, slot: Slot) -> tuple[str | None, str]:
    key = slot.owners[0]
    recorded = names.by_env_var.get(key, set())
    if len(recorded) == 1:
        return next(iter(recorded)), "recorded"
    stem = _KEY_SUFFIX.sub("", key)
    sid = names.match(stem) if stem and stem != key else None
    if sid is None:
        m = _SCHEME.match(slot.value)
        if m is not None and m.group("scheme").lower() not in ("http", "https", "ws", "wss"):
            sid = names.match(m.group("scheme"))
    return sid, "name"


def _compose_by_name(names: Names, slot: Slot) -> tuple[str | None, str]:
    recorded = {sid for owner in slot.owners for sid in names.by_compose_raw.get(owner, ())}
    if recorded:
        return (recorded.pop(), "recorded") if len(recorded) == 1 else (None, "")
    named = {names.match(owner) for owner in slot.owners}
    return (named.pop(), "name") if len(named) == 1 else (None, "")


class Recorded:
    """The places import recorded for each registration (`Service.bindings`), indexed."""

    def __init__(self, registry: Registry) -> None:
        self.env: dict[str, set[str]] = {}
        self.compose: dict[tuple[str, str], set[str]] = {}
        self.registry = registry
        self.ends: set[str] = set()
        self.keyed: set[str] = set()  # ids with a `.env` key recorded
        for s in registry.services.values():
            for b in s.bindings:
                if b.startswith("$"):
                    key = b[1:].removesuffix(END)
                    self.env.setdefault(key, set()).add(s.id)
                    self.keyed.add(s.id)
                    if b.endswith(END):
                        self.ends.add(key)
                else:
                    path, _, owner = b.rpartition(":")
                    self.compose.setdefault((path, owner), set()).add(s.id)

    def owner(self, slot: Slot) -> str | None:
        if slot.kind == "env":
            ids = self.env.get(slot.owners[0], set())
            return next(iter(ids)) if len(ids) == 1 else None
        if slot.kind != "compose":
            return None
        ids = {sid for o in slot.owners for sid in self.compose.get((slot.path, o), ())}
        # The entry's container port says which of a service's ports it is (and that an entry
        # import did not record, `${OPT-7070}:82` with OPT set empty, is none of them).
        ids = {
            i
            for i in ids
            if self.registry.services[i].container_port is None
            or str(self.registry.services[i].container_port) == slot.value
        }
        return next(iter(ids)) if len(ids) == 1 else None

    def places(self, sid: str) -> list[str]:
        """The compose places recorded for `sid` (a `.env` key may rightly be in no file)."""
        return [b for b in self.registry.services[sid].bindings if not b.startswith("$")]


def bind_all(registry: Registry, slots: list[Slot]) -> list[Binding]:
    """Each slot with the service it belongs to (or None), by the rules in the module doc."""
    per_line: dict[tuple[str, int], int] = {}
    per_owner: dict[tuple[str, str], int] = {}
    for s in slots:
        per_line[s.path, s.line] = per_line.get((s.path, s.line), 0) + 1
        if s.kind == "compose":
            for o in s.owners:
                per_owner[s.path, o] = per_owner.get((s.path, o), 0) + 1
    avoid = set(registry.policy.avoid)
    names = Names(registry)
    holders: dict[tuple[int, str], set[str]] = {}
    recorded = Recorded(registry)
    for svc in registry.services.values():
        for env, p in svc.assigned():
            holders.setdefault((p, env), set()).add(svc.id)
    out: list[Binding] = []
    for slot in slots:
        sid: str | None = recorded.owner(slot)
        how = "recorded" if sid is not None else ""
        if how:
            end = slot.kind == "env" and slot.owners[0] in recorded.ends
            out.append(Binding(slot, sid, how, end))
            continue
        if slot.kind == "env" and per_line[slot.path, slot.line] == 1:
            sid, how = _env_by_name(names, slot)
            if sid is not None and sid in recorded.keyed:
                # Import read this service's keys and this one was not among them (it said
                # why: `JIGASI_PORT_MAX` beside the recorded `_MIN`, a container's `PORT`).
                sid = None
        elif slot.kind == "compose":
            sid, how = _compose_by_name(names, slot)
            if sid is not None:
                # only the entry of its container port (a service may publish several, and an
                # entry import left unrecorded is none of its own)
                cport = registry.services[sid].container_port
                several = any(per_owner[slot.path, o] > 1 for o in slot.owners)
                if (cport is None and several) or (
                    cport is not None and slot.value.partition("-")[0] != str(cport)
                ):
                    sid = None
        if sid is not None and how != "recorded" and slot.port in avoid:
            sid = None
        if sid is None:
            sid = _by_port(slot, holders.get((slot.port, slot.environment), set()), names, recorded)
            how = "port" if sid is not None else ""
        out.append(Binding(slot, sid, how))
    return out


def _by_port(slot: Slot, ids: set[str], names: Names, recorded: Recorded) -> str | None:
    """The slot's service when only its port tells: the port's one holder, or, on a table row
    where several services share the number (three DNS servers on 53), the holder the row
    names. A compose entry is never bound by port to a service whose compose places import
    recorded elsewhere: it is another service publishing the same number (the clash import
    warned about), and moving the recorded one must leave it alone. Nor is a `.env` key bound
    by port to a service whose places import recorded: import read that file and did not make
    the key one of them (a container-side `SSRF_HTTP_PORT`, a URL to a compose service by
    name), so the same number there is not this port."""
    if len(ids) > 1 and slot.kind == "markdown":
        named = names.match(slot.owners[0]) if slot.owners else None
        ids = {named} if named in ids else set()
    if len(ids) != 1:
        return None
    sid = next(iter(ids))
    if slot.kind == "compose":
        places = recorded.places(sid)
        if places and not any(_same_project_service(p, slot) for p in places):
            return None
    if slot.kind == "env" and recorded.registry.services[sid].bindings:
        return None  # its recorded keys were bound above, as "recorded"
    return sid


def _same_project_service(place: str, slot: Slot) -> bool:
    """Whether a recorded `FILE:SERVICE` place is the slot's compose service: the same file,
    or another file of the same directory (a base file and its override merge their
    `ports:`, so a port both publish is one port, moved in both)."""
    import posixpath

    path, _, owner = place.rpartition(":")
    return owner in slot.owners and (
        path == slot.path or posixpath.dirname(path) == posixpath.dirname(slot.path)
    )


def learn(registry: Registry, sid: str, bindings: list[Binding]) -> Service:
    """The service with the files' names for it recorded (those only its port told)."""
    from portreg.rewrite.envfile import template

    s = registry.services[sid]
    for b in bindings:
        if b.service != sid or b.how != "port":
            continue
        slot = b.slot
        if slot.kind == "compose" and not s.compose_service and len(slot.owners) == 1:
            owner = slot.owners[0]
            if service_id(owner) != sid:
                s = replace(s, compose_service=owner)
        elif (
            slot.kind == "env"
            and not slot.value.isdigit()
            and all(c.env_var != slot.owners[0] for c in s.connection_strings)
        ):
            conn = ConnectionString(slot.owners[0], template(slot))
            s = replace(s, connection_strings=(*s.connection_strings, conn))
    return s


# --- scanning the repository -------------------------------------------------------------------


@dataclass
class Scan:
    """The files portreg rewrites, their text, and the slots found in them."""

    root: Path
    texts: dict[str, str] = field(default_factory=dict)
    slots: list[Slot] = field(default_factory=list)
    marked: list[str] = field(default_factory=list)  # files with portreg:begin markers
    pages: list[str] = field(default_factory=list)  # generated registry pages
    created: list[str] = field(default_factory=list)  # pages that do not exist yet
    selector: Selector | None = None  # which files were read, and why (for the clean cache)
    fingerprint: bytes = b""  # digest of every file read, in order


def scan(root: Path, registry: Registry | None, files: list[str] | None = None) -> Scan:
    """Read every `.env*`, compose and Markdown file under `root` and find what sync owns.

    A compose file that is not valid YAML raises PortregError naming it: nothing is written.
    """
    from portreg.importers.compose import container_env_files
    from portreg.rewrite import compose, envfile, repo
    from portreg.rewrite.cleancache import Fingerprint
    from portreg.rewrite.markdown import MARKER, blocks, is_page, table_slots

    exclude = registry.exclude if registry is not None else ()
    names = names_in(root, exclude, files)
    envs = registry.environments() if registry is not None else []
    # A registry that names its page owns that file alone (created when missing); otherwise
    # every Markdown file that reads as a page with this registry's title is one.
    page_path = _page_path(root, registry.page) if registry is not None else ""
    recorded = Recorded(registry if registry is not None else Registry())
    bound = frozenset(recorded.env)
    selector = Selector(exclude, page_path, (path for path, _owner in recorded.compose))
    out = Scan(root, selector=selector)
    container_env: set[str] = set()
    reader = repo.Reader(root)
    seen = Fingerprint()
    for rel, kind in candidates(names, selector):
        data = reader.read(rel)  # refuses a file that resolves outside `root`
        seen.add(rel, data)
        if rel == page_path and data is None:  # the page, to be created
            out.texts[rel] = ""
            out.pages.append(rel)
            out.created.append(rel)
            continue
        text = repo.decode(data)
        if text is None:
            continue
        if kind == ENV:
            found = envfile.slots(text, rel, environment_of(rel, envs), bound)
        elif kind == COMPOSE:
            found = compose.slots(text, rel, environment_of(rel, envs))
            container_env |= container_env_files(text, rel)
        else:
            found = []
            marked = MARKER in text
            if page_path:
                page = rel == page_path
            else:
                page = is_page(text, None if registry is None else registry.title)
            if page:
                out.pages.append(rel)
            else:
                if marked:
                    blocks(text, rel)  # validate now: an unclosed marker stops the plan
                    out.marked.append(rel)
                # hand-kept port tables (outside the marked blocks): rewritten by `move`
                found = table_slots(text, rel, envs) if "|" in text else []
                if not (marked or found):
                    continue
        out.texts[rel] = text
        out.slots.extend(found)
    # A bare port in a compose `env_file:` is the container's (import records none): no
    # rule may bind it to the host port a service publishes.
    out.slots = [
        s
        for s in out.slots
        if not (s.kind == "env" and s.path in container_env and s.value.strip().isdigit())
    ]
    out.fingerprint = seen.value()
    return out


def _page_path(root: Path, page: str) -> str:
    """`[sync] page` relative to `root`; refused (before anything is created) when it leaves it."""
    import os

    from portreg.rewrite.confine import inside

    page = page.rstrip("/")
    if not page:
        return ""
    inside(root, page)
    if os.path.isabs(page):  # an absolute path inside the repository: name it as relative
        page = os.path.relpath(page, os.path.realpath(root))
    return page.replace(os.sep, "/")


# --- what the files should say -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file's text before and after a change."""

    path: str  # relative to the scan's root
    before: str
    after: str

    def changed_lines(self) -> list[tuple[int, str, str]]:
        """(1-based line in `before`, old text, new text) for each changed line."""
        a, b = split_lines(self.before), split_lines(self.after)
        out: list[tuple[int, str, str]] = []
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            for k in range(max(i2 - i1, j2 - j1)):
                old = line_body(a[i1 + k])[0] if i1 + k < i2 else ""
                new = line_body(b[j1 + k])[0] if j1 + k < j2 else ""
                out.append((min(i1 + k, max(i2 - 1, i1)) + 1, old, new))
        return out

    def diff(self) -> str:
        return "".join(
            _ensure_eol(line)
            for line in difflib.unified_diff(
                split_lines(self.before),
                split_lines(self.after),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )


def _ensure_eol(line: str) -> str:
    return line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def changes(
    found: Scan,
    bindings: list[Binding],
    port_for: Callable[[Binding], int | None],
    registry: Registry,
) -> list[FileChange]:
    """New text of every file whose slots, marked tables or page differ from `registry`."""
    from portreg import render
    from portreg.rewrite.markdown import render_blocks

    edits: dict[str, dict[int, list[tuple[Slot, int]]]] = {}
    for b in bindings:
        port = port_for(b)
        if port is not None and port != b.slot.port:
            edits.setdefault(b.slot.path, {}).setdefault(b.slot.line, []).append((b.slot, port))
    out: list[FileChange] = []
    page_text: str | None = None
    for rel, before in found.texts.items():
        after = before
        if rel in edits:
            lines = split_lines(before)
            for i, slot_edits in edits[rel].items():
                body, eol = line_body(lines[i])
                for slot, port in sorted(slot_edits, key=lambda e: e[0].token.start, reverse=True):
                    body = slot.with_port(body, port)
                lines[i] = body + eol
            after = "".join(lines)
        if rel in found.pages:
            if page_text is None:
                page_text = render.markdown(registry)
            after = page_text
        elif rel in found.marked:
            after = render_blocks(after, rel, registry)
        if after != before:
            out.append(FileChange(rel, before, after))
    return out


def unrewritable(
    found: Scan, bindings: list[Binding], registry: Registry, sid: str, environment: str
) -> list[str]:
    """The recorded places of `sid` (in `environment`'s files that exist) where no slot with
    its port was found: a move would leave them behind."""
    from portreg.rewrite import environment_of

    envs = registry.environments()
    located = {f"{b.slot.path}:{o}" for b in bindings if b.service == sid for o in b.slot.owners}
    return [
        place
        for place in Recorded(registry).places(sid)
        if place.rpartition(":")[0] in found.texts
        and environment_of(place.rpartition(":")[0], envs) == environment
        and place not in located
    ]


def sync_changes(found: Scan, registry: Registry) -> list[FileChange]:
    """Everything that differs from the registry: each slot's service's current port."""
    return changes(found, bind_all(registry, found.slots), _registered(found, registry), registry)


def _registered(found: Scan, registry: Registry) -> Callable[[Binding], int | None]:
    """What each bound slot should say by the registry (None: the slot is not checked)."""

    # `${INNER:-6060}` whose INNER an env file of the repository sets: the default is not
    # the value in use, the env file's slot is (and is checked itself).
    keys = {slot.owners[0] for slot in found.slots if slot.kind == "env"}

    def port_for(b: Binding) -> int | None:
        if b.service is None:
            return None
        if b.slot.kind == "compose" and keys.intersection(b.slot.variables):
            return None
        s = registry.services[b.service]
        first = s.ports.get(b.slot.environment)
        return None if first is None else b.port(first, s.width)

    return port_for


# --- writing all or nothing --------------------------------------------------------------------


def _confined(root: Path, rel: str) -> Path:
    from portreg.rewrite.confine import inside

    return inside(root, rel)


def write_all(writes: list[tuple[Path, str, str | None]]) -> None:
    """Write each (path, new text, original text or None if new) with an atomic replace.

    If one write fails, the files already written get their original text back, and the
    error names the file that failed.
    `atomic_write` writes a symlink through to its target; repository files reach here already
    confined (`_confined`), so a target is inside the repository.
    """
    from portreg.store import atomic_write

    done: list[tuple[Path, str | None]] = []
    for path, text, original in writes:
        try:
            if original is None:
                path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text)
        except OSError as exc:
            for p, orig in reversed(done):
                with contextlib.suppress(OSError):
                    if orig is None:
                        p.unlink()
                    else:
                        atomic_write(p, orig)
            raise PortregError(
                f"cannot write {path}: {exc.strerror or exc}; every file was restored"
            ) from None
        done.append((path, original))


# --- the change procedure ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MoveReport:
    """What a move changed: the registration and every rewritten file."""

    service: str
    environment: str
    old: int | None
    new: int
    registry_path: str
    files: tuple[FileChange, ...]
    changed: bool = True


def move(
    registry_path: Path,
    ref: str,
    port: int,
    environment: str,
    reason: str,
    who: str,
    at: datetime,
    live: Callable[[int], set[int]],
    host: str | None = None,
) -> MoveReport:
    """Move a service to `port` in the registry and in every file, all or nothing.

    `host` also moves it to that host (`live` is then not asked: this machine cannot see
    another host's sockets).

    Runs under the registry's lock: read, check every rule (and the live host), compute every
    new file text (any failure: nothing written), then write the files and the registry last —
    the registry is the commit point; a crash before it leaves files `sync` can put back.
    """
    from portreg import ops, store

    if not reason.strip():
        raise PortregError("a move needs a reason (--reason TEXT)")
    root = registry_path.parent
    with store.locked(registry_path):
        text = store.read_text(registry_path)
        before = store.loads(text, source=str(registry_path))
        service = ops.find(before, ref)
        old = service.ports.get(environment)
        if old == port and (host is None or host == service.host):
            return MoveReport(service.id, environment, old, port, str(registry_path), (), False)
        found = scan(root, before)
        bindings = bind_all(before, found.slots)
        mine = [
            b for b in bindings if b.service == service.id and b.slot.environment == environment
        ]
        # A published range (`53510-53512:10000-10002`) moves whole (the core checks each port).
        width = max(
            (b.slot.extra.port - b.slot.port for b in mine if b.slot.extra is not None),
            default=service.width - 1,
        )
        missing = unrewritable(found, bindings, before, service.id, environment)
        if missing:
            raise PortregError(
                f"cannot move {service.id}: its port {old} is recorded in {', '.join(missing)}"
                " but not found there (edit it by hand, or `portreg import` the file again);"
                " nothing changed"
            )
        # A place that now says another number was edited by hand (or the registry was):
        # writing the new port over it would hide that, so the move waits for `sync`.
        registered = _registered(found, before)
        drifted = sorted(
            {
                f"{b.slot.path}:{b.slot.line + 1} says {b.slot.port}"
                for b in mine
                if registered(b) not in (None, b.slot.port)
            }
        )
        if drifted:
            raise PortregError(
                f"cannot move {service.id}: {'; '.join(drifted)}, not its registered port {old}"
                " (`portreg sync` puts the registered port back, `portreg import` records"
                " the file's); nothing changed"
            )
        # One line several compose services share (a `ports:` merged in from an anchor): its
        # new number would move them all, so the move is refused and the line named.
        shared = sorted(
            {
                f"{b.slot.path}:{b.slot.line + 1} ({', '.join(b.slot.owners)})"
                for b in mine
                if b.slot.kind == "compose" and len(b.slot.owners) > 1
            }
        )
        if shared:
            raise PortregError(
                f"cannot move {service.id}: {'; '.join(shared)} publishes it for several compose"
                " services through one shared line; give each its own `ports:` entry first;"
                " nothing changed"
            )
        here = not (service.host if host is None else host)
        busy = (
            {p for extra in range(port, port + width + 1) for p in live(extra)} if here else set()
        )
        stamp = ops.Stamp(who=who, at=at)
        after, _ = ops.move(
            before, ref, port, environment, stamp, reason=reason, live=busy, width=width, host=host
        )
        learned = replace(
            learn(before, service.id, bindings).with_port(environment, port),
            host=after.services[service.id].host,
        )
        if width and old is not None:  # the compose import's note names the published range
            notes = learned.notes.replace(
                f"publishes {old}-{old + width} ", f"publishes {port}-{port + width} "
            )
            learned = replace(learned, notes=notes)
        after = after.with_service(learned)

        def port_for(b: Binding) -> int | None:
            ok = b.service == service.id and b.slot.environment == environment
            # a variable's default moves only when it is the port in use
            ok = ok and (not b.slot.variables or b.slot.port == old)
            return b.port(port, width + 1) if ok else None

        files = changes(found, bindings, port_for, after)
        new_registry = store.dumps(after, previous=text)
        writes: list[tuple[Path, str, str | None]] = [
            (_confined(root, f.path), f.after, None if f.path in found.created else f.before)
            for f in files
        ]
        writes.append((registry_path, new_registry, text))
        write_all(writes)
    return MoveReport(service.id, environment, old, port, str(registry_path), tuple(files))


def sync(registry_path: Path, check: bool) -> list[FileChange]:
    """Bring every file in line with the registry (or, with `check`, only say what differs).

    A check that finds nothing to change is remembered (`cleancache`): `sync --check` asks
    `cleancache.unchanged` first and answers from that record while nothing it read changed.
    """
    from portreg import store

    root = registry_path.parent
    if check:
        try:
            before = registry_path.read_bytes()
        except OSError:
            before = None  # store.load names the problem
        registry = store.load(registry_path)
        found = scan(root, registry)
        changed = sync_changes(found, registry)
        if not changed and before is not None and found.selector is not None:
            _remember_clean(registry_path, before, found)
        return changed
    with store.locked(registry_path):
        registry = store.load(registry_path)
        found = scan(root, registry)
        files = sync_changes(found, registry)
        write_all(
            [
                (_confined(root, f.path), f.after, None if f.path in found.created else f.before)
                for f in files
            ]
        )
    return files


def _remember_clean(registry_path: Path, before: bytes, found: Scan) -> None:
    """Keep a clean verdict, if the registry read is the one still there (the scan's files
    are fingerprinted as read, so their verdict is theirs whatever happened since)."""
    from portreg.rewrite import cleancache

    try:
        unchanged = registry_path.read_bytes() == before
    except OSError:
        return
    if unchanged and found.selector is not None:
        cleancache.store(registry_path.parent, before, found.selector, found.fingerprint)
