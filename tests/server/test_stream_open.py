"""The change stream subscribes before its response's headers go out.

A browser's EventSource reports "open" when the headers arrive; the page then trusts that every
later change reaches it. A stream that subscribed only when Starlette first pulled a frame (after
the headers) lost a change made in between, and the live page under CI load missed a row."""

from __future__ import annotations

from pathlib import Path

from portreg.server.db import make_engine, migrate
from portreg.server.events import Broker, open_stream
from tests.server.conftest import run_async


async def _opened_then_changed(db: Path) -> tuple[int, str]:
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await migrate(engine)
    broker = Broker(engine, redis_url=None, prefix="t:", poll_seconds=60, on_change=lambda _: None)
    await broker.start()
    try:
        frames = await open_stream(broker, None, 30)
        subscribed = len(broker.subscribers)  # before a single frame has been pulled
        await broker.publish([(broker.last_seen + 1, '{"service": "late"}')])
        first = await anext(frames)
        assert first.startswith(": worker")
        change = await anext(frames)
        await frames.aclose()  # type: ignore[attr-defined]
        assert not broker.subscribers  # closing the stream unsubscribes
        return subscribed, change
    finally:
        await broker.stop()
        await engine.dispose()


def test_a_change_right_after_the_stream_opens_is_delivered(tmp_path: Path) -> None:
    subscribed, change = run_async(_opened_then_changed(tmp_path / "r.db"))
    assert subscribed == 1
    assert change == 'id: 1\nevent: change\ndata: {"service": "late"}\n\n'
