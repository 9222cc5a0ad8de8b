"""The web page's harness: a real `portreg serve` (Uvicorn) on a free port with a fresh SQLite
database, the seed registry imported with the real CLI, and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED, portreg_cmd

CHROMIUM = os.environ.get("PORTREG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    env.pop("PORTREG_DATABASE_URL", None)
    env.pop("PORTREG_REDIS_URL", None)
    env.update(extra or {})
    return env


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*portreg_cmd(), *args],
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Server:
    """`portreg serve` in a subprocess; stop() and start() again keep the port and the database."""

    def __init__(self, workdir: Path, seed: Path | None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "portreg.db"
        self.env = {
            "PORTREG_DATABASE_URL": f"sqlite+aiosqlite:///{self.db}",
            "PORTREG_LOG_LEVEL": "warning",
        }
        if seed is not None:
            self.env["PORTREG_SEED"] = str(seed)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "server.log"

    def token(self, scope: str) -> str:
        proc = cli(
            "token",
            "create",
            "--scope",
            scope,
            "--name",
            f"web-{scope}",
            cwd=self.workdir,
            env=self.env,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*portreg_cmd(), "serve", "--port", str(self.port)],
                cwd=self.workdir,
                env=cli_env(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/api/v1" + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body


@pytest.fixture(scope="session")
def seed_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed page imported into a ports.toml by the real command line."""
    d = tmp_path_factory.mktemp("seed")
    target = d / "ports.toml"
    proc = cli("import", str(SEED), cwd=d, env={"PORTREG_REGISTRY": str(target)})
    assert proc.returncode == 0, f"portreg import of the seed failed: {proc.stderr.strip()}"
    assert target.exists()
    return target


@pytest.fixture(scope="session")
def seed_rows(seed_registry: Path) -> list[dict[str, Any]]:
    proc = cli(
        "list", "--json", cwd=seed_registry.parent, env={"PORTREG_REGISTRY": str(seed_registry)}
    )
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    return rows


@pytest.fixture
def server(tmp_path: Path, seed_registry: Path) -> Iterator[Server]:
    """A fresh server (own port, own database) with the seed loaded."""
    srv = Server(tmp_path, seed_registry)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A 1280×800 tab; closed before the server stops (an open stream would delay the stop)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # a CSP refusal (an inline script or style slipping in) is a bug, not a console remark
    pg.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text
            else None
        ),
    )
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def wait_js(page: Any, expression: str, arg: Any = None, timeout: float = 5.0) -> None:
    """page.wait_for_function evaluates its predicate with eval(), which the page's CSP
    (rightly) forbids; this polls through the DevTools protocol instead, which CSP allows."""
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(f"(arg) => Boolean({expression})", arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.03)
