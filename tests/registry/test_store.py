"""ports.toml: readable, comment-preserving edits, atomic writes, errors that name the line."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from portreg import locate, store
from portreg.errors import PortregError
from portreg.model import (
    ChangeEntry,
    CodeBlock,
    ConnectionString,
    Policy,
    Registry,
    Service,
)


def sample() -> Registry:
    svc = Service(
        "postgresql",
        "PostgreSQL",
        {"development": 54432, "staging": None},
        protocol="postgres",
        notes="Primary database",
        health_check="pg_isready -p {port}",
        configuration=(CodeBlock("yaml", 'ports:\n  - "{port}:5432"\n'),),
        connection_strings=(ConnectionString("DATABASE_URL", "postgresql://h:{port}/db"),),
        depends_on=("redis",),
        container_port=5432,
    )
    return Registry(
        project="demo",
        policy=Policy(last_audit=date(2026, 1, 10)),
        services={svc.id: svc, "redis": Service("redis", "Redis", {"development": 54379})},
        changes=(
            ChangeEntry(
                datetime(2026, 1, 2, 3, 4, 5),
                "me",
                "add",
                "redis",
                "development",
                None,
                54379,
                "why",
            ),
        ),
        last_updated=datetime(2026, 1, 2, 3, 4, 5),
    )


def test_round_trip_is_lossless() -> None:
    r = sample()
    assert store.loads(store.dumps(r)) == r


def test_edit_keeps_comments_and_touches_only_changed_lines() -> None:
    r = sample()
    text = store.dumps(r).replace(
        "[services.redis]", "# the cache, ask ops before moving\n[services.redis]"
    )
    text = text.replace('notes = "Primary database"', 'notes = "Primary database" # keep')
    moved = r.with_service(r.services["redis"].with_port("development", 54380))
    out = store.dumps(moved, previous=text)
    assert "# the cache, ask ops before moving" in out
    assert 'notes = "Primary database" # keep' in out
    changed = [(a, b) for a, b in zip(text.splitlines(), out.splitlines(), strict=True) if a != b]
    assert changed == [("ports = {development = 54379}", "ports = {development = 54380}")]


def test_appended_change_entries_read_like_the_first_ones() -> None:
    r = sample()
    text = store.dumps(r)
    entry = ChangeEntry(datetime(2026, 2, 1, 9, 0), "dev", "assign", "redis", "", None, 54379)
    out = store.dumps(r.with_change(entry).with_change(entry), previous=text)
    assert out.count("[[changes]]") == len(r.changes) + 2
    assert out.count("\n\n[[changes]]") == out.count("[[changes]]")  # a blank line before each
    assert store.loads(out).changes[-2:] == (entry, entry)


def test_corrupt_file_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ports.toml"
    path.write_text('[registry]\nproject = "x"\n[services.a]\nports = {development = }\n')
    with pytest.raises(PortregError, match="line 4"):
        store.load(path)


@pytest.mark.parametrize(
    ("snippet", "where"),
    [
        ("[services.a]\nports = {development = 70000}\n", "services.a.ports.development"),
        ('[services.a]\nports = {development = "x"}\n', "services.a.ports.development"),
        ('[services.a]\nstatus = "sleeping"\n', "services.a.status"),
        ("[policy]\nrange = [5, 1]\n", "policy.range"),
        ('[services.a]\ntransport = "sctp"\n', "services.a.transport"),
        ('[registry]\nlast_updated = "yesterday"\n', "registry.last_updated"),
        ("[sync]\nexclude = 5\n", "sync.exclude"),
    ],
)
def test_invalid_values_are_named(tmp_path: Path, snippet: str, where: str) -> None:
    path = tmp_path / "ports.toml"
    path.write_text(snippet)
    with pytest.raises(PortregError, match=where.replace(".", r"\.")):
        store.load(path)


def test_atomic_write_leaves_no_temp_files_and_keeps_mode(tmp_path: Path) -> None:
    path = tmp_path / "ports.toml"
    path.write_text("x")
    path.chmod(0o600)
    store.atomic_write(path, "y")
    assert path.read_text() == "y"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ports.toml"]


def test_mutate_writes_only_on_change(tmp_path: Path) -> None:
    path = tmp_path / "ports.toml"
    store.create(path, sample())
    before = path.stat().st_mtime_ns, path.read_bytes()
    assert store.mutate(path, lambda r: (r, 1)) == 1
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "ports.toml"
    store.create(path, sample())
    with pytest.raises(PortregError, match="already exists"):
        store.create(path, Registry())


def test_find_registry_walks_up(tmp_path: Path) -> None:
    (tmp_path / "ports.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert locate.find_registry(deep, {}) == tmp_path / "ports.toml"
    assert locate.find_registry(deep, {"PORTREG_REGISTRY": "/x.toml"}) == Path("/x.toml")
    assert locate.find_registry(deep, {}, "y.toml") == Path("y.toml")


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
def test_empty_registry_is_an_error_not_an_empty_registry(tmp_path: Path, text: str) -> None:
    path = tmp_path / "ports.toml"
    path.write_text(text)
    with pytest.raises(PortregError, match="the registry is empty"):
        store.load(path)
