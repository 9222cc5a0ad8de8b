"""The server fixtures (real Uvicorn servers, fresh PostgreSQL databases) for hardening tests."""

from __future__ import annotations

import pytest

from tests.server.conftest import Server, StartServer, pg_admin, pg_url, redis_env, start_server

__all__ = ["db_env", "pg_admin", "pg_url", "redis_env", "server", "start_server"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server's database settings: SQLite (the default), then a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return {}
    return {"PORTREG_DATABASE_URL": request.getfixturevalue("pg_url")}


@pytest.fixture
def server(db_env: dict[str, str], start_server: StartServer) -> Server:
    """A running server on each database in turn."""
    return start_server(env=db_env)
