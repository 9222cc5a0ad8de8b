"""Done-means 5 (second half), and issue 11: schemathesis against /openapi.json finds no 5xx and
no response that breaks the schema, on SQLite and on PostgreSQL. Bounded and reproducible: a
fixed seed, deterministic generation, a few examples per operation, one worker (it once failed
on one unseeded run and not on the next), so a failure names an input that fails again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import StartServer

SEED = 20261202


@pytest.fixture(params=["sqlite", "postgresql"])
def db_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"PORTREG_DATABASE_URL": request.getfixturevalue("pg_url")}


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    start_server: StartServer, tmp_path: Path, db_env: dict[str, str]
) -> None:
    server = start_server(env=db_env)
    token = server.token()
    st = Path(sys.executable).with_name("schemathesis")
    proc = subprocess.run(
        [
            str(st),
            "run",
            server.url + "/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--max-examples",
            "8",
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            str(SEED),
            "--generation-deterministic",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--header",
            f"Authorization: Bearer {token}",
            "--exclude-path",
            "/api/v1/events",  # a stream that never ends by design
        ],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=tmp_path,
        check=False,
    )
    report = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    assert "No issues found" in proc.stdout or " passed" in proc.stdout, report
