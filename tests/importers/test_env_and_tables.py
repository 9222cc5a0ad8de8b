"""The `.env` and hand-kept-table readers on the forms the corpus has too few of."""

from __future__ import annotations

from portreg.importers import dotenv, markdown


def test_avoided_ports_are_recorded_not_skipped() -> None:
    imported = dotenv.parse("APP_PORT=3000\nWEB_PORT=8080\nAPI_PORT=53100\n", ".env")
    ports = {sid: s.ports["development"] for sid, s in imported.registry.services.items()}
    assert ports == {"app": 3000, "web": 8080, "api": 53100}
    assert imported.warnings == ()


def test_what_is_not_recorded_is_named_with_file_and_line() -> None:
    text = (
        "# a comment: KEY=1\n"
        "POSTGRES_CONTAINER_PORT=5432\n"
        "REPLICAS=db1.local:5432,db2.local:5433\n"
        "TIMEOUT_MS=30000\n"
    )
    imported = dotenv.parse(text, "env.example")
    assert imported.registry.services == {}
    assert [w.split(": ")[0] for w in imported.warnings] == [
        "env.example:2",
        "env.example:3",
    ]
    assert "container's own port" in imported.warnings[0]
    assert "2 ports (5432, 5433)" in imported.warnings[1]
    # the reader lists them all; TIMEOUT_MS is no port (its key names none)
    assert [(e.key, e.port, e.line) for e in dotenv.ports(text)] == [
        ("POSTGRES_CONTAINER_PORT", 5432, 2),
        ("REPLICAS", 5432, 3),
        ("REPLICAS", 5433, 3),
    ]


def test_a_table_reads_its_host_port_column_and_every_number_in_a_cell() -> None:
    text = (
        "# Ports\n"
        "\n"
        "| Container Name | Container Port | Host Port | Notes |\n"
        "| --- | --- | --- | --- |\n"
        "| **portainer** | 8000, 9443 | 8010, 9450 | two |\n"
        "| coturn | 3478 | 3478/udp, 49160-49162/udp | relay |\n"
        "| redis | 6379 | - | internal |\n"
        "| `proxy` | 80 | 80 / 443 | v2.0 on host:8081 |\n"
        "|  | 1 | 53100 | no name, no row |\n"
        "\n"
        "```\n"
        "| Service | Port |\n"
        "| --- | --- |\n"
        "| in-a-fence | 53200 |\n"
        "```\n"
    )
    got = [(t.service, t.port, t.line) for t in markdown.table_ports(text)]
    assert got == [
        ("portainer", 8010, 5),
        ("portainer", 9450, 5),
        ("coturn", 3478, 6),
        ("coturn", 49160, 6),
        ("coturn", 49161, 6),
        ("coturn", 49162, 6),
        ("proxy", 80, 8),
        ("proxy", 443, 8),
    ]


def test_a_table_without_a_port_column_names_no_port() -> None:
    text = "| Layer | Technologies |\n|---|---|\n| Backend | NestJS 10, Redis 7 |\n"
    assert markdown.table_ports(text) == ()
