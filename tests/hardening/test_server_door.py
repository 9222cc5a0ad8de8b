"""The server's door (issue 11, items 4, 7, 11, 14): what is refused before the body is read.

Real `portreg serve` (Uvicorn) on SQLite and PostgreSQL, raw sockets for the bodies a client
would not normally send, and the server's own resident memory read from /proc.
"""

from __future__ import annotations

import json
import socket
from http.client import HTTPConnection
from pathlib import Path

from tests.server.conftest import Server, StartServer, http

MiB = 1024 * 1024


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its descendants (the Uvicorn workers), in MiB."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        todo += [int(c) for c in children]
    return total / 1024


def raw_post(server: Server, path: str, size: int, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST `size` bytes in 1 MiB chunks, as fast as the server takes them; the status line
    and body of whatever it answers (possibly before the body is sent at all)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {size}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        chunk = b"x" * MiB
        sent = 0
        s.settimeout(0.5)
        answer = b""
        while sent < size:
            try:
                s.sendall(chunk[: size - sent])
                sent += min(MiB, size - sent)
            except TimeoutError:
                break  # the server stopped reading: it has answered
            except (BrokenPipeError, ConnectionResetError):
                break
        s.settimeout(30)
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer.partition(b"\r\n\r\n")[2]


def test_a_64_mib_body_without_a_token_gets_401_and_costs_no_memory(
    start_server: StartServer, db_env: dict[str, str]
) -> None:
    server = start_server(env=db_env)
    before = rss_mib(server.proc.pid)
    for path in ("/api/v1/import", "/api/v1/assignments", "/api/v1/services"):
        status, body = raw_post(server, path, 64 * MiB, {"Content-Type": "text/plain"})
        assert status == 401, (path, body[:200])
    grown = rss_mib(server.proc.pid) - before
    assert grown < 64, f"grew {grown:.1f} MiB"
    status, _ = http("GET", server.api + "/health")
    assert status == 200


def test_a_body_over_the_limit_gets_413_even_with_a_token(start_server: StartServer) -> None:
    server = start_server(env={"PORTREG_MAX_BODY": str(MiB)})
    token = server.token()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
    before = rss_mib(server.proc.pid)
    status, body = raw_post(server, "/api/v1/import", 64 * MiB, auth)
    assert status == 413, body[:200]
    assert rss_mib(server.proc.pid) - before < 64
    # Under the limit the same route still works (the body is replayed to it whole).
    doc = '[registry]\nproject = "p"\n[services.api]\nports = {development = 53001}\n'
    status, out = http("POST", server.api + "/import", text=doc, token=token)
    assert status == 200, out
    status, out = http("POST", server.api + "/assignments", {"service": "web"}, token=token)
    assert status == 201 and out["port"] == 53000, out


def test_a_read_token_cannot_write_and_a_bad_token_is_401(start_server: StartServer) -> None:
    server = start_server()
    read = server.token("read")
    status, body = http("POST", server.api + "/assignments", {"service": "a"}, token=read)
    assert status == 403 and "scope" in body["detail"], body
    status, body = http("POST", server.api + "/assignments", {"service": "a"}, token="prt_nope")
    assert status == 401 and body["detail"] == "invalid token", body


def test_nul_in_a_query_or_path_is_bad_input_on_every_database(
    start_server: StartServer, db_env: dict[str, str]
) -> None:
    server = start_server(env=db_env)
    token = server.token()
    for method, path in (
        ("GET", "/services?q=a%00b"),
        ("GET", "/services/a%00b"),
        ("GET", "/changes?service=x%00"),
        ("GET", "/ports/53000?x=%00"),
        ("DELETE", "/services/api?reason=a%00b"),
    ):
        status, body = http(method, server.api + path, token=token)
        assert status == 422, (path, status, body)
    status, body = http("GET", server.api + "/health")
    assert status == 200 and body["database"] == "ok", body
    metrics = http("GET", server.url + "/metrics")[1]
    assert "portreg_database_errors_total 0.0" in metrics


# --- open write mode: Host and Origin ------------------------------------------------------


def test_open_mode_refuses_a_cross_site_import_and_a_foreign_host(
    start_server: StartServer,
) -> None:
    server = start_server(env={"PORTREG_WRITE_AUTH": "open"})
    doc = '[registry]\nproject = "evil"\n'
    cases = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Host": "evil.example:54000"},  # DNS rebinding: the attacker's name on 127.0.0.1
        {"Host": "evil.example", "Origin": "http://evil.example"},
    ]
    for headers in cases:
        status, body = http("POST", server.api + "/import", text=doc, headers=headers)
        assert status == 403, (headers, status, body)
        status, body = http("POST", server.api + "/assignments", {"service": "x"}, headers=headers)
        assert status == 403, (headers, status, body)
    status, exported = http("GET", server.api + "/export")
    assert "evil" not in exported
    # The page itself (same origin) and a command line (no Origin) still write.
    port = server.url.rsplit(":", 1)[1]
    for headers in ({"Origin": f"http://127.0.0.1:{port}"}, {}, {"Host": f"localhost:{port}"}):
        status, body = http("POST", server.api + "/assignments", {"service": "ok"}, headers=headers)
        assert status in (200, 201), (headers, body)


