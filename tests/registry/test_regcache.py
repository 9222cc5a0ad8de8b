"""The parsed-registry cache: a hit only for the very file that was parsed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portreg import regcache, store


def _registry(port: int) -> str:
    return f'project = "x"\n\n[services.api]\nname = "API"\nports = {{ development = {port} }}\n'


def test_cache_lives_outside_the_repository_and_follows_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("PORTREG_NO_CACHE", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    path = repo / "ports.toml"
    path.write_text(_registry(53001))
    assert store.load(path).services["api"].ports["development"] == 53001
    entries = list((cache / "portreg").iterdir())
    assert len(entries) == 1 and sorted(p.name for p in repo.iterdir()) == ["ports.toml"]
    assert store.load(path).services["api"].ports["development"] == 53001  # from the cache

    # Rewritten in place, same size: mtime/ctime change, so it is parsed again.
    with open(path, "r+") as fh:
        fh.write(_registry(53002))
    assert store.load(path).services["api"].ports["development"] == 53002
    # Replaced (as portreg writes): a new inode.
    tmp = repo / "new.toml"
    tmp.write_text(_registry(53003))
    os.replace(tmp, path)
    assert store.load(path).services["api"].ports["development"] == 53003


def test_a_corrupt_or_foreign_entry_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "ports.toml"
    path.write_text(_registry(53004))
    store.load(path)
    (entry,) = (tmp_path / "cache" / "portreg").iterdir()
    entry.write_bytes(b"not a pickle")
    assert store.load(path).services["api"].ports["development"] == 53004
    import marshal

    st = os.stat(path)
    ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    bogus = {"project": "x", "services": {}}
    where = os.path.abspath(path)
    entry.write_bytes(marshal.dumps((("other-python",), where, ident, bogus, [])))
    assert "api" in store.load(path).services
    # Another registry's entry under this name (a crc collision) is not this one's.
    entry.write_bytes(marshal.dumps((regcache._TAG, where + ".other", ident, bogus, [])))
    assert "api" in store.load(path).services
    entry.write_bytes(
        marshal.dumps((regcache._TAG, where, ident, bogus, []))
    )  # a matching entry is used
    assert "api" not in store.load(path).services


def test_a_bad_registry_is_still_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "ports.toml"
    path.write_text("project = \n")
    with pytest.raises(store.PortregError, match="invalid TOML"):
        store.load(path)
    path.write_text("")
    with pytest.raises(store.PortregError, match="empty"):
        store.load(path)


def test_dates_and_times_come_back_as_they_were_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tomllib

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PORTREG_NO_CACHE", raising=False)
    path = tmp_path / "ports.toml"
    path.write_text(
        _registry(53005)
        + "[registry]\nlast_updated = 2026-01-29T06:23:34+05:30\n"
        + "[policy]\nlast_audit = 2026-01-29\n"
        + "[tool.x]\nat = 07:32:00.25\nlocal = 1979-05-27T07:32:00.999\nz = 1979-05-27T00:00:00Z\n"
        + '[[changes]]\nat = 2026-01-29T06:23:34\nwho = "a"\n'
    )
    store.load(path)  # parses and caches
    cached = regcache.valid(path)
    assert cached == tomllib.loads(path.read_text())
    assert cached is not None and cached["registry"]["last_updated"].utcoffset() is not None
