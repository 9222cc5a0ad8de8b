"""The rewriters as pure functions: what they find, and that only the port's digits change."""

from __future__ import annotations

import pytest

from portreg.errors import PortregError
from portreg.model import Registry, Service
from portreg.rewrite import Slot, compose, envfile, environment_of, split_lines
from portreg.rewrite.markdown import blocks, render_blocks
from portreg.rewrite.plan import match_name


def rewrite(text: str, slots: list[Slot], port: int) -> str:
    lines = split_lines(text)
    for slot in sorted(slots, key=lambda s: s.token.start, reverse=True):
        body = lines[slot.line].rstrip("\r\n")
        lines[slot.line] = slot.with_port(body, port) + lines[slot.line][len(body) :]
    return "".join(lines)


ENV = (
    "# comment 54432\n"
    'export DATABASE_URL="postgresql://u:12345@db.local:54432/app?x=1"  # db\n'
    "REDIS_URL = 'redis://[::1]:54379/0'\n"
    "API_PORT=54000 # inline\n"
    "MULTI=h1:54432,h2:54433\n"
    "TIME=12:30\n"
    "EMPTY=\n"
)


@pytest.mark.parametrize(
    ("line", "port"),
    [("API_PORT=53100", 53100), ("PORT=80", 80), ("TIMEOUT_MS=30000", None), ("YEAR=2024", None),
     ("WORKERS=4", None), ("START=12:30", None), ("BIND=db.internal:53010", 53010)],
)  # fmt: skip
def test_env_bare_numbers_are_ports_only_under_a_port_key(line: str, port: int | None) -> None:
    found = envfile.slots(line + "\n", ".env", "development")
    assert [s.port for s in found] == ([] if port is None else [port])


def test_env_finds_ports_in_values_only() -> None:
    found = envfile.slots(ENV, ".env", "development")
    assert [(s.owners[0], s.port) for s in found] == [
        ("DATABASE_URL", 54432),  # not the password 12345, not the comment line
        ("REDIS_URL", 54379),
        ("API_PORT", 54000),
        ("MULTI", 54432),
        ("MULTI", 54433),
    ]
    db = found[0]
    out = rewrite(ENV, [db], 54499)
    assert out == ENV.replace("db.local:54432", "db.local:54499")  # quotes, export, comment kept
    assert envfile.template(db) == "postgresql://u:12345@db.local:{port}/app?x=1"


def test_env_crlf_is_kept() -> None:
    text = "A_PORT=54000\r\nB=1\r\n"
    [slot] = envfile.slots(text, ".env", "development")
    assert rewrite(text, [slot], 54001) == "A_PORT=54001\r\nB=1\r\n"


COMPOSE = """\
x-ports: &shared
    - "53000-53002:8000-8002/udp"   # a range, four-space indent
services:
    one:
        ports: *shared
    two:
        ports: *shared
    var:
        ports:
            - "${WEB_PORT:-54100}:80"
            - "${OTHER_PORT}:81"
            - 8000
    long:
        ports:
            - target: 5432
              published: "54432"   # quoted
    flow:
        ports: ["127.0.0.1:54379:6379", '[::1]:54380:6380']
"""


def test_compose_entries_and_edits() -> None:
    found = compose.slots(COMPOSE, "docker-compose.yaml", "development")
    summary = [(s.owners, s.port, s.extra.port if s.extra else None) for s in found]
    assert summary == [
        (("one", "two"), 53000, 53002),  # one anchored entry, both services own it
        (("var",), 54100, None),  # the variable's default; ${OTHER_PORT} has none
        (("long",), 54432, None),
        (("flow",), 54379, None),
        (("flow",), 54380, None),
    ]
    shifted = rewrite(COMPOSE, [found[0]], 54010)
    assert '"54010-54012:8000-8002/udp"   # a range' in shifted
    assert shifted.replace("54010-54012", "53000-53002") == COMPOSE  # nothing else moved
    assert '"${WEB_PORT:-54200}:80"' in rewrite(COMPOSE, [found[1]], 54200)
    assert 'published: "54433"   # quoted' in rewrite(COMPOSE, [found[2]], 54433)
    flow = rewrite(COMPOSE, found[3:], 54390)
    assert "[\"127.0.0.1:54390:6379\", '[::1]:54390:6380']" in flow


