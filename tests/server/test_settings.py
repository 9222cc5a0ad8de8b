"""The server's settings are portreg's own: an application's DATABASE_URL is never touched."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import portreg_cmd
from tests.server.conftest import clean_env, free_port, http, pg_query, wait_healthy


def _tables(url: str) -> list[str]:
    rows = pg_query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return sorted(r["tablename"] for r in rows)


def test_application_database_url_is_never_used(tmp_path: Path, pg_url: str) -> None:
    # The seed's own situation: the repository's .env and the shell name the application's
    # database. portreg must not migrate its tables into it.
    (tmp_path / ".env").write_text(f"DATABASE_URL={pg_url}\nREDIS_URL=redis://127.0.0.1:9/0\n")
    env = clean_env({"DATABASE_URL": pg_url, "REDIS_URL": "redis://127.0.0.1:9/0"})
    token = subprocess.run(
        [*portreg_cmd(), "token", "create", "--scope", "write"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [*portreg_cmd(), "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        status, health = http("GET", f"http://127.0.0.1:{port}/api/v1/health")
        assert status == 200 and health["redis"] != "error", health  # REDIS_URL not read
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)
    assert _tables(pg_url) == []
    assert (tmp_path / "portreg.db").exists()  # portreg's own default, SQLite


def test_prefixed_settings_and_explicit_env_file(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "portreg.env").write_text(f"PORTREG_DATABASE_URL={pg_url}\n")
    env = clean_env({})
    token = subprocess.run(
        [*portreg_cmd(), "token", "create", "--scope", "read", "--env-file", "portreg.env"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    assert "tokens" in _tables(pg_url)
    assert not (tmp_path / "portreg.db").exists()
