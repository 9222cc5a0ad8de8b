"""`move`: exactly the lines carrying the port change, one change-log entry, all or nothing."""

from __future__ import annotations

import re
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.change.conftest import MANUAL, PAGE, REWRITTEN, git, hashes
from tests.conftest import Run, assert_one_line_error

REASON = "54432 collides with the CI database"


def diff_lines(repo: Path, name: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines of one file in `git diff`."""
    out = git(repo, "diff", "--unified=0", "--no-color", "--", name)
    removed = [ln[1:] for ln in out.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:] for ln in out.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return removed, added


def test_move_changes_exactly_the_lines_carrying_the_port(seed_repo: Path, run: Run) -> None:
    before = {name: (seed_repo / name).read_text() for name in REWRITTEN}
    changes_before = tomllib.loads((seed_repo / "ports.toml").read_text())["changes"]

    proc = run("move", "postgresql", "54433", "--reason", REASON, cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    assert "54432 -> 54433" in proc.stdout

    changed = set(git(seed_repo, "diff", "--name-only").split())
    assert changed == {*REWRITTEN, PAGE, "ports.toml"}
    for name in REWRITTEN:
        carrying = [ln for ln in before[name].splitlines() if re.search(r"\b54432\b", ln)]
        removed, added = diff_lines(seed_repo, name)
        assert removed == carrying, name  # every line with the port, and nothing else
        assert added == [ln.replace("54432", "54433") for ln in carrying], name
        assert (seed_repo / name).read_text().count("54433") == len(carrying)
    # Comments, quotes, export, anchors survive (they are on the changed lines too).
    env = (seed_repo / ".env.example").read_text()
    url = "postgresql+asyncpg://postgres:postgres@localhost:54433/claude_agent"
    assert f'DATABASE_URL="{url}"  # primary db' in env
    assert "POSTGRES_CONTAINER_PORT=5432\n" in env  # the container's port is not ours
    compose = (seed_repo / "docker-compose.yaml").read_text()
    assert "published: 54433        # long syntax" in compose

    for name in MANUAL:  # mentions no rewriter handles stay for a person (see `refs`)
        assert git(seed_repo, "diff", "--", name) == ""

    registry = tomllib.loads((seed_repo / "ports.toml").read_text())
    assert registry["services"]["postgresql"]["ports"]["development"] == 54433
    new_entries = registry["changes"][len(changes_before) :]
    assert len(new_entries) == 1
    entry = new_entries[0]
    assert (entry["action"], entry["service"], entry["environment"]) == (
        "move",
        "postgresql",
        "development",
    )
    assert (entry["old"], entry["new"], entry["reason"], entry["who"]) == (
        54432,
        54433,
        REASON,
        "Test Dev",
    )
    page = (seed_repo / PAGE).read_text()
    assert f"| move | postgresql | development | 54432 | 54433 | {REASON} |" in page
    stamp = entry["at"].strftime("%Y-%m-%d %H:%M:%S")
    assert f"**Last Updated:** {stamp}" in page

    check = run("sync", "--check", cwd=seed_repo)
    assert check.returncode == 0, check.stdout + check.stderr


def test_move_json_lists_files_and_lines(seed_repo: Path, run: Run) -> None:
    import json

    proc = run("move", "redis", "54380", "--reason", "r", "--json", cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["service"], data["old"], data["new"]) == ("redis", 54379, 54380)
    files = {f["file"]: f["lines"] for f in data["files"]}
    old, new = "REDIS_URL='redis://localhost:54379/0'", "REDIS_URL='redis://localhost:54380/0'"
    assert files[".env.example"] == [{"line": 4, "old": old, "new": new}]
    compose_line = files["docker-compose.yaml"][0]["new"]
    assert compose_line == "      - '127.0.0.1:54380:6379'  # loopback only"


def _free_port_in_range(registered: set[int]) -> tuple[socket.socket, int]:
    """A socket listening on a port of the seed's range that nothing else holds."""
    for port in range(54990, 53000, -1):
        if port in registered:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        s.listen()
        return s, port
    raise AssertionError("no free port in 53000-54990")


@pytest.mark.parametrize(
    ("service", "port", "expect"),
    [
        ("postgresql", "5432", "avoid list"),
        ("postgresql", "54000", "already registered to api-server"),
        ("postgresql", "54001", "already registered to sse-worker"),  # a reserved port
        ("postgresql", "52000", "outside the range"),
        ("no-such-service", "54500", "unknown service"),
    ],
)
def test_refused_move_changes_no_byte(
    seed_repo: Path, run: Run, service: str, port: str, expect: str
) -> None:
    before = hashes(seed_repo)
    proc = run("move", service, port, "--reason", "r", cwd=seed_repo)
    assert_one_line_error(proc)
    assert expect in proc.stderr
    assert hashes(seed_repo) == before


def test_move_to_a_live_port_is_refused(seed_repo: Path, run: Run) -> None:
    registered = {54000, 54001, 54002, 54379, 54432}
    sock, port = _free_port_in_range(registered)
    try:
        before = hashes(seed_repo)
        proc = run("move", "postgresql", str(port), "--reason", "r", cwd=seed_repo)
        assert_one_line_error(proc)
        assert "is in use on the host" in proc.stderr
        assert hashes(seed_repo) == before
    finally:
        sock.close()


def test_invalid_compose_yaml_stops_the_move(seed_repo: Path, run: Run) -> None:
    (seed_repo / "docker-compose.prod.yaml").write_text("services:\n  api: [\n    ports:\n")
    before = hashes(seed_repo)
    proc = run("move", "postgresql", "54433", "--reason", "r", cwd=seed_repo)
    assert_one_line_error(proc)
    assert "docker-compose.prod.yaml" in proc.stderr
    assert "not valid YAML" in proc.stderr
    assert hashes(seed_repo) == before


def test_unclosed_marker_stops_the_move(seed_repo: Path, run: Run) -> None:
    with (seed_repo / "CLAUDE.md").open("a") as fh:
        fh.write("\n<!-- portreg:begin services -->\n")
    before = hashes(seed_repo)
    proc = run("move", "postgresql", "54433", "--reason", "r", cwd=seed_repo)
    assert_one_line_error(proc)
    assert "CLAUDE.md:" in proc.stderr
    assert hashes(seed_repo) == before


def test_a_write_failing_half_way_restores_every_file(seed_repo: Path, run: Run) -> None:
    """docs/ made immutable: the page is written after .env.example, CLAUDE.md, README.md and
    the compose files, so the move fails half-way and must put those back."""
    docs = seed_repo / "docs"
    locked = subprocess.run(["chattr", "+i", str(docs)], capture_output=True, check=False)
    if locked.returncode != 0:
        pytest.skip(f"chattr +i not available here: {locked.stderr!r}")
    try:
        before = hashes(seed_repo)
        proc = run("move", "postgresql", "54433", "--reason", "r", cwd=seed_repo)
        assert_one_line_error(proc)
        assert "docs/SERVICES.md" in proc.stderr
        assert "restored" in proc.stderr
        assert hashes(seed_repo) == before
        assert git(seed_repo, "status", "--porcelain") == ""
    finally:
        subprocess.run(["chattr", "-i", str(docs)], check=True)


def test_move_to_the_same_port_changes_nothing(seed_repo: Path, run: Run) -> None:
    before = hashes(seed_repo)
    proc = run("move", "postgresql", "54432", "--reason", "r", cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    assert "already on port 54432" in proc.stdout
    assert hashes(seed_repo) == before


def test_move_learns_a_compose_service_found_by_its_port(seed_repo: Path, run: Run) -> None:
    """A compose service with an unrelated name is found by its port and recorded, so a
    later `sync` still knows it belongs to postgresql."""
    (seed_repo / "docker-compose.ci.yaml").write_text(
        'services:\n  main-store:\n    ports:\n      - "54432:5432"\n'
    )
    proc = run("move", "postgresql", "54433", "--reason", "r", cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    assert '"54433:5432"' in (seed_repo / "docker-compose.ci.yaml").read_text()
    registry = tomllib.loads((seed_repo / "ports.toml").read_text())
    assert registry["services"]["postgresql"]["compose_service"] == "main-store"
    (seed_repo / "docker-compose.ci.yaml").write_text(
        'services:\n  main-store:\n    ports:\n      - "54499:5432"\n'
    )
    check = run("sync", "--check", cwd=seed_repo)
    assert check.returncode == 1
    assert "drift: docker-compose.ci.yaml:4" in check.stdout


def test_move_in_one_environment_leaves_the_others(seed_repo: Path, run: Run) -> None:
    staging = seed_repo / ".env.staging"
    staging.write_text("DATABASE_URL=postgresql://app@db.staging:54435/app\n")
    # Only a port the service has moves (the rule at every door): staging gets one first.
    added = run("add", "postgresql", "--port", "54435", "--env", "staging", cwd=seed_repo)
    assert added.returncode == 0, added.stderr
    proc = run("move", "postgresql", "54440", "--env", "staging", "--reason", "r", cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    assert staging.read_text() == "DATABASE_URL=postgresql://app@db.staging:54440/app\n"
    assert set(git(seed_repo, "diff", "--name-only").split()) == {
        "ports.toml",
        PAGE,
        "CLAUDE.md",  # its environments table has a Staging column
        "README.md",  # the services table gains a Staging row
    }
    assert "54432" in (seed_repo / ".env.example").read_text()  # development stays
    registry = tomllib.loads((seed_repo / "ports.toml").read_text())
    assert registry["services"]["postgresql"]["ports"] == {
        "development": 54432,
        "staging": 54440,
        "production": "TBD",
    }
    assert run("sync", "--check", cwd=seed_repo).returncode == 0


def test_a_published_range_moves_whole_and_only_onto_free_ports(tmp_path: Path, run: Run) -> None:
    repo = tmp_path / "ranges"
    repo.mkdir()
    (repo / "docker-compose.yml").write_text(
        "services:\n  range:\n    ports:\n      - '53510-53512:10000-10002/udp'\n"
        "  api:\n    ports: ['53550:80/udp']\n"
    )
    git(repo, "init", "-q")
    assert run("init", cwd=repo).returncode == 0
    assert run("import", "docker-compose.yml", cwd=repo).returncode in (0, 1)
    before = hashes(repo)
    # 53549 is free, but 53549-53551 would cover api's 53550 (UDP too: uniqueness is per
    # host, transport and port)
    refused = run("move", "range", "53549", "--reason", "x", cwd=repo)
    assert_one_line_error(refused)
    assert "53550" in refused.stderr
    assert hashes(repo) == before
    moved = run("move", "range", "53600", "--reason", "x", cwd=repo)
    assert moved.returncode == 0, moved.stderr
    assert "'53600-53602:10000-10002/udp'" in (repo / "docker-compose.yml").read_text()
    ports = tomllib.loads((repo / "ports.toml").read_text())["services"]["range"]["ports"]
    assert ports == {"development": "53600-53602"}  # one registration, moved whole


@pytest.mark.parametrize(
    ("name", "text", "edit", "service"),
    [
        (
            "compose.yaml",
            "services:\n  web:\n    image: nginx\n    ports:\n"
            "      - name: http\n        target: 80\n        published: 8080\n",
            ("published: 8080", "published: 8088"),
            "web",
        ),
        (
            "docker-compose.yml",
            "services:\n  rss:\n    image: freshrss\n    ports: ['8082:80']\n",
            ("8082:80", "8083:80"),
            "rss",
        ),
        (".env.example", "WEB_PORT=127.0.0.1:8181\n", (":8181", ":8282"), "web"),
    ],
)
def test_a_place_edited_by_hand_stops_the_move(
    tmp_path: Path, run: Run, name: str, text: str, edit: tuple[str, str], service: str
) -> None:
    """A recorded place that now says another number is drift, not the port: the move
    refuses (naming FILE:LINE and both numbers) rather than write the new port over it."""
    (tmp_path / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert run("import", name, cwd=tmp_path).returncode == 0
    (tmp_path / name).write_text(text.replace(*edit))
    assert run("sync", "--check", cwd=tmp_path).returncode == 1
    before = hashes(tmp_path)
    proc = run("move", service, "53500", "--reason", "r", cwd=tmp_path)
    assert_one_line_error(proc)
    number = re.search(r"\d{4}", edit[1])
    assert number is not None and f"says {number.group()}" in proc.stderr and name in proc.stderr
    assert hashes(tmp_path) == before
    # once `sync` puts the registered port back, the move goes through
    assert run("sync", cwd=tmp_path).returncode == 0
    moved = run("move", service, "53500", "--reason", "r", cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert "53500" in (tmp_path / name).read_text()
