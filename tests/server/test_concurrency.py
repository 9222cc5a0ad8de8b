"""Done-means 2: 50 concurrent clients × 20 assignments = 1,000 distinct ports, and the database
holds exactly those — on SQLite, on PostgreSQL, and with 4 workers on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.server.conftest import StartServer, http, pg_query, run_async
from tests.server.load import assign_many


def _check(result_ok: dict[str, int], db_rows: list[tuple[str, int]]) -> None:
    ports = list(result_ok.values())
    assert len(ports) == 1000
    assert len(set(ports)) == 1000, "a port was handed out twice"
    assert sorted(db_rows) == sorted(result_ok.items())


def test_sqlite_1000_concurrent_assignments(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server()
    result = run_async(assign_many(server.api, server.token(), 50, 20))
    assert result.errors == [] and result.exceptions == 0
    with sqlite3.connect(tmp_path / "portreg.db") as db:
        rows = db.execute("SELECT service_id, port FROM assignments").fetchall()
    _check(result.ok, rows)
    # The change log and the event table recorded each one.
    assert len(http("GET", server.api + "/changes?limit=5000")[1]) == 1000


@pytest.mark.parametrize("workers", [1, 4])
def test_postgres_1000_concurrent_assignments(
    start_server: StartServer, pg_url: str, workers: int
) -> None:
    server = start_server(workers=workers, env={"PORTREG_DATABASE_URL": pg_url})
    result = run_async(assign_many(server.api, server.token(), 50, 20))
    assert result.errors == [] and result.exceptions == 0
    rows = pg_query(pg_url, "SELECT service_id, port FROM assignments")
    _check(result.ok, [(r["service_id"], r["port"]) for r in rows])
    events = pg_query(pg_url, "SELECT count(*) AS n FROM events")
    assert events[0]["n"] == 1000