def test_trusted_hosts_are_a_setting(start_server: StartServer) -> None:
    server = start_server(
        env={"PORTREG_WRITE_AUTH": "open", "PORTREG_TRUSTED_HOSTS": "registry.internal"}
    )
    headers = {"Host": "registry.internal", "Origin": "http://registry.internal"}
    status, body = http("POST", server.api + "/assignments", {"service": "a"}, headers=headers)
    assert status == 201, body
    status, body = http("POST", server.api + "/assignments", {"service": "b"})
    assert status == 403, body  # 127.0.0.1 is no longer in the list


# --- docs and metrics -----------------------------------------------------------------------


def test_docs_follow_the_read_mode_unless_set(start_server: StartServer) -> None:
    closed = start_server(env={"PORTREG_READ_AUTH": "token"})
    for path in ("/docs", "/openapi.json", "/redoc"):
        status, _ = http("GET", closed.url + path)
        assert status == 401, path
    assert http("GET", closed.url + "/metrics")[0] == 200  # scrapers: public unless set
    read = closed.token("read")
    status, _ = http("GET", closed.url + "/openapi.json", token=read)
    assert status == 200
    public = start_server(env={"PORTREG_READ_AUTH": "token", "PORTREG_PUBLIC_DOCS": "true"})
    for path in ("/docs", "/openapi.json", "/metrics"):
        status, _ = http("GET", public.url + path)
        assert status == 200, path
    hidden = start_server(env={"PORTREG_PUBLIC_DOCS": "false", "PORTREG_PUBLIC_METRICS": "0"})
    for path in ("/openapi.json", "/metrics"):
        status, _ = http("GET", hidden.url + path)
        assert status == 401, path
    status, _ = http("GET", hidden.api + "/services")
    assert status == 200  # reads stay open


# --- the read cache ------------------------------------------------------------------------


def spellings(base: str, n: int) -> list[str]:
    """`n` distinct paths that all resolve to the service `base` (trailing separators, any case)."""
    marks = "._-"
    out = []
    for i in range(n):
        suffix, rest = "", i
        while True:
            rest, r = divmod(rest, len(marks))
            suffix += marks[r]
            if rest == 0:
                break
        out.append((base.upper() if len(out) % 2 else base) + suffix)
    return out


def test_8000_spellings_of_one_service_grow_the_server_little(
    start_server: StartServer, db_env: dict[str, str]
) -> None:
    server = start_server(env=db_env)
    token = server.token()
    big = "x" * 60_000  # a 60 kB body: 8,000 cached copies would be ~470 MiB
    doc = f'[registry]\nproject = "p"\n[services.bigsvc]\ndescription = "{big}"\n'
    doc += "ports = {development = 53001}\n"
    assert http("POST", server.api + "/import", text=doc, token=token)[0] == 200
    canonical = http("GET", server.api + "/services/bigsvc")[1]
    host, port = server.url.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=30)
    before = rss_mib(server.proc.pid)
    for n, path in enumerate(spellings("bigsvc", 8000)):
        conn.request("GET", "/api/v1/services/" + path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, (path, body[:200])
        if n % 1000 == 0:
            assert json.loads(body) == canonical
    conn.close()
    grown = rss_mib(server.proc.pid) - before
    assert grown < 64, f"grew {grown:.1f} MiB"
