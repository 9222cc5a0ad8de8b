"""Importing seed-style Markdown pages: the seed itself, hand-made variants, bad input."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from portreg import render, store
from portreg.errors import PortregError
from portreg.importers import Imported, markdown
from portreg.model import DEFAULT_AVOID
from tests.conftest import DATA, SEED, Run, assert_one_line_error

PAGES = DATA / "pages"


def parse(path: Path) -> Imported:
    return markdown.parse(path.read_text(encoding="utf-8"), path.name)


# --- the seed ----------------------------------------------------------------------------------


def test_seed_services_ports_and_facts() -> None:
    imported = parse(SEED)
    r = imported.registry
    assert imported.warnings == ()
    assert imported.policy_given
    assert list(r.services) == ["api-server", "postgresql", "redis", "sse-worker", "monitoring"]
    api, pg, redis = r.services["api-server"], r.services["postgresql"], r.services["redis"]
    assert api.ports == {"development": 54000, "staging": None, "production": None}
    assert (api.protocol, pg.protocol, redis.protocol) == ("http", "postgres", "redis")
    assert {s.transport for s in r.services.values()} == {"tcp"}
    assert api.notes == "FastAPI + Uvicorn" and redis.notes == "Cache + Pub/Sub"
    assert api.health_check == "GET http://localhost:{port}/api/v1/health"
    assert pg.health_check == "pg_isready -h localhost -p {port}"
    assert api.description == "FastAPI application" and api.process == "Uvicorn ASGI server"
    assert api.connections == "Max 500 per worker (configurable via `--limit-concurrency`)"
    assert pg.tls == "Disabled (local development)"
    assert [c.env_var for c in pg.connection_strings] == ["DATABASE_URL"]
    assert pg.connection_strings[0].render(54432).endswith("@localhost:54432/claude_agent")
    assert pg.connection_strings[0].template.endswith("@localhost:{port}/claude_agent")
    assert '"{port}:5432"' in pg.configuration[0].text and pg.configuration[0].lang == "yaml"
    assert "--port {port} --workers 4" in api.configuration[0].text
    assert api.depends_on == ("postgresql", "redis")  # from the ASCII diagram's arrows
    sse, mon = r.services["sse-worker"], r.services["monitoring"]
    assert (sse.ports, sse.status, sse.purpose) == (
        {"development": 54001},
        "planned",
        "Dedicated SSE streaming worker",
    )
    assert (mon.ports, mon.status) == ({"development": 54002}, "planned")
    assert r.host == "100.120.242.29"
    assert r.title == "Services and Ports Registry"
    assert r.purpose.startswith("Central registry of all service port assignments")
    assert r.last_updated == datetime(2026, 1, 29, 6, 23, 34)
    p = r.policy
    assert (p.range_start, p.range_end, p.step) == (53000, 54999, 1)
    assert p.avoid == DEFAULT_AVOID  # both of the seed's lists, merged
    assert (p.last_audit, p.audit_interval_days) == (date(2026, 1, 10), 30)
    # every section of the seed is one portreg models: nothing kept as loose text
    assert r.extra_sections == ()


def test_parse_is_deterministic() -> None:
    text = SEED.read_text()
    assert markdown.parse(text, "a") == markdown.parse(text, "a")


def test_seed_diagram_edges() -> None:
    text = SEED.read_text()
    diagram = text.split("## Network Topology")[1].split("```")[1]
    edges = markdown.diagram_edges(diagram)
    assert ("API Server", "PostgreSQL") in edges and ("API Server", "Redis") in edges
    assert not any(a in ("PostgreSQL", "Redis") for a, _ in edges)


# --- variant pages -----------------------------------------------------------------------------


def test_reordered_columns_aliases_and_extra_columns() -> None:
    imported = parse(PAGES / "reordered_columns.md")
    r = imported.registry
    assert r.title == "Platform Port Map"
    assert (r.policy.range_start, r.policy.range_end) == (40000, 40999)
    assert imported.policy_given
    api = r.services["billing-api"]
    assert api.ports == {"development": 40000, "production": 40100}  # Dev/Prod aliases
    assert (api.protocol, api.transport) == ("http", "tcp")
    assert api.notes == "REST API; Owner: payments team"  # an extra column goes into notes
    ledger = r.services["ledger-db"]  # backticked name, bold port
    assert (ledger.name, ledger.ports) == ("Ledger DB", {"development": 40010})
    assert ledger.protocol == "tcp" and ledger.status == "active"
    assert r.services["cache"].status == "deprecated"
    metrics = r.services["metrics-agent"]
    assert (metrics.protocol, metrics.status, metrics.ports) == (
        "grpc",
        "active",
        {"staging": 40030},
    )
    assert [s.heading for s in r.extra_sections] == ["Runbook"]
    assert "- Check `journalctl -u billing`" in r.extra_sections[0].body


def test_minimal_table_defaults_and_policy_breaking_ports() -> None:
    imported = parse(PAGES / "minimal.md")
    r = imported.registry
    assert not imported.policy_given  # the page states no range, avoid list or audit
    for s in r.services.values():
        assert s.status == "active" and s.transport == "tcp"
        assert list(s.ports) == ["development"]
    assert r.services["web-app"].protocol == "tcp"
    assert r.services["postgresql"].protocol == "postgres"
    assert r.services["redis-queue"].protocol == "redis"
    # recorded as the page says, even where it breaks the policy (the audit reports that)
    assert r.services["legacy-admin"].ports == {"development": 8080}
    assert r.services["outside-range"].ports == {"development": 60001}


def test_udp_services_and_sections() -> None:
    imported = parse(PAGES / "udp_services.md")
    r = imported.registry
    dns = r.services["dns-resolver"]
    assert (dns.ports, dns.protocol, dns.transport) == ({"development": 50053}, "dns", "udp")
    syslog = r.services["syslog-collector"]
    assert (syslog.protocol, syslog.transport) == ("udp", "udp")
    assert syslog.notes == "rsyslog | fluent-bit"  # an escaped pipe in a cell
    stats = r.services["stats"]
    assert (stats.protocol, stats.transport, stats.status) == ("statsd", "udp", "planned")
    assert r.services["admin-panel"].protocol == "https"
    assert r.policy.avoid == (53, 123, 161)
    assert r.last_updated == datetime(2025, 12, 1, 10, 0, 0)
    # an unknown section is kept; the change log is portreg's own and is not
    assert [s.heading for s in r.extra_sections] == ["Troubleshooting"]
    assert "systemctl restart unbound" in r.extra_sections[0].body
    # active services first, then the reserved ones (the rendered page's order)
    assert list(r.services)[-1] == "stats"


def test_environment_lists_short_names_and_tbd() -> None:
    imported = parse(PAGES / "environment_lists.md")
    r = imported.registry
    assert imported.warnings == ()
    assert r.services["shop-api"].ports == {
        "development": 53000,
        "staging": 53100,
        "production": None,  # "TBD (behind reverse proxy on 443)"
        "qa": 53200,
    }
    assert r.services["postgres"].ports == {
        "development": 53432,
        "staging": None,
        "production": None,
    }
    assert r.services["search"].ports == {"development": 53920, "staging": None}
    p = r.policy
    assert p.avoid == (80, 443, 5432, 8080, 9200)
    assert p.step == 10
    assert (p.last_audit, p.audit_interval_days) == (date(2026, 1, 5), 7)


def test_details_depends_on_connection_strings_and_reserved_defaults() -> None:
    r = parse(PAGES / "details_and_reserved.md").registry
    gw, worker, queue = r.services["gateway"], r.services["worker"], r.services["queue"]
    assert gw.depends_on == ("worker", "queue") and worker.depends_on == ("queue",)
    assert gw.health_check == "curl -f http://localhost:{port}/ping"
    assert gw.configuration[0].text == '[entryPoints.web]\naddress = ":{port}"'
    assert queue.health_check == "redis-cli -p {port} ping"  # not in backticks: kept as is
    assert [(c.env_var, c.template) for c in worker.connection_strings] == [
        ("BROKER_URL", "redis://localhost:53502/0"),  # another service's port stays a number
        ("RESULT_BACKEND", "redis://localhost:53502/1"),
    ]
    assert (worker.process, worker.deployment) == ("celery worker", "systemd")
    flower = r.services["flower"]
    assert (flower.status, flower.ports, flower.purpose) == (
        "reserved",
        {"development": 53600},
        "Celery monitoring UI",
    )
    # audit dates with no word: the interval is the difference in days
    assert (r.policy.last_audit, r.policy.audit_interval_days) == (date(2026, 3, 1), 14)


def test_dependencies_from_an_ascii_diagram() -> None:
    r = parse(PAGES / "ascii_topology.md").registry
    assert r.host == "10.0.0.7"
    assert r.services["frontend"].depends_on == ("backend",)
    assert r.services["backend"].depends_on == ("database",)
    assert r.services["database"].depends_on == ()


# --- bad pages ---------------------------------------------------------------------------------


def test_page_without_a_services_table() -> None:
    with pytest.raises(PortregError, match=r"^notes\.md: no services table found$"):
        markdown.parse("# Notes\n\nJust text.\n\n| A | B |\n|---|---|\n| 1 | 2 |\n", "notes.md")


def test_port_out_of_bounds_names_the_line() -> None:
    page = "| Service | Port |\n|---|---|\n| Web | 70000 |\n"
    with pytest.raises(PortregError, match=r"page\.md: line 3: port 70000 is out of bounds"):
        markdown.parse(page, "page.md")


def test_unknown_status_and_port_text_are_warnings_not_crashes() -> None:
    page = "| Service | Port | Status |\n|---|---|---|\n| Web | soon | Sleeping |\n"
    imported = markdown.parse(page, "p.md")
    web = imported.registry.services["web"]
    assert (web.status, web.ports) == ("active", {"development": None})
    assert len(imported.warnings) == 2 and all(
        w.startswith("p.md: line 3:") for w in imported.warnings
    )


# --- through the command line -------------------------------------------------------------------


def test_cli_import_of_the_seed(run: Run, tmp_path: Path) -> None:
    proc = run("import", str(SEED))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(run("list", "--json").stdout)
    by = {(r["service"], r["environment"]): r for r in rows}
    for sid, port, proto in (
        ("api-server", 54000, "http"),
        ("postgresql", 54432, "postgres"),
        ("redis", 54379, "redis"),
    ):
        dev = by[(sid, "development")]
        assert (dev["port"], dev["status"], dev["protocol"]) == (port, "active", proto)
        assert by[(sid, "staging")]["port"] is None
        assert by[(sid, "production")]["port"] is None
    assert by[("api-server", "development")]["notes"] == "FastAPI + Uvicorn"
    assert by[("postgresql", "development")]["notes"] == "Primary database"
    assert (
        by[("api-server", "development")]["health_check"]
        == "GET http://localhost:54000/api/v1/health"
    )
    assert by[("redis", "development")]["health_check"] == "redis-cli -p 54379 ping"
    assert by[("sse-worker", "development")]["port"] == 54001
    assert by[("monitoring", "development")]["port"] == 54002
    assert by[("sse-worker", "development")]["status"] == "planned"
    assert by[("monitoring", "development")]["status"] == "planned"
    assert len(rows) == 11


def test_cli_import_twice_changes_nothing(run: Run, tmp_path: Path) -> None:
    assert run("import", str(SEED)).returncode == 0
    first = (tmp_path / "ports.toml").read_bytes()
    proc = run("import", str(SEED))
    assert proc.returncode == 0, proc.stderr
    assert "already up to date" in proc.stdout
    assert (tmp_path / "ports.toml").read_bytes() == first


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.md")))
def test_cli_import_of_variant_pages_is_idempotent(run: Run, tmp_path: Path, page: str) -> None:
    assert run("import", str(PAGES / page)).returncode == 0
    first = (tmp_path / "ports.toml").read_bytes()
    assert run("import", str(PAGES / page)).returncode == 0
    assert (tmp_path / "ports.toml").read_bytes() == first


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"\n  \n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "binary"),
        (b"# Notes\n\nno table here\n", "no services table found"),
    ],
)
@pytest.mark.parametrize("with_registry", [False, True])
def test_cli_bad_pages_change_nothing(
    run: Run, tmp_path: Path, content: bytes, fragment: str, with_registry: bool
) -> None:
    if with_registry:
        assert run("import", str(SEED)).returncode == 0
    (tmp_path / "page.md").write_bytes(content)
    before = _files(tmp_path)
    proc = run("import", "page.md")
    assert_one_line_error(proc)
    assert fragment in proc.stderr and "page.md" in proc.stderr
    assert _files(tmp_path) == before  # no ports.toml created, none changed


def test_cli_records_ports_that_break_the_policy(run: Run) -> None:
    assert run("import", str(PAGES / "minimal.md")).returncode == 0
    rows = {r["service"]: r for r in json.loads(run("list", "--json").stdout)}
    assert rows["legacy-admin"]["port"] == 8080
    assert rows["outside-range"]["port"] == 60001


# --- mangled pages: a clear error or a registry the store can hold, never a crash ---------------

_PIECES = ["|", "**", "`", "(", ")", ":", "-", "99999", "┌", "▲", "│", "## ", "TBD", "/udp", "\\"]


@settings(max_examples=200, deadline=None)
@given(
    page=st.sampled_from([SEED, *sorted(PAGES.glob("*.md"))]),
    keep=st.lists(st.booleans(), min_size=300, max_size=300),
    inserts=st.lists(
        st.tuples(st.integers(0, 299), st.integers(0, 200), st.sampled_from(_PIECES)), max_size=8
    ),
)
def test_mangled_pages_never_crash(page: Path, keep: list[bool], inserts: list[Any]) -> None:
    lines = [ln for ln, k in zip(page.read_text().splitlines(), keep, strict=False) if k]
    for row, col, piece in inserts:
        if lines:
            i = row % len(lines)
            lines[i] = lines[i][:col] + piece + lines[i][col:]
    try:
        registry = markdown.parse("\n".join(lines), "m.md").registry
    except PortregError as exc:
        assert str(exc).startswith("m.md: ")
        return
    assert store.loads(store.dumps(registry)).services == registry.services
    render.markdown(registry)


def test_plain_header_labels_and_protocol_with_transport_in_words() -> None:
    page = (
        "# Port Allocation\n\nRange: 40000–40999 (avoid 8080, 9090)\n\n"
        "Last Updated: 2026-03-02\n\n## Services\n\n"
        "| Port | Name | Proto |\n|---|---|---|\n"
        "| 40001 | Metrics | StatsD (UDP) |\n| 40002 | Logs | syslog/udp |\n"
        "| 40003 | Web | HTTP over TCP |\n"
    )
    r = markdown.parse(page, "PORTS.md").registry
    policy = r.policy
    assert (policy.range_start, policy.range_end, policy.avoid) == (40000, 40999, (8080, 9090))
    assert r.last_updated == datetime(2026, 3, 2)
    got = {s.id: (s.protocol, s.transport) for s in r.services.values()}
    assert got == {"metrics": ("statsd", "udp"), "logs": ("syslog", "udp"), "web": ("http", "tcp")}


def test_pipeless_table_setext_title_odd_headings_and_multi_port_cells() -> None:
    page = (
        "Services & Ports\n================\n\nPort range: 55000-55999\n\n"
        "## Port Assignments\n\n"
        "Service | Port(s) | Proto\n--- | --- | ---\n"
        "Frontend | 55000, 55001 | HTTP\n"
        "Backend API | 55010-55012 | HTTP\n"
        "Search | ~~55020~~ 55021 | HTTP\n"
        "Cache | TBD | Redis\n"
    )
    imported = markdown.parse(page, "REG.md")
    r = imported.registry
    assert r.title == "Services & Ports"
    got = {s.id: s.ports.get("development") for s in r.services.values()}
    assert got == {"frontend": 55000, "backend-api": 55010, "search": 55021, "cache": None}
    # what could not be recorded is said, not dropped silently
    assert sum("names more than one port" in w for w in imported.warnings) == 2


def test_links_entities_thousands_several_environments_and_details_by_port() -> None:
    page = (
        "# Services and Ports Registry\n\n**Port Range:** 53000-54999\n\n## Active Services\n\n"
        "| Service | Port | Protocol | Status | Environment | Notes |\n"
        "|---|---|---|---|---|---|\n"
        "| [Auth](https://x.io/a) | 53010 | HTTP | Active | Development | OAuth &amp; OIDC |\n"
        "| **Big** | 54,000 | HTTP | Active | Development | |\n"
        "| Web | 53011 | HTTP | Active | Development, Staging | |\n"
        "| Docs | 53012 | HTTP | Active | All | |\n"
        "| Order Service | 53300 | HTTP | Active | Development | orders |\n\n"
        "## Port Details\n\n### Orders (53300)\n\n- **Process:** java\n"
    )
    r = markdown.parse(page, "p.md").registry
    assert set(r.services) == {"auth", "big", "web", "docs", "order-service"}
    assert (r.services["auth"].name, r.services["auth"].notes) == ("Auth", "OAuth & OIDC")
    assert r.services["big"].ports == {"development": 54000}
    assert r.services["web"].ports == {"development": 53011, "staging": 53011}
    assert set(r.services["docs"].ports) == {"development", "staging", "production"}
    assert r.services["order-service"].process == "java"  # the heading's port names it
