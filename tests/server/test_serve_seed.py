"""`portreg serve` in a repository serves that repository's registry: the nearest ports.toml
(or `--registry FILE`) fills an empty database once, as PORTREG_SEED would."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import Run, assert_one_line_error, portreg_cmd
from tests.server.conftest import clean_env, free_port, http, wait_healthy


def _serve(
    cwd: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen[bytes], Path]:
    port = free_port()
    log = cwd / f"serve-{port}.log"
    proc = subprocess.Popen(
        [*portreg_cmd(), *extra, "serve", "--port", str(port)],
        cwd=cwd, env=clean_env(env or {}), stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log)
    return url, proc, log


def test_serve_fills_an_empty_database_from_the_nearest_registry(tmp_path: Path, run: Run) -> None:
    assert run("init", "--project", "shop").returncode == 0
    assert run("add", "billing", "--port", "53010").returncode == 0
    sub = tmp_path / "deploy"
    sub.mkdir()
    url, proc, log = _serve(sub)
    try:
        status, body = http("GET", url + "/api/v1/services")
        assert status == 200 and [(s["service"], s["port"]) for s in body] == [("billing", 53010)]
        assert "filled from" in log.read_text() and str(tmp_path / "ports.toml") in log.read_text()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    # once filled, the database is the registry: a later start does not load the file again
    assert run("add", "ledger", "--port", "53011").returncode == 0
    url, proc, _ = _serve(sub)
    try:
        status, body = http("GET", url + "/api/v1/services")
        assert [s["service"] for s in body] == ["billing"], json.dumps(body)[:300]
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_serve_takes_a_registry_file_not_a_url(tmp_path: Path, run: Run) -> None:
    proc = run("--registry", "http://127.0.0.1:9/", "serve", "--port", str(free_port()))
    assert_one_line_error(proc)
    assert "not a URL" in proc.stderr
    missing = run("--registry", str(tmp_path / "nope.toml"), "serve", "--port", str(free_port()))
    assert_one_line_error(missing)
    assert "no such registry file" in missing.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
