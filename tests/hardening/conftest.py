"""The server fixtures (real Uvicorn servers, fresh PostgreSQL databases) for hardening tests."""

from tests.server.conftest import pg_admin, pg_url, redis_env, start_server

__all__ = ["pg_admin", "pg_url", "redis_env", "start_server"]
