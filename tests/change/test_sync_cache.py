"""`sync --check` keeps its last clean verdict (rewrite/cleancache.py): kept while the registry
and every file the check reads are byte for byte the same, undone by any change to them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portreg.rewrite import cleancache
from tests.conftest import Run, assert_one_line_error


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A cache directory of this test's own, for the CLI and for in-process calls alike."""
    where = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(where))
    monkeypatch.delenv("PORTREG_NO_CACHE", raising=False)
    return {"XDG_CACHE_HOME": str(where)}


def _same_stat_edit(path: Path, old: str, new: str) -> None:
    """Other bytes, same size, same mtime: what a cache keyed by mtime would miss."""
    assert len(old) == len(new)
    st = path.stat()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_clean_check_is_remembered_outside_the_repository(
    seed_repo: Path, run: Run, cache: dict[str, str]
) -> None:
    registry = seed_repo / "ports.toml"
    assert not cleancache.unchanged(registry)  # nothing remembered yet
    first = run("sync", "--check", cwd=seed_repo, env=cache)
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(list((Path(cache["XDG_CACHE_HOME"]) / "portreg").glob("sync-*.marshal"))) == 1
    assert cleancache.unchanged(registry)
    again = run("sync", "--check", cwd=seed_repo, env=cache)
    assert again.returncode == 0 and "in sync" in again.stdout


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("docker-compose.yaml", "published: 54432", "published: 54499"),
        (".env.example", "@localhost:54432/", "@localhost:54497/"),
        ("README.md", "| 54379 |", "| 54370 |"),
        ("docs/SERVICES.md", "### PostgreSQL (54432)", "### PostgreSQL (54431)"),
    ],
)
def test_an_edit_that_keeps_size_and_mtime_still_drifts(
    seed_repo: Path, run: Run, cache: dict[str, str], name: str, old: str, new: str
) -> None:
    assert run("sync", "--check", cwd=seed_repo, env=cache).returncode == 0
    _same_stat_edit(seed_repo / name, old, new)
    assert not cleancache.unchanged(seed_repo / "ports.toml")
    check = run("sync", "--check", cwd=seed_repo, env=cache)
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"drift: {name}:" in check.stdout


def test_a_registry_edit_undoes_the_verdict(
    seed_repo: Path, run: Run, cache: dict[str, str]
) -> None:
    assert run("sync", "--check", cwd=seed_repo, env=cache).returncode == 0
    registry = seed_repo / "ports.toml"
    text = registry.read_text()
    # The purpose is on the page: a registry that says otherwise makes the page drift.
    registry.write_text(text.replace('purpose = "', 'purpose = "New: ', 1))
    assert not cleancache.unchanged(registry)
    check = run("sync", "--check", cwd=seed_repo, env=cache)
    assert check.returncode == 1, check.stdout + check.stderr


def test_a_new_file_with_a_stale_port_undoes_the_verdict(
    seed_repo: Path, run: Run, cache: dict[str, str]
) -> None:
    assert run("sync", "--check", cwd=seed_repo, env=cache).returncode == 0
    env_text = (seed_repo / ".env.example").read_text()
    extra = seed_repo / "deploy" / ".env.example"
    extra.parent.mkdir()
    extra.write_text(env_text.replace("54432", "54401"))  # untracked, not ignored: it counts
    check = run("sync", "--check", cwd=seed_repo, env=cache)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "drift: deploy/.env.example:" in check.stdout


def test_a_file_turned_into_a_link_out_is_refused_not_remembered_clean(
    seed_repo: Path, run: Run, cache: dict[str, str], tmp_path: Path
) -> None:
    assert run("sync", "--check", cwd=seed_repo, env=cache).returncode == 0
    outside = tmp_path / "secret.md"
    readme = seed_repo / "README.md"
    outside.write_text(readme.read_text())  # the very same bytes, elsewhere
    readme.unlink()
    readme.symlink_to(outside)
    assert_one_line_error(run("sync", "--check", cwd=seed_repo, env=cache))


def test_a_damaged_record_means_a_full_check(
    seed_repo: Path, run: Run, cache: dict[str, str]
) -> None:
    assert run("sync", "--check", cwd=seed_repo, env=cache).returncode == 0
    (record,) = (Path(cache["XDG_CACHE_HOME"]) / "portreg").glob("sync-*.marshal")
    record.write_bytes(record.read_bytes()[:20])
    assert not cleancache.unchanged(seed_repo / "ports.toml")
    _same_stat_edit(seed_repo / "README.md", "| 54379 |", "| 54370 |")
    assert run("sync", "--check", cwd=seed_repo, env=cache).returncode == 1


def test_drift_and_no_cache_leave_no_record(
    seed_repo: Path, run: Run, cache: dict[str, str]
) -> None:
    where = Path(cache["XDG_CACHE_HOME"]) / "portreg"
    off = run("sync", "--check", cwd=seed_repo, env={**cache, "PORTREG_NO_CACHE": "1"})
    assert off.returncode == 0
    _same_stat_edit(seed_repo / "README.md", "| 54379 |", "| 54370 |")
    assert run("sync", "--check", cwd=seed_repo, env=cache).returncode == 1
    assert list(where.glob("sync-*.marshal")) == []
