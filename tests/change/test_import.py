"""Importing docker-compose and .env files, with clashes between compose projects."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.change.conftest import COMPOSE, ENV_EXAMPLE
from tests.conftest import SEED, Run, assert_one_line_error


def _services(run: Run, cwd: Path) -> dict[str, dict[str, object]]:
    proc = run("list", "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return {(r["service"]): r for r in json.loads(proc.stdout) if r["environment"] == "development"}


def test_three_projects_publishing_one_port(tmp_path: Path, run: Run) -> None:
    projects = {
        "shop/docker-compose.yaml": (
            "services:\n  web:\n    image: nginx\n    ports: ['54000:80']\n"
            "  db:\n    image: postgres:16\n    ports: ['54432:5432']\n"
        ),
        "admin/docker-compose.yml": (
            "services:\n  admin:\n    ports:\n      - target: 8000\n        published: 54000\n"
            "  cache:\n    image: redis:7\n    ports:\n      - 54379:6379\n"
        ),
        "docs/compose.yaml": (
            "services:\n  docs:\n    ports: ['127.0.0.1:54000:8000']\n"
            "  dns:\n    ports: ['53053:53/udp']\n"
        ),
    }
    for name, text in projects.items():
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_text(text)
    proc = run("import", *projects, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # One owner, the first in (file, line) order whatever the order of the arguments; a
    # FILE:LINE line names each other claimant.
    clash_lines = [ln for ln in proc.stderr.splitlines() if "54000" in ln]
    assert sorted(ln.split(": ")[0] for ln in clash_lines) == [
        "docs/compose.yaml:3",
        "shop/docker-compose.yaml:4",
    ]
    assert all("admin's" in ln for ln in clash_lines)

    services = _services(run, tmp_path)
    assert set(services) == {"admin", "db", "cache", "dns"}
    assert services["admin"]["port"] == 54000
    assert services["db"]["port"] == 54432
    assert services["db"]["protocol"] == "postgres"
    assert (services["dns"]["port"], services["dns"]["transport"]) == (53053, "udp")

    again = tmp_path.parent / f"{tmp_path.name}-again"
    for name, text in projects.items():
        (again / name).parent.mkdir(parents=True, exist_ok=True)
        (again / name).write_text(text)
    backwards = run("import", *reversed(list(projects)), cwd=again)
    assert backwards.returncode == 1
    assert _services(run, again) == services


def test_compose_and_env_land_on_the_seeds_services(tmp_path: Path, run: Run) -> None:
    (tmp_path / "docker-compose.yaml").write_text(COMPOSE)
    (tmp_path / ".env.example").write_text(ENV_EXAMPLE)
    proc = run("import", str(SEED), "docker-compose.yaml", ".env.example", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    services = _services(run, tmp_path)
    # compose `postgres`, `api` and DATABASE_URL are the seed's postgresql and api-server
    assert set(services) == {"api-server", "postgresql", "redis", "sse-worker", "monitoring"}
    assert services["api-server"]["protocol"] == "http"
    show = json.loads(run("show", "postgresql", "--json", cwd=tmp_path).stdout)
    assert show["compose_service"] == "postgres"
    assert show["container_port"] == 5432
    assert "DATABASE_URL" in show["connection_strings"]


def test_env_alone_makes_a_registry(tmp_path: Path, run: Run) -> None:
    (tmp_path / ".env").write_text(
        "DATABASE_URL=postgresql://u:p@localhost:54432/app\n"
        "POSTGRES_PORT=54432\nREDIS_URL=redis://localhost:54379/0\n"
        "export WORKER_PORT=53010 # sse\nPOSTGRES_CONTAINER_PORT=5432\n"
    )
    proc = run("import", ".env", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    services = _services(run, tmp_path)
    assert {k: v["port"] for k, v in services.items()} == {
        "postgresql": 54432,
        "redis": 54379,
        "worker": 53010,
    }
    # a second import of the same file changes nothing
    again = run("import", ".env", cwd=tmp_path)
    assert again.returncode == 0
    assert "already up to date" in again.stdout


def test_invalid_compose_import_is_one_line_error(tmp_path: Path, run: Run) -> None:
    (tmp_path / "docker-compose.yaml").write_text("services:\n  web: [\n")
    proc = run("import", "docker-compose.yaml", cwd=tmp_path)
    assert_one_line_error(proc)
    assert "docker-compose.yaml" in proc.stderr
    assert not (tmp_path / "ports.toml").exists()


def test_second_published_port_is_its_own_service_and_reimport_changes_nothing(
    tmp_path: Path, run: Run
) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  web:\n    image: nginx\n    ports:\n"
        '      - "127.0.0.1:53080:80"   # admin UI\n      - 53443:443/tcp\n'
        "  api:\n    build: .\n    ports: ['${API_PORT:-53100}:8000']\n"
    )
    (tmp_path / ".env.example").write_text("API_PORT=53100\n")
    assert run("init", cwd=tmp_path).returncode == 0
    first = run("import", "docker-compose.yml", ".env.example", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    got = {
        (r["service"], r["port_name"]): r["port"]
        for r in json.loads(run("list", "--json", cwd=tmp_path).stdout)
    }
    # two published ports of one compose service: two named ports of one registry service
    assert got == {("web", "http"): 53080, ("web", "https"): 53443, ("api", None): 53100}
    before = (tmp_path / "ports.toml").read_bytes()
    for order in (("docker-compose.yml", ".env.example"), (".env.example", "docker-compose.yml")):
        again = run("import", *order, cwd=tmp_path)
        assert again.returncode == 0 and "already up to date" in again.stdout
    assert (tmp_path / "ports.toml").read_bytes() == before


def test_env_url_on_a_compose_port_is_that_service_in_either_order(
    tmp_path: Path, run: Run
) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  mq:\n    image: rabbitmq:3\n    ports: ['53672:5672']\n"
    )
    (tmp_path / ".env.example").write_text("MQ_URL='amqp://guest:guest@localhost:53672/'\n")
    for order in (("compose.yaml", ".env.example"), (".env.example", "compose.yaml")):
        (tmp_path / "ports.toml").unlink(missing_ok=True)
        assert run("init", cwd=tmp_path).returncode == 0
        proc = run("import", *order, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr  # no clash: one service, seen twice
        assert {sid: r["port"] for sid, r in _services(run, tmp_path).items()} == {"mq": 53672}
        text = (tmp_path / "ports.toml").read_text()
        assert 'MQ_URL = "amqp://guest:guest@localhost:{port}/"' in text


def test_override_file_adds_a_port_and_reimport_changes_nothing(tmp_path: Path, run: Run) -> None:
    """compose concatenates an override's ports with the base file's: a second named port."""
    (tmp_path / "docker-compose.yml").write_text("services:\n  web:\n    ports: ['53501:8080']\n")
    (tmp_path / "docker-compose.override.yml").write_text(
        "services:\n  web:\n    ports: ['53541:8080']\n"
    )
    (tmp_path / ".env.example").write_text("WEB_URL=http://localhost:53501/app\n")
    files = ("docker-compose.yml", "docker-compose.override.yml", ".env.example")
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("import", *files, cwd=tmp_path).returncode == 0
    got = {
        (r["service"], r["port_name"]): r["port"]
        for r in json.loads(run("list", "--json", cwd=tmp_path).stdout)
    }
    assert got == {("web", "http-alt"): 53501, ("web", "http-alt-2"): 53541}
    before = (tmp_path / "ports.toml").read_bytes()
    again = run("import", *reversed(files), cwd=tmp_path)
    assert again.returncode == 0 and "already up to date" in again.stdout, again.stdout
    assert (tmp_path / "ports.toml").read_bytes() == before


def test_yaml_that_is_not_a_compose_file(tmp_path: Path, run: Run) -> None:
    (tmp_path / "a.yaml").write_text("services: [1, 2]\n")
    (tmp_path / "b.yaml").write_text(
        "services:\n  web:\n    ports: '53001:80'\n  db: 5\n  ok:\n    ports: ['53002:80']\n"
    )
    assert run("init", cwd=tmp_path).returncode == 0
    before = (tmp_path / "ports.toml").read_bytes()
    bad = run("import", "b.yaml", "a.yaml", cwd=tmp_path)
    assert_one_line_error(bad)
    assert "a.yaml: no `services:` mapping" in bad.stderr
    assert (tmp_path / "ports.toml").read_bytes() == before  # all or nothing
    proc = run("import", "b.yaml", cwd=tmp_path)
    assert proc.returncode == 0
    assert "web: `ports` is not a list; skipped" in proc.stderr
    assert "db: not a mapping; skipped" in proc.stderr
    assert {sid: r["port"] for sid, r in _services(run, tmp_path).items()} == {"ok": 53002}


@pytest.mark.parametrize("env_name", [".env", ".env.example"])
def test_compose_variable_without_default_takes_the_env_file_value(
    tmp_path: Path, run: Run, env_name: str
) -> None:
    """`${APP_PORT}`: the project's .env (what compose reads), or a .env file imported along."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: nginx\n    ports: ['${APP_PORT}:80']\n"
    )
    (tmp_path / env_name).write_text('export APP_PORT="53100"\n')
    assert run("init", cwd=tmp_path).returncode == 0
    files = ["compose.yaml"] if env_name == ".env" else ["compose.yaml", env_name]
    proc = run("import", *files, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "skipped" not in proc.stderr
    got = {sid: (r["port"], r["protocol"]) for sid, r in _services(run, tmp_path).items()}
    assert got == {"app": (53100, "http")}


def test_a_url_to_a_containers_other_names_is_not_the_published_port(
    tmp_path: Path, run: Run
) -> None:
    """`container_name`, `hostname`, network aliases and `links` aliases name a container on
    the compose network, as its service name does: a `.env` URL to one of them is the
    container's own port, not the number some other service publishes on the host."""
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n"
        "  server:\n    image: s\n    container_name: airbyte-server\n    hostname: srv\n"
        "    networks:\n      default:\n        aliases: [api-backend]\n"
        "  proxy:\n    image: p\n    ports: ['8001:8001']\n"
        "  web:\n    image: w\n    links: ['server:legacy-api']\n"
    )
    env = (
        "INTERNAL_API_HOST=airbyte-server:8001\nAPI_HOST=http://api-backend:8001\n"
        "OLD_API=http://legacy-api:8001\nSRV=srv:8001\n"
    )
    (tmp_path / ".env").write_text(env)
    proc = run("import", "docker-compose.yml", ".env", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("compose service's own port on the compose network") == 4
    services = _services(run, tmp_path)
    assert set(services) == {"proxy"}
    moved = run("move", "proxy", "53010", "--reason", "r", cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert (tmp_path / ".env").read_text() == env
    assert "53010:8001" in (tmp_path / "docker-compose.yml").read_text()
    assert run("sync", "--check", cwd=tmp_path).returncode == 0


def test_an_env_key_the_compose_file_does_not_read_never_overrides_what_it_publishes(
    tmp_path: Path, run: Run
) -> None:
    """apache/superset's shape (without its `env_file:`): `docker/.env` says `DATABASE_HOST=db`,
    `DATABASE_PORT=5432` while compose publishes db on `5434:5433`. The published port is
    recorded, the keys are named and left alone, and `sync` and `move` keep to compose."""
    (tmp_path / "docker").mkdir()
    compose = (
        "services:\n  db:\n    image: postgres:14\n"
        "    ports:\n      - '5434:5433'\n"
        "  redis:\n    image: redis:7\n    ports:\n      - '127.0.0.1:6379:6379'\n"
    )
    (tmp_path / "docker-compose.yml").write_text(compose)
    inner = "DATABASE_HOST=db\nDATABASE_PORT=5432\nREDIS_HOST=redis\nREDIS_PORT=6379\n"
    (tmp_path / "docker" / ".env").write_text(inner)
    (tmp_path / ".env").write_text("DATABASE_PORT=5432\n")  # read by nothing
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for order in (
        ["docker-compose.yml", "docker/.env", ".env"],
        [".env", "docker/.env", "docker-compose.yml"],
    ):
        (tmp_path / "ports.toml").unlink(missing_ok=True)
        proc = run("import", *order, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "docker/.env: DATABASE_PORT is db's port on the compose network" in proc.stderr
        assert "docker/.env: REDIS_PORT is redis's port on the compose network" in proc.stderr
        assert (
            ".env: DATABASE_PORT says db is on 5432, but the compose files publish it on 5434"
            in proc.stderr
        )
        services = _services(run, tmp_path)
        assert {k: v["port"] for k, v in services.items()} == {"db": 5434, "redis": 6379}
    assert run("sync", "--check", cwd=tmp_path).returncode == 0
    assert run("move", "redis", "53100", "--reason", "r", cwd=tmp_path).returncode == 0
    assert run("move", "db", "53200", "--reason", "r", cwd=tmp_path).returncode == 0
    assert (tmp_path / "docker" / ".env").read_text() == inner
    assert (tmp_path / ".env").read_text() == "DATABASE_PORT=5432\n"
    text = (tmp_path / "docker-compose.yml").read_text()
    assert "'53200:5433'" in text and "'127.0.0.1:53100:6379'" in text
    assert run("sync", "--check", cwd=tmp_path).returncode == 0


def test_a_file_that_replaces_another_files_port_says_so(tmp_path: Path, run: Run) -> None:
    """The page says PostgreSQL is on 54432, the compose file publishes `54433:5432`: one
    import keeps the compose file's port (what runs) and names both, in either order."""
    (tmp_path / "SERVICES.md").write_text(SEED.read_text())
    (tmp_path / "docker-compose.yaml").write_text(
        "services:\n  postgres:\n    image: postgres:16\n    ports: ['54433:5432']\n"
    )
    for order in (["SERVICES.md", "docker-compose.yaml"], ["docker-compose.yaml", "SERVICES.md"]):
        (tmp_path / "ports.toml").unlink(missing_ok=True)
        proc = run("import", *order, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert (
            "docker-compose.yaml: postgresql is on 54433 in development here,"
            " SERVICES.md says 54432; recorded 54433"
        ) in proc.stderr
        assert _services(run, tmp_path)["postgresql"]["port"] == 54433
