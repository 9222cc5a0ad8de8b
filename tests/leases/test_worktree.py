"""Worktree blocks with real git worktrees, asked at once from concurrent processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PORTREG = str(Path(sys.executable).with_name("portreg"))

REGISTRY = (
    '[registry]\nproject = "{name}"\n\n[policy]\nrange = [{lo}, {hi}]\navoid = [{avoid}]\n\n'
    '[services.api]\nname = "API"\nports = {{ development = {api} }}\n\n'
    '[services.db-main]\nname = "DB"\nports = {{ development = {db} }}\n'
)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _project(root: Path, name: str, lo: int, count: int) -> tuple[Path, list[Path]]:
    main = root / name
    main.mkdir()
    _git(main, "init", "-q", "-b", "main")
    text = REGISTRY.format(name=name, lo=lo, hi=lo + 200, avoid=lo + 2, api=lo, db=lo + 1)
    (main / "ports.toml").write_text(text)
    _git(main, "add", "ports.toml")
    _git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "r")
    trees = []
    for i in range(count):
        tree = root / f"{name}-wt{i}"
        _git(main, "worktree", "add", "-q", str(tree))
        (tree / ".env").write_bytes(b"A=1\r\n# keep me\nB=\xc3\xa9")
        trees.append(tree)
    return main, trees


def _ask(trees: list[Path], env: dict[str, str], *extra: str) -> list[dict[str, object]]:
    procs = [
        subprocess.Popen(
            [PORTREG, "worktree", *extra, "--json"], cwd=t, env=env, stdout=subprocess.PIPE
        )
        for t in trees
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs)
    return [json.loads(o) for o in outs]


def test_blocks_are_distinct_kept_written_and_pruned(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("PORTREG_REGISTRY", None)
    lo = 20600  # both projects share one range: their blocks must still not collide
    main_a, trees_a = _project(tmp_path, "a", lo, 8)
    _, trees_b = _project(tmp_path, "b", lo, 2)  # same range: must not collide with a's
    trees = trees_a + trees_b
    first = _ask(trees, env)
    ports = [p for r in first for p in r["ports"].values()]  # type: ignore[attr-defined]
    assert len(ports) == 20 and len(set(ports)) == 20
    assert not {lo, lo + 1, lo + 2} & set(ports)
    for tree, result in zip(trees, first, strict=True):
        assert result["worktree"] == str(tree.resolve()) and result["block"] >= 1  # type: ignore[operator]
        env_text = (tree / ".env").read_bytes()
        assert env_text.startswith(b"A=1\r\n# keep me\nB=\xc3\xa9\n# >>> portreg worktree >>>\n")
        p = result["ports"]
        assert f"API_PORT={p['api']}\nDB_MAIN_PORT={p['db-main']}\n".encode() in env_text  # type: ignore[index]
    assert sorted(r["block"] for r in first[:8]) == list(range(1, 9))  # type: ignore[type-var]
    assert _ask(trees, env) == first
    assert (trees[0] / ".env").read_bytes().count(b">>> portreg") == 1
    (main,) = _ask([main_a], env)
    assert main == {
        "worktree": str(main_a.resolve()),
        "block": 0,
        "ports": {"api": lo, "db-main": lo + 1},
    }
    _git(main_a, "worktree", "remove", "--force", str(trees_a[3]))
    (pruned,) = _ask([main_a], env, "prune")
    assert pruned == {
        "freed": [
            {"worktree": str(trees_a[3].resolve()), **{k: first[3][k] for k in ("block", "ports")}}
        ]
    }
    shell = subprocess.run(
        [PORTREG, "worktree", "--shell"],
        cwd=trees_b[0],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == "".join(
        f"export {k}={v}\n"
        for k, v in zip(("API_PORT", "DB_MAIN_PORT"), first[8]["ports"].values(), strict=True)  # type: ignore[attr-defined]
    )
