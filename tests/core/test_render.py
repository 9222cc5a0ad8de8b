"""Rendering the registry back: the seed's page, marker tables, JSON, topology; round trips."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from portreg import render
from portreg.errors import PortregError
from portreg.importers import markdown
from portreg.model import (
    ChangeEntry,
    CodeBlock,
    ConnectionString,
    Policy,
    Registry,
    Section,
    Service,
    service_id,
)
from tests.conftest import DATA, SEED, Run

PAGES = DATA / "pages"


def seed_registry() -> Registry:
    return markdown.parse(SEED.read_text(), "seed.md").registry


# --- the page ----------------------------------------------------------------------------------


def test_page_states_every_fact_of_the_seed() -> None:
    r = replace(seed_registry(), last_updated=datetime(2026, 2, 3, 4, 5, 6))
    page = render.markdown(r)
    headings = [ln for ln in page.splitlines() if ln.startswith("## ")]
    assert headings == [
        "## Active Services",
        "## Port Assignment Rules",
        "## Port Details",
        "## Reserved Ports (Planned Services)",
        "## Port Conflict Resolution",
        "## Environment-Specific Ports",
        "## Network Topology",
        "## Maintenance Notes",
        "## Change Log",
    ]
    assert page.startswith("# Services and Ports Registry\n\n**Purpose:** Central registry")
    assert (
        "**Port Range:** 53000-54999 (avoiding common ports 22, 25, 53, 80, 443, 3000, 3306, "
        "5000, 5432, 5672, 6379, 8000, 8080, 8443, 9000, 9092, 27017)"
    ) in page
    assert "**Last Updated:** 2026-02-03 04:05:06" in page
    assert "| **API Server** | 54000 | HTTP | Active | Development | FastAPI + Uvicorn |" in page
    assert "| **PostgreSQL** | 54432 | TCP | Active | Development | Primary database |" in page
    assert "| 54001 | SSE Worker | Planned | Dedicated SSE streaming worker |" in page
    assert "### API Server (54000)" in page
    assert "- **Health Check:** `GET http://localhost:54000/api/v1/health`" in page
    assert (
        "DATABASE_URL=postgresql+asyncpg://postgres:postgres@localhost:54432/claude_agent" in page
    )
    assert '      - "54379:6379"' in page
    assert "- Databases: 5432 (Postgres), 3306 (MySQL), 27017 (MongoDB), 6379 (Redis)" in page
    assert "Container Host (100.120.242.29)" in page
    assert "Last audit: 2026-01-10\nNext audit: 2026-02-09 (every 30 days)" in page
    assert "- [ ] Check for undocumented services on high ports" in page


def test_render_is_deterministic() -> None:
    r = seed_registry()
    assert render.markdown(r) == render.markdown(seed_registry())
    assert render.to_json(r) == render.to_json(seed_registry())


def test_change_log_newest_last_and_extra_sections() -> None:
    r = seed_registry()
    r = r.with_change(
        ChangeEntry(datetime(2026, 1, 2, 3, 4, 5), "ann", "add", "redis", "", None, 54379)
    )
    r = r.with_change(
        ChangeEntry(
            datetime(2026, 2, 1), "bob", "move", "redis", "development", 54379, 54380, "clash"
        )
    )
    r = replace(r, extra_sections=(Section("Contacts", "Ask #infra."),))
    page = render.markdown(r)
    log = page.split("## Change Log")[1]
    assert log.index("| 2026-01-02 03:04:05 | ann | add |") < log.index(
        "| 2026-02-01 00:00:00 | bob | move | redis | development | 54379 | 54380 | clash |"
    )
    assert "## Contacts\n\nAsk #infra.\n" in page
    assert "**Last Updated:** 2026-02-01 00:00:00" in page
    back = markdown.parse(page, "p.md").registry
    assert back.extra_sections == (Section("Contacts", "Ask #infra."),)  # the log is not kept


def test_marker_tables() -> None:
    r = seed_registry()
    assert render.marker_table(r, "services") == (
        "| Service | Port | Protocol | Status | Environment | Notes |\n"
        "|---------|------|----------|--------|-------------|-------|\n"
        "| **API Server** | 54000 | HTTP | Active | Development | FastAPI + Uvicorn |\n"
        "| **PostgreSQL** | 54432 | TCP | Active | Development | Primary database |\n"
        "| **Redis** | 54379 | TCP | Active | Development | Cache + Pub/Sub |"
    )
    assert render.marker_table(r, "reserved") == (
        "| Port | Service | Status | Purpose |\n"
        "|------|---------|--------|---------|\n"
        "| 54001 | SSE Worker | Planned | Dedicated SSE streaming worker |\n"
        "| 54002 | Monitoring | Planned | Prometheus metrics endpoint |"
    )
    assert render.marker_table(r, "environments") == (
        "| Service | Development | Staging | Production |\n"
        "|---------|-------------|---------|------------|\n"
        "| **API Server** | 54000 | TBD | TBD |\n"
        "| **PostgreSQL** | 54432 | TBD | TBD |\n"
        "| **Redis** | 54379 | TBD | TBD |\n"
        "| **SSE Worker** | 54001 | — | — |\n"
        "| **Monitoring** | 54002 | — | — |"
    )
    page = render.markdown(r)
    for name in render.MARKER_TABLES:  # exactly the tables the page uses
        assert render.marker_table(r, name) in page
    with pytest.raises(PortregError, match="unknown table 'ports'"):
        render.marker_table(r, "ports")


def test_json_document() -> None:
    doc = json.loads(render.to_json(seed_registry()))
    assert doc["policy"]["range"] == [53000, 54999]
    assert doc["policy"]["last_audit"] == "2026-01-10"
    assert doc["policy"]["next_audit"] == "2026-02-09"  # 30 days, not a calendar month
    assert doc["host"] == "100.120.242.29"
    api = doc["services"][0]
    assert api["service"] == "api-server"
    assert api["health_check"] == "GET http://localhost:54000/api/v1/health"
    assert api["depends_on"] == ["postgresql", "redis"]
    pg = doc["services"][1]
    assert pg["connection_strings"]["DATABASE_URL"].endswith(":54432/claude_agent")
    assert [s["service"] for s in doc["services"]][-2:] == ["sse-worker", "monitoring"]


def test_topology_reads_back_as_the_same_dependencies() -> None:
    r = seed_registry()
    diagram = render.topology(r)
    assert "Container Host (100.120.242.29)" in diagram
    for text in ("PostgreSQL", ":54432", "Redis", ":54379", "API Server", ":54000", "Developers"):
        assert text in diagram
    assert "SSE Worker" not in diagram  # planned services are not running on the host
    edges = set(markdown.diagram_edges(diagram))
    assert {("API Server", "PostgreSQL"), ("API Server", "Redis")} <= edges


def test_topology_of_a_chain_and_a_fan_in() -> None:
    def svc(name: str, port: int, *deps: str) -> Service:
        return Service(service_id(name), name, {"development": port}, depends_on=deps)

    r = Registry(
        services={
            s.id: s
            for s in (
                svc("Web", 54010, "api"),
                svc("Api", 54011, "db", "cache"),
                svc("Jobs", 54012, "db"),
                svc("Db", 54013),
                svc("Cache", 54014),
            )
        }
    )
    edges = {(a, b) for a, b in markdown.diagram_edges(render.topology(r)) if "Host" not in b}
    assert edges >= {("Web", "Api"), ("Api", "Db"), ("Api", "Cache"), ("Jobs", "Db")}
    # and the page itself states them as bullets, read back exactly
    back = markdown.parse(render.markdown(r), "p.md").registry
    assert {s.id: s.depends_on for s in back.services.values()} == {
        s.id: s.depends_on for s in r.services.values()
    }


# --- round trips through the command line -------------------------------------------------------


def _round_trip(run: Run, tmp_path: Path, page: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    proc = run("import", str(page), cwd=first)
    assert proc.returncode == 0, proc.stderr
    rendered = run("render", cwd=first)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == run("render", cwd=first).stdout  # same registry, same bytes
    (second / "page.md").write_text(rendered.stdout)
    proc = run("import", "page.md", cwd=second)
    assert proc.returncode == 0, proc.stderr
    listed = [json.loads(run("list", "--json", cwd=d).stdout) for d in (first, second)]
    assert listed[0] == listed[1]
    docs = [json.loads(run("render", "--format", "json", cwd=d).stdout) for d in (first, second)]
    for doc in docs:
        del doc["changes"], doc["last_updated"], doc["project"]
    assert docs[0] == docs[1]  # policy, host, sections and every detail too


def test_round_trip_of_the_seed(run: Run, tmp_path: Path) -> None:
    _round_trip(run, tmp_path, SEED)


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.md")))
def test_round_trip_of_variant_pages(run: Run, tmp_path: Path, page: str) -> None:
    _round_trip(run, tmp_path, PAGES / page)


def test_render_formats_through_the_cli(run: Run) -> None:
    assert run("import", str(SEED)).returncode == 0
    topo = run("render", "--format", "topology")
    assert topo.returncode == 0 and "Container Host (100.120.242.29)" in topo.stdout
    doc = json.loads(run("render", "--format", "json").stdout)
    assert len(doc["services"]) == 5


# --- any registry: render → import gives it back ------------------------------------------------

_WORDS = ["Alpha", "Beta", "Api", "Worker", "Queue", "Redis", "Cache", "Postgres", "Search", "Mail"]
_TEXT = st.text(alphabet=st.sampled_from("abcXYZ019 ,.+-/()|:"), min_size=0, max_size=30).map(
    lambda s: " ".join(s.split())
)
_ENVS = ["development", "staging", "production", "qa"]


@st.composite
def registries(draw: st.DrawFn) -> Registry:
    names = draw(
        st.lists(
            st.lists(st.sampled_from(_WORDS), min_size=1, max_size=2).map(" ".join),
            min_size=1,
            max_size=6,
            unique_by=service_id,
        )
    )
    ids = [service_id(n) for n in names]
    services: list[Service] = []
    for sid, name in zip(ids, names, strict=True):
        envs = draw(st.lists(st.sampled_from(_ENVS), min_size=1, max_size=4, unique=True))
        ports = {e: draw(st.none() | st.integers(1, 65535)) for e in envs}
        s = Service(
            sid,
            name,
            ports,
            protocol=draw(
                st.sampled_from(["http", "https", "tcp", "udp", "postgres", "redis", "grpc"])
            ),
            transport=draw(st.sampled_from(["tcp", "udp"])),
            status=draw(st.sampled_from(["active", "planned", "reserved", "deprecated"])),
            notes=draw(_TEXT),
            purpose=draw(_TEXT),
            description=draw(_TEXT),
            process=draw(st.sampled_from(["", "postgres", "uvicorn"])),
            tls=draw(_TEXT),
            depends_on=tuple(
                draw(st.lists(st.sampled_from([i for i in ids if i != sid] or [sid]), unique=True))
            )
            if len(ids) > 1
            else (),
        )
        if s.primary_port is not None and draw(st.booleans()):
            s = replace(
                s,
                health_check="GET http://localhost:{port}/health",
                configuration=(CodeBlock("bash", "serve --port {port}\n# done"),),
                connection_strings=(ConnectionString("APP_URL", "http://localhost:{port}/x"),),
            )
        services.append(s)
    # the page lists active services first, then reserved ones
    services.sort(key=lambda s: s.reserved)
    start = draw(st.integers(1024, 60000))
    policy = Policy(
        start,
        draw(st.integers(start, 65535)),
        tuple(sorted(draw(st.sets(st.integers(1, 65535), min_size=1, max_size=6)))),
        draw(st.integers(1, 10)),
        draw(st.sampled_from([7, 14, 30, 90])),
        draw(st.none() | st.dates(date(2020, 1, 1), date(2030, 1, 1))),
    )
    return Registry(
        title=draw(st.sampled_from(["Services and Ports Registry", "Port Map"])),
        purpose=draw(_TEXT),
        host=draw(st.sampled_from(["", "10.0.0.1", "box.example"])),
        policy=policy,
        services={s.id: s for s in services},
        extra_sections=tuple(
            Section(h, "Some text.\n\n- a point")
            for h in draw(st.sets(st.sampled_from(["Contacts", "Glossary"])))
        ),
        last_updated=datetime(2026, 1, 1, 12, 0, 0),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registries())
def test_any_registry_reads_back_from_its_page(r: Registry) -> None:
    page = render.markdown(r)
    imported = markdown.parse(page, "page.md")
    back = imported.registry
    assert imported.warnings == ()
    assert back.services == r.services
    assert list(back.services) == list(r.services)
    assert back.policy == r.policy
    assert (back.title, back.purpose, back.host, back.last_updated) == (
        r.title,
        r.purpose,
        r.host,
        r.last_updated,
    )
    assert set(back.extra_sections) == set(r.extra_sections)
    assert render.markdown(back) == page
