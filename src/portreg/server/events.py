"""The change stream: stored events, fanned out to every worker's SSE clients.

Every write stores its events in the `events` table (ids commit in id order, see db.py), then
publishes them: to this worker's subscribers at once, and to the other workers through Redis
pub/sub when REDIS_URL is set. A notification is only a wake-up with a shortcut: a client that
gets the event right after the last one it saw takes it as is; otherwise it reads what it
missed from the table. So an event that arrives late, twice or never over Redis changes
nothing, and a client reconnecting with `Last-Event-ID` gets exactly what it missed.

Each worker also polls the table's last id (every PORTREG_POLL_SECONDS, five times slower while
Redis is healthy), so events made through other workers still arrive when Redis is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from portreg.server import reads

log = logging.getLogger("portreg.server")

Item = tuple[int, str | None]
# (event id, payload JSON or None for "look in the table")
QUEUE_SIZE = 1000


class Broker:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        redis_url: str | None,
        prefix: str,
        poll_seconds: float,
        on_change: Callable[[int], None],
    ) -> None:
        self.engine = engine
        self.redis_url = redis_url
        self.prefix = prefix
        self.registry = ""  # set by `identify` before `start`
        self.channel = f"{prefix}events"
        self.poll_seconds = poll_seconds
        self.on_change = on_change
        self.origin = uuid.uuid4().hex
        self.subscribers: set[asyncio.Queue[Item]] = set()
        self.last_seen = 0
        self.redis_ok = False
        self._redis: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def redis_status(self) -> str:
        if not self.redis_url:
            return "disabled"
        return "ok" if self.redis_ok else "error"

    def identify(self, registry: str) -> None:
        """Name the channel by the registry's identity (kept in its database): workers of one
        registry share it, another registry on the same Redis has its own."""
        self.registry = registry
        self.channel = f"{self.prefix}{registry}:events"

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            async with self.engine.connect() as conn:
                self.last_seen = await reads.last_event_id(conn)
        if self.redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(
                self.redis_url,
                socket_connect_timeout=0.5,
                socket_timeout=0.5,
                health_check_interval=5,
            )
            self._tasks.append(asyncio.create_task(self._listen()))
        self._tasks.append(asyncio.create_task(self._poll()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    # --- delivery ------------------------------------------------------------------------------

    def _deliver(self, item: Item) -> None:
        eid = item[0]
        self.last_seen = max(self.last_seen, eid)
        self.on_change(eid)
        for q in list(self.subscribers):
            try:
                q.put_nowait(item)
            except asyncio.QueueFull:
                # A slow client: it will read what it missed from the table.
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                q.put_nowait((eid, None))

    async def publish(self, evs: list[tuple[int, str]]) -> None:
        for eid, payload in evs:
            self._deliver((eid, payload))
        if self._redis is None or not self.redis_ok or not evs:
            return
        try:
            for eid, payload in evs:
                data = {"registry": self.registry, "origin": self.origin, "id": eid}
                msg = json.dumps({**data, "payload": payload})
                await self._redis.publish(self.channel, msg)
        except Exception as exc:  # Redis down: the poller covers the other workers
            self.redis_ok = False
            log.warning("redis publish failed: %s", type(exc).__name__)

    async def ping_redis(self) -> str:
        if self._redis is None:
            return "disabled"
        try:
            await asyncio.wait_for(self._redis.ping(), 1.0)
        except Exception:
            return "error"
        return "ok" if self.redis_ok else "error"

    async def _listen(self) -> None:
        while True:
            pubsub = None
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self.channel)
                self.redis_ok = True
                await self._catch_up()  # what other workers did while we were not listening
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if msg is None:
                        await self._redis.ping()
                        continue
                    data = json.loads(msg["data"])
                    if data.get("registry") != self.registry:
                        continue  # another registry's message on our channel name: not ours
                    if data.get("origin") != self.origin:
                        self._deliver((int(data["id"]), data.get("payload")))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.redis_ok:
                    log.warning("redis unavailable: %s", type(exc).__name__)
                self.redis_ok = False
                await asyncio.sleep(1.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

    async def _catch_up(self) -> None:
        try:
            async with self.engine.connect() as conn:
                last = await reads.last_event_id(conn)
        except Exception:
            return
        if last > self.last_seen:
            self._deliver((last, None))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds * (5 if self.redis_ok else 1))
            await self._catch_up()

    # --- subscribers ---------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[Item]:
        q: asyncio.Queue[Item] = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Item]) -> None:
        self.subscribers.discard(q)


def _frame(eid: int, payload: str) -> str:
    return f"id: {eid}\nevent: change\ndata: {payload}\n\n"


async def open_stream(
    broker: Broker, last_id: int | None, ping_seconds: float
) -> AsyncIterator[str]:
    """`stream`, already subscribed and with its starting id fixed before the response's headers
    go out: a browser's EventSource says "open" on the headers, and a change made right after
    that must reach it (it did not, under load, when the generator subscribed on first pull)."""
    frames = stream(broker, last_id, ping_seconds)
    first = await anext(frames)
    return _prepend(first, frames)


async def _prepend(first: str, rest: AsyncGenerator[str]) -> AsyncIterator[str]:
    try:
        yield first
        async for frame in rest:
            yield frame
    finally:
        await rest.aclose()


async def stream(broker: Broker, last_id: int | None, ping_seconds: float) -> AsyncGenerator[str]:
    """One SSE client: what it missed since `last_id` (from the table), then live events."""
    q = broker.subscribe()
    try:
        if last_id is None:
            try:
                async with broker.engine.connect() as conn:
                    last_id = await reads.last_event_id(conn)
            except Exception:
                last_id = broker.last_seen
        last = last_id
        yield f": worker {os.getpid()}\n\nretry: 2000\n\n"
        need_db = True
        while True:
            if need_db:
                try:
                    while True:
                        async with broker.engine.connect() as conn:
                            batch = await reads.events_after(conn, last)
                        for stored_id, stored in batch:
                            yield _frame(stored_id, stored)
                            last = stored_id
                        if len(batch) < 500:
                            break
                    need_db = False
                except Exception:  # database down: say so, try again on the next wake-up
                    yield ": database unavailable\n\n"
            try:
                eid, payload = await asyncio.wait_for(q.get(), ping_seconds)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            if eid <= last:
                continue
            if payload is not None and eid == last + 1 and not need_db:
                yield _frame(eid, payload)
                last = eid
            else:
                need_db = True
    finally:
        broker.unsubscribe(q)