def test_compose_invalid_yaml_names_file_and_line() -> None:
    with pytest.raises(PortregError) as err:
        compose.slots("services:\n  a:\n    ports: [\n", "compose.yaml", "development")
    assert err.value.message.startswith("compose.yaml: not valid YAML at line")


def test_marker_blocks_keep_surroundings() -> None:
    api = Service(id="api", name="API", ports={"development": 54000})
    registry = Registry(services={"api": api})
    text = "intro\r\n<!-- portreg:begin services -->\r\n\r\nold\r\n<!-- portreg:end -->\r\nend\r\n"
    out = render_blocks(text, "README.md", registry)
    assert out.startswith("intro\r\n<!-- portreg:begin services -->\r\n\r\n| Service |")
    assert "| **API** | 54000 |" in out
    assert out.endswith("|\r\n<!-- portreg:end -->\r\nend\r\n")
    assert "old" not in out
    assert render_blocks(out, "README.md", registry) == out


def test_markers_shown_in_code_fences_are_examples() -> None:
    api = Service(id="api", name="API", ports={"development": 54000})
    registry = Registry(services={"api": api})
    example = (
        "```markdown\n<!-- portreg:begin services -->\n<!-- portreg:end -->\n```\n"
        "~~~~\n<!-- portreg:begin nonsense -->\n~~~\n~~~~\n"
        "````\n```\n<!-- portreg:end -->\n````\n"
    )
    text = example + "<!-- portreg:begin services -->\n<!-- portreg:end -->\n"
    out = render_blocks(text, "README.md", registry)
    assert out.startswith(example)
    assert "| **API** | 54000 |" in out[len(example) :]
    assert [b.begin for b in blocks(text, "README.md")] == [text.count("\n") - 2]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("<!-- portreg:begin services -->\nx\n", "README.md:1"),
        ("<!-- portreg:end -->\n", "README.md:1"),
        ("a\n<!-- portreg:begin services -->\n<!-- portreg:begin reserved -->\n", "README.md:3"),
    ],
)
def test_broken_markers_name_the_line(text: str, where: str) -> None:
    with pytest.raises(PortregError) as err:
        blocks(text, "README.md")
    assert err.value.message.startswith(where)


def test_unknown_table_name_names_the_line() -> None:
    text = "x\n<!-- portreg:begin nonsense -->\n<!-- portreg:end -->\n"
    with pytest.raises(PortregError) as err:
        render_blocks(text, "CLAUDE.md", Registry())
    assert err.value.message.startswith("CLAUDE.md:2:")


@pytest.mark.parametrize(
    ("name", "env"),
    [
        (".env", "development"),
        (".env.example", "development"),
        (".env.staging", "staging"),
        ("deploy/.env.prod", "production"),
        ("docker-compose.production.yml", "production"),
        ("compose.override.yaml", "development"),
    ],
)
def test_environment_of(name: str, env: str) -> None:
    assert environment_of(name) == env


def test_match_name() -> None:
    reg = Registry(
        services={
            "api-server": Service(id="api-server", name="API Server", protocol="http"),
            "postgresql": Service(id="postgresql", name="PostgreSQL", protocol="postgres"),
            "redis": Service(id="redis", name="Redis", protocol="redis"),
            "redis-queue": Service(id="redis-queue", name="Redis queue", protocol="redis"),
        }
    )
    assert match_name(reg, "api") == "api-server"
    assert match_name(reg, "postgres") == "postgresql"
    assert match_name(reg, "DATABASE") == "postgresql"
    assert match_name(reg, "redis") == "redis"  # exact wins over the prefix
    assert match_name(reg, "cache") is None  # two redis-ish services: ambiguous, not a guess
    assert match_name(reg, "web") is None
