"""`sync --check` names drift by file and line and exits 1; `sync` repairs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.change.conftest import git, hashes
from tests.conftest import Run


def test_clean_repo_checks_clean(seed_repo: Path, run: Run) -> None:
    proc = run("sync", "--check", cwd=seed_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before = hashes(seed_repo)
    again = run("sync", cwd=seed_repo)
    assert again.returncode == 0
    assert hashes(seed_repo) == before  # nothing to do: no byte written


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("docker-compose.yaml", "published: 54432", "published: 54499"),
        ("docker-compose.override.yml", '"54432:5432"', '"54498:5432"'),
        (".env.example", "@localhost:54432/", "@localhost:54497/"),
        (".env.example", "export API_PORT=54000", "export API_PORT=54010"),
        ("README.md", "| 54379 |", "| 54370 |"),
        ("CLAUDE.md", "| **Redis** | 54379 |", "| **Redis** | 54000 |"),
        ("docs/SERVICES.md", "### PostgreSQL (54432)", "### PostgreSQL (54431)"),
    ],
)
def test_hand_edit_drifts_and_sync_repairs(
    seed_repo: Path, run: Run, name: str, old: str, new: str
) -> None:
    path = seed_repo / name
    text = path.read_text()
    assert text.count(old) == 1
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new))

    check = run("sync", "--check", cwd=seed_repo)
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"drift: {name}:{line}" in check.stdout
    assert f"--- a/{name}" in check.stdout  # a unified diff of the drift
    assert f"-{text.splitlines()[line - 1].replace(old, new)}" in check.stdout
    assert git(seed_repo, "diff", "--name-only").split() == [name]  # --check wrote nothing

    as_json = run("sync", "--check", "--json", cwd=seed_repo)
    assert as_json.returncode == 1
    drift = json.loads(as_json.stdout)
    assert drift["in_sync"] is False
    assert [(f["file"], [ln["line"] for ln in f["lines"]]) for f in drift["files"]] == [
        (name, [line])
    ]

    fix = run("sync", cwd=seed_repo)
    assert fix.returncode == 0, fix.stderr
    assert f"updated {name}" in fix.stdout
    assert path.read_text() == text
    assert git(seed_repo, "status", "--porcelain") == ""
    assert run("sync", "--check", cwd=seed_repo).returncode == 0


def test_crlf_file_keeps_its_line_endings(seed_repo: Path, run: Run) -> None:
    path = seed_repo / ".env.staging"
    path.write_bytes(b"# staging\r\nDATABASE_URL=postgresql://db:54432/app\r\n")
    proc = run("add", "postgresql", "--port", "54440", "--env", "staging", cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    assert run("sync", cwd=seed_repo).returncode == 0
    assert path.read_bytes() == b"# staging\r\nDATABASE_URL=postgresql://db:54440/app\r\n"


def test_sync_without_registry_is_one_line_error(tmp_path: Path, run: Run) -> None:
    from tests.conftest import assert_one_line_error

    assert_one_line_error(run("sync", "--check", cwd=tmp_path))


def test_pre_commit_hook_runs_sync_check() -> None:
    from ruamel.yaml import YAML

    hooks = YAML(typ="safe").load(Path(__file__).parents[2].joinpath(".pre-commit-hooks.yaml"))
    [hook] = hooks
    assert hook["entry"] == "portreg sync --check"
    assert hook["pass_filenames"] is False


def _add_sync_table(repo: Path, body: str) -> None:
    path = repo / "ports.toml"
    path.write_text(path.read_text() + f"\n[sync]\n{body}\n")


def test_named_page_is_created_and_other_pages_are_left_alone(seed_repo: Path, run: Run) -> None:
    """With `[sync] page` that file alone is the page; a fixture page elsewhere is left alone."""
    fixture = seed_repo / "fixtures" / "other-team.md"
    fixture.parent.mkdir()
    other = (seed_repo / "docs/SERVICES.md").read_text().replace("54432", "53432")
    fixture.write_text(other)
    assert run("sync", "--check", cwd=seed_repo).returncode == 1  # by default it is a page too

    _add_sync_table(seed_repo, 'page = "generated/PORTS.md"\nexclude = []')
    check = run("sync", "--check", cwd=seed_repo)
    assert check.returncode == 1
    assert "generated/PORTS.md" in check.stdout and "other-team.md" not in check.stdout
    assert not (seed_repo / "generated").exists()  # --check writes nothing

    assert run("sync", cwd=seed_repo).returncode == 0
    assert (seed_repo / "generated/PORTS.md").read_text() == run("render", cwd=seed_repo).stdout
    assert fixture.read_text() == other
    assert run("sync", "--check", cwd=seed_repo).returncode == 0


@pytest.mark.parametrize("pattern", ["fixtures/", "fixtures/*", "*.staging"])
def test_excluded_files_are_neither_checked_nor_rewritten(
    seed_repo: Path, run: Run, pattern: str
) -> None:
    target = "fixtures/.env.staging" if pattern.startswith("fixtures") else ".env.staging"
    path = seed_repo / target
    path.parent.mkdir(exist_ok=True)
    assert (
        run("add", "postgresql", "--port", "54440", "--env", "staging", cwd=seed_repo).returncode
        == 0
    )
    assert run("sync", cwd=seed_repo).returncode == 0
    path.write_text("DATABASE_URL=postgresql://db:53999/app\n")
    check = run("sync", "--check", cwd=seed_repo)
    assert check.returncode == 1 and f"drift: {target}:1" in check.stdout

    _add_sync_table(seed_repo, f'exclude = ["{pattern}"]')
    assert run("sync", "--check", cwd=seed_repo).returncode == 0
    assert run("sync", cwd=seed_repo).returncode == 0
    assert path.read_text() == "DATABASE_URL=postgresql://db:53999/app\n"
    refs = run("refs", "53999", cwd=seed_repo)
    assert target not in refs.stdout


def test_sync_table_and_foreign_tables_survive_a_write(seed_repo: Path, run: Run) -> None:
    path = seed_repo / "ports.toml"
    path.write_text(
        path.read_text() + '\n[sync]\nexclude = ["tests/"]\n\n[tool.other]\nkeep = "me"\n'
    )
    assert run("assign", "new-svc", cwd=seed_repo).returncode == 0
    text = path.read_text()
    assert '[sync]\nexclude = ["tests/"]' in text
    assert '[tool.other]\nkeep = "me"' in text


@pytest.mark.parametrize("body", ["exclude = 5", 'exclude = [1, "a"]', "page = 3"])
def test_bad_sync_table_is_one_line_error(seed_repo: Path, run: Run, body: str) -> None:
    from tests.conftest import assert_one_line_error

    _add_sync_table(seed_repo, body)
    before = (seed_repo / "ports.toml").read_bytes()
    assert_one_line_error(run("sync", cwd=seed_repo))
    assert (seed_repo / "ports.toml").read_bytes() == before


def test_env_key_of_a_service_with_a_second_port_still_drifts(tmp_path: Path, run: Run) -> None:
    """`API_PORT` is `api`'s even beside `api-9000` (the same compose service's other port)."""
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  api:\n    ports:\n      - '53502:8000'\n      - '53503:9000/udp'\n"
    )
    env_file = tmp_path / ".env.example"
    env_file.write_text("API_PORT=53502\n")
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("import", "docker-compose.yml", ".env.example", cwd=tmp_path).returncode == 0
    assert run("sync", "--check", cwd=tmp_path).returncode == 0
    env_file.write_text("API_PORT=53998\n")
    check = run("sync", "--check", cwd=tmp_path)
    assert check.returncode == 1 and "drift: .env.example:1" in check.stdout
    assert run("sync", cwd=tmp_path).returncode == 0
    assert env_file.read_text() == "API_PORT=53502\n"
