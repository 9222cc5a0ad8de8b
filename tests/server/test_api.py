"""The server with no settings, its API contract, auth, metrics, and the CLI as its client."""

from __future__ import annotations

import subprocess
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Run, assert_one_line_error
from tests.server.conftest import StartServer, http


def test_serve_with_no_settings_is_healthy_on_sqlite_in_the_working_dir(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server()
    status, body = http("GET", server.api + "/health")
    assert status == 200
    assert body == {"status": "ok", "database": "ok", "redis": "disabled"}
    assert (tmp_path / "portreg.db").is_file()  # the default: SQLite in the working directory
    status, page = http("GET", server.url + "/")
    assert status == 200 and "portreg" in page
    assert http("GET", server.url + "/openapi.json")[0] == 200


def test_writes_need_a_write_token_and_reads_are_open(start_server: StartServer) -> None:
    server = start_server()
    status, body = http("POST", server.api + "/assignments", {"service": "api"})
    assert status == 401 and "token" in body["detail"]
    status, body = http("POST", server.api + "/assignments", {"service": "api"}, token="prt_nope")
    assert status == 401 and body["detail"] == "invalid token"
    status, body = http(
        "POST", server.api + "/assignments", {"service": "api"}, token=server.token("read")
    )
    assert status == 403 and "scope" in body["detail"]
    status, body = http(
        "POST", server.api + "/assignments", {"service": "api"}, token=server.token("write")
    )
    assert status == 201 and body["port"] == 53000
    # The token never shows up in the server's log.
    assert server.token("write") not in server.log.read_text()
    assert http("GET", server.api + "/services")[0] == 200


def test_reads_can_require_a_token(start_server: StartServer) -> None:
    server = start_server(env={"PORTREG_READ_AUTH": "token"})
    assert http("GET", server.api + "/services")[0] == 401
    assert http("GET", server.api + "/services", token=server.token("read"))[0] == 200
    assert http("GET", server.api + "/health")[0] == 200  # health never needs one
    assert http("GET", server.url + "/metrics")[0] == 200


SEED_TOML = """\
[registry]
project = "claude-agent"
title = "Services and Ports Registry"

[policy]
range = [53000, 54999]

[services.api-server]
name = "API Server"
status = "active"
protocol = "http"
ports = {development = 54000}
notes = "FastAPI + Uvicorn"

[services.postgresql]
name = "PostgreSQL"
status = "active"
ports = {development = 54432}

[services.redis]
name = "Redis"
status = "active"
ports = {development = 54379}
"""


def test_api_contract_round_trip(start_server: StartServer, tmp_path: Path) -> None:
    seed = tmp_path / "seed.toml"
    seed.write_text(SEED_TOML)
    server = start_server(env={"PORTREG_SEED": str(seed)})
    api, tok = server.api, server.token()
    status, rows = http("GET", api + "/services")
    assert status == 200
    by_id = {(r["service"], r["environment"]): r for r in rows}
    assert by_id[("api-server", "development")]["port"] == 54000
    assert set(rows[0]) >= {
        "service",
        "name",
        "environment",
        "port",
        "protocol",
        "transport",
        "status",
        "notes",
    }
    assert http("GET", api + "/services?limit=1&offset=1")[1] == rows[1:2]

    status, first = http("POST", api + "/assignments", {"service": "Web UI"}, token=tok)
    assert (status, first["service"], first["created"]) == (201, "web-ui", True)
    status, again = http("POST", api + "/assignments", {"service": "web-ui"}, token=tok)
    assert (status, again["port"], again["created"]) == (200, first["port"], False)

    status, detail = http("GET", api + "/services/web-ui")
    assert status == 200 and detail["ports"] == {"development": first["port"]}
    assert [h["action"] for h in detail["history"]] == ["assign"]
    assert http("GET", api + "/services/nope")[0] == 404

    status, info = http("GET", api + f"/ports/{first['port']}")
    assert info["registered"][0]["service"] == "web-ui" and info["allowed"] is True
    status, info = http("GET", api + "/ports/8080")
    assert info["registered"] == [] and info["allowed"] is False and info["problems"]

    target = first["port"] + 100
    status, moved = http(
        "POST",
        api + "/services/web-ui/move",
        {"port": target, "reason": "clash with a vendor tool"},
        token=tok,
    )
    assert status == 200 and (moved["old"], moved["new"]) == (first["port"], target)
    status, err = http(
        "POST", api + "/services/web-ui/move", {"port": 54000, "reason": "x"}, token=tok
    )
    assert status == 409 and "api-server" in err["detail"]

    status, res = http(
        "POST", api + "/reservations", {"service": "Metrics", "purpose": "later"}, token=tok
    )
    assert status == 200 and res["port"] is not None
    ranges = http("GET", api + "/ranges")[1]
    assert res["port"] in ranges["reserved"] and target in ranges["assigned"]
    assert http("GET", api + "/policy")[1]["range"] == [53000, 54999]

    status, _ = http("DELETE", api + "/assignments/web-ui/development", token=tok)
    assert status == 200
    assert http("GET", api + "/services/web-ui")[1]["ports"] == {"development": None}
    status, _ = http("DELETE", api + "/services/web-ui", token=tok)
    assert status == 200 and http("GET", api + "/services/web-ui")[0] == 404

    log = http("GET", api + "/changes?service=web-ui")[1]
    assert [c["action"] for c in log] == ["assign", "move", "release", "release"]
    assert all(c["who"] == "write-token" for c in log)
    assert log[1]["reason"] == "clash with a vendor tool"

    audit = http("GET", api + "/audit")[1]
    assert set(audit) >= {"findings", "summary", "last_audit", "next_audit"}

    # Bad input: one clear line, the right status.
    status, err = http("POST", api + "/assignments", {"service": "!!!"}, token=tok)
    assert status == 400 and isinstance(err["detail"], str)
    status, err = http("POST", api + "/assignments", {"environment": "x"}, token=tok)
    assert status == 422 and isinstance(err["detail"], str)
    # A misspelt field is refused by name, not dropped for a default-environment write.
    before = http("GET", api + "/services")[1]
    for path, body in (
        ("/assignments", {"service": "typo", "enviroment": "staging"}),
        ("/services", {"name": "typo", "port": 53990, "enviroment": "staging"}),
    ):
        status, err = http("POST", api + path, body, token=tok)
        assert status == 422 and "enviroment" in err["detail"], (path, err)
        assert "\n" not in err["detail"]
    assert http("GET", api + "/services")[1] == before

    # Export, then import it back: the same registry.
    status, text = http("GET", api + "/export")
    assert status == 200 and "[services.api-server]" in text
    status, res = http("POST", api + "/import", text=text, token=tok)
    assert status == 200, res
    assert http("GET", api + "/services")[1] == http("GET", api + "/services")[1]
    status, err = http("POST", api + "/import", text="not = [toml", token=tok)
    assert status == 400 and "invalid TOML" in err["detail"]


def test_metrics_parse_with_prometheus_parser(start_server: StartServer) -> None:
    server = start_server()
    http("POST", server.api + "/assignments", {"service": "a"}, token=server.token())
    http("GET", server.api + "/services")
    status, text = http("GET", server.url + "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "portreg_http_requests",
        "portreg_http_request_duration_seconds",
        "portreg_assignments",
        "portreg_free_ports",
        "portreg_sse_subscribers",
    ):
        assert name in families, sorted(families)
    free = families["portreg_free_ports"].samples[0]
    assert free.labels == {"range": "53000-54999"}
    assert free.value == 2000 - 1  # one assigned; no avoided port lies in the default range
    assert families["portreg_assignments"].samples[0].value == 1


def test_cli_talks_to_the_server(start_server: StartServer, run: Run, tmp_path: Path) -> None:
    server = start_server()
    env = {"PORTREG_REGISTRY": server.url, "PORTREG_TOKEN": server.token()}
    out = run("assign", "Billing API", env=env)
    assert out.returncode == 0, out.stderr
    port = int(out.stdout.strip())
    assert run("assign", "billing-api", env=env).stdout.strip() == str(port)
    listing = run("list", "--json", env=env)
    assert [r["port"] for r in __import__("json").loads(listing.stdout)] == [port]
    assert run("show", "billing-api", "--json", env=env).returncode == 0
    assert run("release", "billing-api", "--env", "development", env=env).returncode == 0

    # Errors from the server are one `error:` line.
    assert_one_line_error(run("assign", "x", env={"PORTREG_REGISTRY": server.url}))
    assert_one_line_error(run("list", env={"PORTREG_REGISTRY": "http://127.0.0.1:9"}))

    # push / pull between a local ports.toml and the server.
    local = tmp_path / "proj"
    local.mkdir()
    assert run("init", cwd=local).returncode == 0
    assert run("add", "Cache", "--port", "53500", cwd=local).returncode == 0
    pushed = run("push", server.url, cwd=local, env={"PORTREG_TOKEN": server.token()})
    assert pushed.returncode == 0, pushed.stderr
    assert http("GET", server.api + "/services/cache")[1]["ports"] == {"development": 53500}
    other = tmp_path / "other"
    other.mkdir()
    pulled = run("pull", server.url, cwd=other)
    assert pulled.returncode == 0, pulled.stderr
    assert "[services.cache]" in (other / "ports.toml").read_text()
    assert run("list", "--json", cwd=other).returncode == 0


def test_token_create_prints_the_token_alone(run: Run, tmp_path: Path) -> None:
    out = run("token", "create", "--scope", "read")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("prt_") and len(out.stdout.strip().splitlines()) == 1
    assert (tmp_path / "portreg.db").is_file()
    assert "created a new database" in out.stderr  # a token nobody's server would know
    again = run("token", "create", "--scope", "read")
    assert again.returncode == 0 and again.stderr == ""
    bad = run(
        "token",
        "create",
        "--scope",
        "read",
        env={"PORTREG_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/x"},
    )
    assert_one_line_error(bad)
    assert subprocess  # (imported for type checkers of the fixtures)
