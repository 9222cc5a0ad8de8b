"""The text-append write (`portreg.tomlappend`) against tomlkit's: the same bytes, or no edit."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from portreg import ops, regcache, store
from portreg.model import Policy, Registry, Service

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "ports.toml"


def _bench_registry(n: int) -> str:
    services = {
        f"svc-{i}": Service(f"svc-{i}", f"Service {i}", {"development": 53000 + i})
        for i in range(n)
    }
    return store.dumps(Registry(project="t", services=services, policy=Policy(53000, 54999)))


def _step(text: str, ref: str, env: str, at: datetime) -> tuple[str, str | None, dict[str, object]]:
    """(tomlkit's text, the append edit's text or None, the parse the cache would keep)."""
    data = tomllib.loads(text)
    before = store.loads(text)
    after, _ = ops.assign(before, ref, env, ops.Stamp(who="tester <t@example.org>", at=at))
    slow = store.dumps(after, previous=text)
    fast = store._appended(text, data, before, after)
    if fast is None:
        return slow, None, {}
    return slow, fast[0], fast[1]


@pytest.mark.parametrize("start", ["bench", "repo"])
def test_a_run_of_assigns_writes_what_tomlkit_writes(start: str) -> None:
    text = _bench_registry(30) if start == "bench" else REPO_REGISTRY.read_text()
    at = datetime(2026, 5, 1, 12, 0, 0)
    taken = 0
    refs = ["web", "Worker Two", "queue", "日本 API", "api-server", "a_b-c", "last one"]
    envs = [
        "development",
        "development",
        "staging",
        "development",
        "staging",
        "qa-eu",
        "development",
    ]
    for i, (ref, env) in enumerate(zip(refs * 3, envs * 3, strict=True)):
        slow, fast, data = _step(
            text, f"{ref}{i // len(refs) or ''}", env, at + timedelta(seconds=i)
        )
        if fast is not None:
            taken += 1
            assert fast == slow, f"step {i}"
            assert data == tomllib.loads(fast), f"step {i}"
        text = slow
    # The first write of an empty change log, a new environment of an existing service and
    # ids needing quotes go through tomlkit; new plain services after that are appended.
    assert taken >= 8


def test_layouts_it_does_not_know_go_through_tomlkit() -> None:
    at = datetime(2026, 5, 1, 12, 0, 0)
    text, _, _ = _step(_bench_registry(3), "first", "development", at)  # now with a change log
    assert _step(text, "second", "development", at)[1] is not None
    for odd in (
        text + "\n[tool.other]\nx = 1\n",  # a table after the change log
        text.rstrip("\n"),  # no final newline
        text.replace("[registry]\n", "[registry]\nservices = 1\n[nested]\n"),  # two spans
        text.replace("\n", "\r\n"),  # CRLF
        # a multi-line string in [registry] holding what looks like the stamp line
        text.replace("[registry]\n", "[registry]\npurpose = '''\nlast_updated = 1\n'''\n"),
    ):
        assert _step(odd, "second", "development", at)[1] is None


def test_the_cache_holds_the_appended_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PORTREG_NO_CACHE", raising=False)
    path = tmp_path / "ports.toml"
    path.write_text(_bench_registry(5))
    stamp = ops.Stamp(who="t", at=datetime(2026, 5, 1, 12, 0, 0))
    for name in ("one", "two", "three"):
        store.mutate(path, lambda r, name=name: ops.assign(r, name, "development", stamp))
    text = path.read_text()
    assert regcache.valid(path) == tomllib.loads(text)  # what the writer left for the next read
    assert list(store.load(path).services)[-3:] == ["one", "two", "three"]
