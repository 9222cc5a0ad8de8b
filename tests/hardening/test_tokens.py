"""Tokens under attack (issue 11, items 12 and 14): list, revoke (refused by every worker within
a second), expiry, stream tickets instead of tokens in URLs, log redaction, redirects."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from tests.conftest import portreg_cmd
from tests.server.conftest import Server, StartServer, http


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*portreg_cmd(), *args],
        cwd=server.cwd,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def status_on_new_connection(server: Server, token: str) -> int:
    host, port = server.url.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/api/v1/services", headers={"Authorization": f"Bearer {token}"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_revoked_token_is_refused_by_every_worker_within_a_second(
    start_server: StartServer, db_env: dict[str, str]
) -> None:
    server = start_server(workers=2, env={**db_env, "PORTREG_READ_AUTH": "token"})
    token = server.token("read")
    for _ in range(20):  # every worker has checked (and cached) it
        assert status_on_new_connection(server, token) == 200
    listed = json.loads(cli(server, "token", "list", "--json").stdout)
    (row,) = [r for r in listed if r["scope"] == "read"]
    assert token not in json.dumps(listed)  # ids and names only
    out = cli(server, "token", "revoke", str(row["id"]))
    assert out.returncode == 0, out.stderr
    revoked = time.monotonic()
    time.sleep(1.0)
    statuses = [status_on_new_connection(server, token) for _ in range(20)]
    assert statuses == [401] * 20, (statuses, time.monotonic() - revoked)
    again = cli(server, "token", "revoke", str(row["id"]))
    assert again.returncode == 2 and again.stderr.startswith("error: no token"), again.stderr
    by_value = cli(server, "token", "revoke", token)
    assert by_value.returncode == 2 and token not in by_value.stderr


def test_tokens_expire_and_names_lose_control_characters(start_server: StartServer) -> None:
    server = start_server()
    made = cli(
        server,
        "token",
        "create",
        "--scope",
        "write",
        "--name",
        "ci\x1b[31m\nbot",
        "--expires",
        "2099-01-01",
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    status, body = http("POST", server.api + "/assignments", {"service": "a"}, token=token)
    assert status == 201, body
    (row,) = json.loads(cli(server, "token", "list", "--json").stdout)
    assert row["name"] == "ci[31mbot" and row["expires_at"] == "2099-01-01T00:00:00", row
    history = http("GET", server.api + "/services/a")[1]["history"]
    assert history[-1]["who"] == "ci[31mbot"
    bad = cli(server, "token", "create", "--scope", "read", "--expires", "yesterday")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    past = cli(server, "token", "create", "--scope", "read", "--expires", "2001-01-01")
    assert past.returncode == 2 and "not in the future" in past.stderr
    # An expiry that passes: expire it in the database, as time would.
    short = cli(server, "token", "create", "--scope", "write", "--expires", "1m").stdout.strip()
    assert http("POST", server.api + "/assignments", {"service": "b"}, token=short)[0] == 201
    with sqlite3.connect(server.cwd / "portreg.db") as db:
        db.execute(
            "UPDATE tokens SET expires_at = '2001-01-01 00:00:00'"
            " WHERE expires_at < '2098-01-01 00:00:00'"
        )
    time.sleep(0.6)
    status, body = http("POST", server.api + "/assignments", {"service": "c"}, token=short)
    assert status == 401, body


# --- the stream -----------------------------------------------------------------------------


def first_frame(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    host, rest = url.removeprefix("http://").split(":", 1)
    port, _, path = rest.partition("/")
    conn = HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/" + path, headers=headers or {})
    resp = conn.getresponse()
    data = resp.readline() if resp.status == 200 else resp.read()
    conn.close()
    return resp.status, data


def test_the_stream_takes_a_ticket_and_never_a_write_token_in_its_url(
    start_server: StartServer,
) -> None:
    server = start_server(workers=2, env={"PORTREG_READ_AUTH": "token"})
    write, read = server.token("write"), server.token("read")
    events = server.api + "/events"
    status, body = http("POST", server.api + "/stream-tickets")
    assert status == 401
    status, body = http("POST", server.api + "/stream-tickets", token=read)
    assert status == 200 and body["expires_in"] == 60, body
    ticket = body["ticket"]
    assert read not in ticket and write not in ticket
    for _ in range(6):  # any worker takes it
        status, data = first_frame(events + "?ticket=" + ticket)
        assert status == 200 and data.startswith(b": worker"), data
    forged = ticket[:-4] + ("0000" if not ticket.endswith("0000") else "1111")
    assert first_frame(events + "?ticket=" + forged)[0] == 401
    assert first_frame(events + "?access_token=" + write)[0] == 401  # not in a URL
    assert first_frame(events + "?access_token=" + read)[0] == 200
    # What reached the access log: no credential under any spelling of its key.
    for spelled in ("access%5Ftoken", "%61ccess_token", "access_token"):
        first_frame(events + f"?{spelled}=" + read)
    first_frame(events + "?ticket=" + ticket)
    time.sleep(0.3)
    log = server.log.read_text()
    assert read not in log and ticket not in log, log[-2000:]


def test_absurd_stream_positions_are_4xx_not_database_unavailable(
    start_server: StartServer, db_env: dict[str, str]
) -> None:
    server = start_server(env=db_env)
    events = server.api + "/events"
    assert first_frame(events + "?last=" + str(10**30))[0] == 422
    assert first_frame(events, {"Last-Event-ID": "9" * 26})[0] == 422
    status, data = first_frame(events + "?last=" + str(2**63 - 1))
    assert status == 200 and b"database unavailable" not in data


def test_the_page_opens_the_stream_with_a_ticket_not_its_token(
    start_server: StartServer,
) -> None:
    """The page's own code, read as served: it never puts a token into the EventSource URL."""
    server = start_server()
    js = http("GET", server.url + "/static/app.js")[1]
    assert "access_token" not in js
    assert '"/stream-tickets"' in js and 'params.set("ticket"' in js


# --- the client -----------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []
    target = ""

    def do_GET(self) -> None:
        _Recorder.seen.append({"path": self.path, "auth": self.headers.get("Authorization")})
        redirecting = not _Recorder.target.endswith(f":{self.server.server_address[1]}")
        if self.path.startswith("/api/v1/export") and redirecting:
            self.send_response(302)
            self.send_header("Location", _Recorder.target + "/api/v1/export")
            self.end_headers()
            return
        body = b'{"detail": "bad \\u001b[2J\\u001b[31mthing\\nerror: forged"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_client_drops_auth_across_origins_and_strips_control_characters(
    tmp_path: Path,
) -> None:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) for _ in range(2)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        first, other = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
        _Recorder.target = other
        env = {"PORTREG_TOKEN": "prt_secret", "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [*portreg_cmd(), "--registry", first, "list"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
            cwd=tmp_path,
        )
        assert out.returncode == 2
        assert "\x1b" not in out.stderr and out.stderr.count("\n") == 1, repr(out.stderr)
        assert out.stderr.startswith("error: server said 400: bad"), out.stderr
        (hop1, hop2) = _Recorder.seen[-2:]
        assert hop1["auth"] == "Bearer prt_secret"
        assert hop2["auth"] is None, _Recorder.seen  # another port is another origin
    finally:
        for s in servers:
            s.shutdown()
