"""Validation at the edge (issue 11, items 5–8, 14): strict types, control characters, policy
bounds and nesting, on a real server over SQLite and PostgreSQL, and the page's Markdown."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest

from tests.conftest import portreg_cmd
from tests.server.conftest import Server, http


def still_answers(server: Server) -> None:
    """What a bad value used to break: the page, the audit and the export."""
    for url in (server.url + "/", server.api + "/audit", server.api + "/export"):
        status, body = http("GET", url)
        assert status == 200, (url, status, str(body)[:300])


def test_control_characters_and_nul_are_422_on_every_database(server: Server) -> None:
    token = server.token()
    status, body = http("POST", server.api + "/assignments", {"service": "api"}, token=token)
    assert status == 201, body
    bad = [
        ("PATCH", "/services/api", {"notes": "a\nb\u0001"}),
        ("PATCH", "/services/api", {"name": "x\u001b[31m"}),
        ("PATCH", "/services/api", {"notes": "nul\u0000"}),
        ("POST", "/assignments", {"service": "a\u0000b"}),
        ("POST", "/assignments", {"service": "ok", "reason": "r\u0000"}),
        ("POST", "/assignments", {"service": "line\nbreak"}),
        ("POST", "/services", {"name": "n\u0000", "port": 53500}),
        ("POST", "/services", {"name": "fine", "port": 53501, "notes": "\u0000"}),
        ("POST", "/reservations", {"service": "r\u0000"}),
        ("POST", "/services/api/move", {"port": 53600, "reason": "why\u0000"}),
        # the Unicode line separator breaks a table cell like a newline: one rule, every field
        ("PATCH", "/services/api", {"notes": "a\u2028b"}),
        ("PATCH", "/services/api", {"description": "a\u2029b"}),
        ("PATCH", "/services/api", {"health_check": "curl\u2028x"}),
        ("POST", "/services", {"name": "bad\u2028name", "port": 53502}),
    ]
    for method, path, body in bad:
        status, answer = http(method, server.api + path, body, token=token)
        # Names are refused by the core's naming rule (400, the command line's words); every
        # other text field at the edge (422). Never the database's 503.
        named = any(
            k in ("name", "service") and any(ord(c) < 32 or c == "\u2028" for c in str(v))
            for k, v in body.items()
        )
        assert status == (400 if named else 422), (method, path, body, status, answer)
        assert "control character" in answer["detail"], answer
    status, metrics = http("GET", server.url + "/metrics")
    assert "portreg_database_errors_total 0.0" in metrics
    still_answers(server)


def test_ports_and_flags_are_strict_types(server: Server) -> None:
    token = server.token()
    for port in ("53001", 53001.0, True, "TBD"):
        body = {"name": "svc", "port": port}
        status, answer = http("POST", server.api + "/services", body, token=token)
        assert status == 422, (port, status, answer)
    status, answer = http(
        "POST",
        server.api + "/services",
        {"name": "svc", "port": 53001, "force": "yes"},
        token=token,
    )
    assert status == 422, answer
    status, answer = http(
        "POST", server.api + "/services/x/move", {"port": "53002", "reason": "r"}, token=token
    )
    assert status == 422, answer
    status, rows = http("GET", server.api + "/services")
    assert rows == []


def test_the_schema_says_the_name_limit_the_server_keeps(server: Server) -> None:
    schema = http("GET", server.url + "/openapi.json")[1]["components"]["schemas"]
    assert schema["AssignmentIn"]["properties"]["service"]["maxLength"] == 100
    token = server.token()
    status, _ = http("POST", server.api + "/assignments", {"service": "a" * 100}, token=token)
    assert status == 201
    status, _ = http("POST", server.api + "/assignments", {"service": "b" * 101}, token=token)
    assert status == 422


@pytest.mark.parametrize(
    "policy",
    [
        "audit_interval_days = 3000000",
        "avoid = [99999999999]",
        "step = 3000000000",
        "range = [1, 99999999999]",
        "step = " + "9" * 5000,
        "last_audit = 9999-12-31",  # the next audit would overflow the calendar
    ],
)
def test_absurd_policy_values_are_refused_and_the_server_keeps_answering(
    server: Server, policy: str
) -> None:
    token = server.token()
    doc = f'[registry]\nproject = "p"\n[policy]\n{policy}\n'
    status, body = http("POST", server.api + "/import", text=doc, token=token)
    assert status == 400, (status, body)
    assert "\n" not in body["detail"] and len(body["detail"]) < 300, body
    status, body = http("POST", server.api + "/assignments", {"service": "after"}, token=token)
    assert status == 201, body
    still_answers(server)


def test_deep_nesting_is_a_one_line_4xx(server: Server) -> None:
    token = server.token()
    deep = "x = " + "[" * 50_000 + "]" * 50_000 + "\n"
    status, body = http("POST", server.api + "/import", text=deep, token=token)
    assert status == 400 and "nested too deeply" in body["detail"], (status, body)
    raw = '{"service": ' + "[" * 50_000 + '"svc"' + "]" * 50_000 + "}"
    status, body = http(
        "POST",
        server.api + "/assignments",
        headers={"Content-Type": "application/json"},
        text=raw,
        token=token,
    )
    assert 400 <= status < 500, (status, str(body)[:300])
    still_answers(server)


def test_a_service_created_without_a_port_keeps_notes_and_status(server: Server) -> None:
    token = server.token()
    body = {"name": "Billing Worker", "notes": "queue consumer", "status": "planned"}
    status, detail = http("POST", server.api + "/services", body, token=token)
    assert status == 201, detail
    assert detail["notes"] == "queue consumer" and detail["status"] == "planned", detail
    assert detail["ports"]["development"] == 53000
    status, again = http("GET", server.api + "/services/billing-worker")
    assert again["notes"] == "queue consumer" and again["status"] == "planned"
    exported = http("GET", server.api + "/export")[1]
    assert 'notes = "queue consumer"' in exported


# --- the page's Markdown -------------------------------------------------------------------


def test_markdown_cells_cannot_inject_rows_headings_html_or_script_links(
    tmp_path: Path,
) -> None:
    from markdown_it import MarkdownIt

    registry = tmp_path / "ports.toml"
    evil_note = "a | b\\n## Injected\\n<img src=x onerror=alert(1)> [x](javascript:alert(1))"
    registry.write_text(
        '[registry]\nproject = "p"\n'
        '[services.evil]\nname = "Evil\\n# Owned <script>alert(1)</script>"\n'
        f'notes = "{evil_note}"\ndescription = "d\\n### Also [y](JavaScript:z)"\n'
        "ports = {development = 53001}\n"
        '[services.good]\nname = "Good"\nports = {development = 53002}\n'
    )
    out = subprocess.run(
        [*portreg_cmd(), "--registry", str(registry), "render", "--format", "markdown"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    tokens = MarkdownIt("commonmark").enable("table").parse(out)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert not any("Injected" in h or h.startswith("Owned") or "Also" in h for h in headings)
    inline = [c for t in tokens if t.children for c in t.children]
    assert not [c for c in inline if c.type == "html_inline"]
    assert not [t for t in tokens if t.type == "html_block"]
    hrefs = [str(c.attrs.get("href", "")) for c in inline if c.type == "link_open"]
    assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:"))], hrefs
    # The services table still has one row per service, the note whole in its own cell.
    table = [
        t.content for prev, t in itertools.pairwise(tokens) if prev.type in ("td_open", "th_open")
    ]
    assert any(c.startswith("**Evil") for c in table), table
    assert any(c.startswith("a | b ## Injected") for c in table), table
    assert any(c == "**Good**" for c in table), table
