"""Nothing outside the repository is read, printed or written; a symlinked registry stays one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.change.conftest import PAGE, hashes, seed_repo
from tests.conftest import Run, assert_one_line_error, portreg_cmd

__all__ = ["seed_repo"]  # the fixture, re-used

SECRET = "ssh-ed25519 AAAASECRETKEY54432 admin@prod\n"


def _set_page(repo: Path, page: str) -> None:
    reg = repo / "ports.toml"
    text = reg.read_text()
    assert "[sync]" not in text
    reg.write_text(text + f'\n[sync]\npage = "{page}"\n')


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the repository, with a secret that must stay untouched and unread."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "authorized_keys").write_text(SECRET)
    return d


def _untouched(outside: Path, before: dict[str, str]) -> None:
    assert hashes(outside) == before
    assert (outside / "authorized_keys").read_text() == SECRET


@pytest.mark.parametrize("check", [True, False])
def test_page_escaping_with_dotdot_is_refused(
    seed_repo: Path, outside: Path, run: Run, check: bool
) -> None:
    _set_page(seed_repo, "../outside/home/.ssh/authorized_keys")
    repo_before, out_before = hashes(seed_repo), hashes(outside)
    proc = run("sync", *(["--check"] if check else []), cwd=seed_repo)
    assert_one_line_error(proc)
    assert "outside the repository" in proc.stderr
    assert not (outside / "home").exists()  # not even the directories
    _untouched(outside, out_before)
    assert hashes(seed_repo) == repo_before


def test_absolute_page_outside_is_refused(seed_repo: Path, outside: Path, run: Run) -> None:
    _set_page(seed_repo, str(outside / "authorized_keys"))
    out_before = hashes(outside)
    proc = run("sync", cwd=seed_repo)
    assert_one_line_error(proc)
    _untouched(outside, out_before)


def test_absolute_page_inside_is_written(seed_repo: Path, run: Run) -> None:
    _set_page(seed_repo, str(seed_repo / "docs" / "PORTS.md"))
    proc = run("sync", cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    assert (seed_repo / "docs" / "PORTS.md").read_text() == run("render", cwd=seed_repo).stdout


@pytest.mark.parametrize("check", [True, False])
def test_page_symlinked_outside_is_neither_printed_nor_written(
    seed_repo: Path, outside: Path, run: Run, check: bool
) -> None:
    page = seed_repo / PAGE
    page.unlink()
    page.symlink_to(outside / "authorized_keys")
    _set_page(seed_repo, PAGE)
    out_before = hashes(outside)
    proc = run("sync", *(["--check"] if check else []), cwd=seed_repo)
    assert_one_line_error(proc)
    assert "symlink" in proc.stderr
    assert "SECRETKEY" not in proc.stdout + proc.stderr
    _untouched(outside, out_before)
    assert page.is_symlink()


def test_env_file_symlinked_outside_is_refused(seed_repo: Path, outside: Path, run: Run) -> None:
    (outside / ".env").write_text("API_PORT=54000\nSECRET_TOKEN=hunter2\n")
    (seed_repo / ".env").symlink_to(outside / ".env")
    out_before = hashes(outside)
    for args in (("sync", "--check"), ("sync",), ("move", "api", "54100", "--reason", "x")):
        proc = run(*args, cwd=seed_repo)
        assert_one_line_error(proc)
        assert "hunter2" not in proc.stdout + proc.stderr
    assert hashes(outside) == out_before


def test_excluding_the_link_lets_sync_run(seed_repo: Path, outside: Path, run: Run) -> None:
    (outside / ".env").write_text("API_PORT=1\n")
    (seed_repo / ".env").symlink_to(outside / ".env")
    reg = seed_repo / "ports.toml"
    reg.write_text(reg.read_text() + '\n[sync]\nexclude = [".env"]\n')
    proc = run("sync", cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    assert (outside / ".env").read_text() == "API_PORT=1\n"


def test_directory_symlinked_outside_is_refused(seed_repo: Path, outside: Path, run: Run) -> None:
    (outside / "docker-compose.yml").write_text('services:\n  x:\n    ports: ["54432:5432"]\n')
    (seed_repo / "deploy").symlink_to(outside, target_is_directory=True)
    # git lists a symlinked directory as one file; the walk outside git would descend into it
    for name in ("deploy/docker-compose.yml",):
        from portreg.errors import PortregError
        from portreg.rewrite.repo import read_text

        with pytest.raises(PortregError, match="outside the repository"):
            read_text(seed_repo, name)
    out_before = hashes(outside)
    assert run("sync", cwd=seed_repo).returncode == 0  # git lists the link, not what it holds
    assert hashes(outside) == out_before


def test_refs_refuses_a_candidate_linked_outside(seed_repo: Path, outside: Path, run: Run) -> None:
    (seed_repo / "notes.txt").symlink_to(outside / "authorized_keys")
    proc = run("refs", "54432", cwd=seed_repo)
    assert_one_line_error(proc)
    assert "SECRETKEY" not in proc.stdout + proc.stderr


def test_move_with_page_outside_changes_nothing(seed_repo: Path, outside: Path, run: Run) -> None:
    _set_page(seed_repo, "../outside/authorized_keys")
    repo_before, out_before = hashes(seed_repo), hashes(outside)
    proc = run("move", "api", "54100", "--reason", "test", cwd=seed_repo)
    assert_one_line_error(proc)
    assert hashes(seed_repo) == repo_before
    _untouched(outside, out_before)


# --- a registry shared by two checkouts through a symlink --------------------------------------


@pytest.fixture
def shared(tmp_path: Path, run: Run) -> tuple[Path, Path, Path]:
    target_dir = tmp_path / "shared"
    target_dir.mkdir()
    assert run("init", cwd=target_dir).returncode == 0
    target = target_dir / "ports.toml"
    checkouts = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        (d / "ports.toml").symlink_to(target)
        checkouts.append(d)
    return target, checkouts[0], checkouts[1]


def test_symlinked_registry_is_written_through(shared: tuple[Path, Path, Path], run: Run) -> None:
    target, a, b = shared
    proc = run("assign", "api", cwd=a)
    assert proc.returncode == 0, proc.stderr
    port = int(proc.stdout.strip())
    assert (a / "ports.toml").is_symlink()
    assert os.readlink(a / "ports.toml") == str(target)
    rows = json.loads(run("list", "--json", cwd=b).stdout)
    assert {r["service"]: r["port"] for r in rows} == {"api": port}
    # the temp file and the lock live beside the target, not in the checkout
    assert sorted(p.name for p in a.iterdir()) == ["ports.toml"]


def test_two_checkouts_writing_at_once_never_double(
    shared: tuple[Path, Path, Path], run: Run
) -> None:
    target, a, b = shared
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    n = 12
    procs = [
        subprocess.Popen(
            [*portreg_cmd(), "assign", f"svc-{i}"],
            cwd=a if i % 2 else b,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [e for _, e in results]
    printed = [int(out.strip()) for out, _ in results]
    assert len(set(printed)) == n
    rows = json.loads(run("list", "--json", cwd=a).stdout)
    assert {r["service"]: r["port"] for r in rows} == {f"svc-{i}": printed[i] for i in range(n)}
    assert (a / "ports.toml").is_symlink() and (b / "ports.toml").is_symlink()
    assert target.is_file() and not target.is_symlink()
