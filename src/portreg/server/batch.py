"""SQLite assignments in batches, on one writer thread with a plain `sqlite3` connection.

SQLite takes one writer at a time anyway, so a worker gains nothing from many concurrent write
transactions: each costs a `BEGIN IMMEDIATE`, a commit and a dozen thread round trips through
aiosqlite. Here the requests that arrive while a batch is being written queue up, and the next
batch takes them all in one transaction: read the policy, the taken ports and the host's live
ports once, then pick each request's port with the core's rules (`policy.first_free`,
`naming.new_id`, `validate`), in arrival order, so the answers are exactly those one-at-a-time
transactions would have given. Each request runs in a SAVEPOINT: a refusal (a full range, a bad
name) fails that request alone. The UNIQUE constraint on (host, transport, port) stays the last
word; `BEGIN IMMEDIATE` keeps batches of several workers or processes strictly one after another.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from portreg import validate
from portreg.errors import PortregError
from portreg.model import ChangeEntry, Policy, Service, service_id
from portreg.naming import claim, new_id
from portreg.policy import first_free
from portreg.records import row
from portreg.server.codec import (
    change_dict,
    own_ports,
    policy_from,
    service_data,
    service_from,
    utcnow,
)
from portreg.server.writes import Written

MAX_BATCH = 256
_AT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DATETIME text on SQLite, so its reads parse it


@dataclass(frozen=True, slots=True)
class Request:
    """One queued assignment, answered when its batch commits."""

    ref: str
    environment: str
    who: str
    protocol: str | None
    transport: str | None
    reason: str


class SqliteAssigner:
    """One per worker: queues `assign` requests and writes them in batches."""

    def __init__(self, path: Path, *, check_host: bool) -> None:
        self.path = path
        self.check_host = check_host
        self._db: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="portreg-sqlite-writer")
        self._queue: list[tuple[Request, asyncio.Future[Written]]] = []
        self._draining = False
        self.batches = 0

    async def assign(self, request: Request) -> Written:
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    results = await loop.run_in_executor(
                        self._thread, self._write, [r for r, _ in batch]
                    )
                except BaseException as exc:  # the whole batch failed (database down, …)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining = False

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._db is not None:
            self._db.close()

    # --- the writer thread -----------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON",
                           "synchronous=NORMAL"):  # fmt: skip
                db.execute(f"PRAGMA {pragma}")
            self._db = db
        return self._db

    def _policy(self, db: sqlite3.Connection) -> Policy:
        found = db.execute("SELECT value FROM meta WHERE key = 'policy'").fetchone()
        if found is None:
            raise PortregError("the registry has no policy (the server writes it at start-up)")
        return policy_from(json.loads(found[0]))

    def _live(self, policy: Policy) -> set[int]:
        if not self.check_host:
            return set()
        from portreg.server.hostcheck import scan_blocking

        return scan_blocking((policy.range_start, policy.range_end))

    def _write(self, requests: list[Request]) -> list[Written | BaseException]:
        db = self._connection()
        # The host is read before the write lock is taken (a scan can take milliseconds on a
        # busy host); a policy whose range changed meanwhile is scanned again under the lock.
        scanned = self._policy(db)
        live = self._live(scanned)
        db.execute("BEGIN IMMEDIATE")
        try:
            policy = self._policy(db)
            if (policy.range_start, policy.range_end) != (scanned.range_start, scanned.range_end):
                live = self._live(policy)
            results = self._batch(db, requests, policy, live)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.batches += 1
        return results

    def _batch(
        self, db: sqlite3.Connection, requests: list[Request], policy: Policy, live: set[int]
    ) -> list[Written | BaseException]:
        # The default host's taken ports; a service on a named host is picked for in `_one`.
        taken = {
            p
            for (p,) in db.execute(
                "SELECT port FROM assignments WHERE port BETWEEN ? AND ? AND host = ''",
                (policy.range_start, policy.range_end),
            )
        }
        out: list[Written | BaseException] = []
        for i, request in enumerate(requests):
            db.execute(f"SAVEPOINT r{i}")
            try:
                written = self._one(db, request, policy, taken | live)
            except (PortregError, sqlite3.IntegrityError) as exc:
                db.execute(f"ROLLBACK TO r{i}")
                db.execute(f"RELEASE r{i}")
                out.append(
                    exc
                    if isinstance(exc, PortregError)
                    else PortregError("the port was taken concurrently; try again")
                )
                continue
            db.execute(f"RELEASE r{i}")
            if written.created and not written.host:
                taken.add(written.body["port"])
            out.append(written)
        return out

    def _one(
        self, db: sqlite3.Connection, r: Request, policy: Policy, blocked: set[int]
    ) -> Written:
        validate.environment(r.environment)
        sid = service_id(r.ref)
        existing = self._service(db, r.ref, sid)
        if existing is not None and existing.ports.get(r.environment) is not None:
            port = existing.ports[r.environment]
            body = {"service": existing.id, "environment": r.environment, "port": port,
                    "created": False}  # fmt: skip
            return Written(body)
        if existing is None:
            sid = new_id(r.ref)
        host = existing.host if existing is not None else ""
        if host:  # a named host: its registrations and what its agent reported, not ours
            blocked = {
                p
                for (p,) in db.execute(
                    "SELECT port FROM assignments WHERE host = ? AND port IS NOT NULL "
                    "UNION SELECT port FROM host_ports WHERE host = ?",
                    (host, host),
                )
            }
        port = first_free(policy, blocked)
        if existing is None:
            service = Service(
                id=sid,
                name=r.ref,
                ports={r.environment: port},
                protocol=r.protocol or r.transport or "tcp",
                transport=r.transport or "tcp",
            )
            seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM services").fetchone()[0]
            db.execute(
                "INSERT INTO services (id, seq, name, protocol, transport, status, notes, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sid, seq, service.name, service.protocol, service.transport, service.status,
                 service.notes, service_data(service)),
            )  # fmt: skip
            self._insert_port(db, service, r.environment, host, port, 0)
        else:
            service = existing.with_port(r.environment, port)
            if r.environment in existing.ports:
                db.execute(
                    "UPDATE assignments SET port = ? WHERE service_id = ? AND environment = ?",
                    (port, existing.id, r.environment),
                )
            else:
                self._insert_port(db, existing, r.environment, host, port, len(existing.ports))
        at = utcnow()
        entry = ChangeEntry(at, r.who, "assign", service.id, r.environment, None, port, r.reason)
        cur = db.execute(
            "INSERT INTO changes (at, who, action, service, environment, old_port, new_port, "
            "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (at.strftime(_AT), entry.who, entry.action, entry.service, entry.environment, None,
             port, entry.reason),
        )  # fmt: skip
        cid = int(cur.lastrowid or 0)
        payload = {**change_dict(cid, entry), "row": row(service, r.environment)}
        text = json.dumps(payload, separators=(",", ":"), default=str)
        db.execute("INSERT INTO events (id, at, payload) VALUES (?, ?, ?)",
                   (cid, at.strftime(_AT), text))  # fmt: skip
        body = {"service": service.id, "environment": r.environment, "port": port,
                "created": True}  # fmt: skip
        return Written(body, [(cid, text)], created=True, host=host)

    @staticmethod
    def _insert_port(
        db: sqlite3.Connection, s: Service, env: str, host: str, port: int, seq: int
    ) -> None:
        db.execute(
            "INSERT INTO assignments (service_id, environment, host, transport, port, seq) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (s.id, env, host, s.transport, port, seq),
        )

    @staticmethod
    def _service(db: sqlite3.Connection, ref: str, sid: str) -> Service | None:
        found = db.execute(
            "SELECT * FROM services WHERE id IN (?, ?) ORDER BY id = ? DESC LIMIT 1",
            (ref, sid, ref),
        ).fetchone()
        if found is None:
            return None
        ports = own_ports(
            db.execute(
                "SELECT environment, port FROM assignments WHERE service_id = ? ORDER BY seq, id",
                (found["id"],),
            ).fetchall()
        )
        service = service_from(SimpleNamespace(**dict(found)), ports)
        return service if service.id == ref else claim(ref, service)


def for_settings(url: str, *, check_host: bool) -> Any:
    """The batched assigner for a SQLite database file, or None (PostgreSQL, `:memory:`)."""
    if not url.startswith("sqlite"):
        return None
    from portreg.server.db import sqlite_path

    path = sqlite_path(url)
    return None if path is None else SqliteAssigner(path, check_host=check_host)
