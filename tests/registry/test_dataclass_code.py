"""The compiled-dataclass table (portreg/_dataclass_code.py): same classes, compiled once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import sys
from portreg import _dataclass_code
_dataclass_code.install("probe")
from dataclasses import dataclass, FrozenInstanceError

@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 2

p = Point(1)
assert p == Point(1, 2) and p != Point(1, 3) and hash(p) == hash(Point(1, 2))
assert repr(p) == "Point(x=1, y=2)"
try:
    p.x = 5
except FrozenInstanceError:
    pass
else:
    raise SystemExit("not frozen")
print(len(_dataclass_code._compiled))
"""


def _probe(cache: Path, **extra: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PORTREG_NO_CACHE"}
    env.update(XDG_CACHE_HOME=str(cache), **extra)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def test_the_second_process_compiles_nothing_and_gets_the_same_behaviour(tmp_path: Path) -> None:
    assert _probe(tmp_path) > 0  # the first run compiles Point's methods and keeps them
    (table,) = (tmp_path / "portreg").glob("dataclass-code-*.marshal")
    assert table.stat().st_size > 0
    assert _probe(tmp_path) == 0  # the same texts: every method from the table


def test_a_damaged_table_only_means_compiling(tmp_path: Path) -> None:
    assert _probe(tmp_path) > 0
    (table,) = (tmp_path / "portreg").glob("dataclass-code-*.marshal")
    table.write_bytes(b"\x00garbage")
    assert _probe(tmp_path) > 0
    assert _probe(tmp_path) == 0  # and the table was written again


def test_no_cache_leaves_dataclasses_alone(tmp_path: Path) -> None:
    assert _probe(tmp_path, PORTREG_NO_CACHE="1") == 0  # nothing routed through the table
    assert not (tmp_path / "portreg").exists()


def test_every_dataclass_has_a_docstring() -> None:
    """dataclasses writes a docstring for a class without one with `inspect.signature`, and
    `inspect` pulls in ast and dis (~8 ms of a command's start-up; cli._defer_inspect)."""
    import ast

    src = Path(__file__).resolve().parents[2] / "src" / "portreg"
    bare = []
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            marked = any(
                (isinstance(d, ast.Call) and getattr(d.func, "id", "") == "dataclass")
                or getattr(d, "id", "") == "dataclass"
                for d in node.decorator_list
            )
            if marked and ast.get_docstring(node) is None:
                bare.append(f"{path.relative_to(src)}:{node.lineno} {node.name}")
    assert bare == []


def test_a_table_others_may_write_is_not_run(tmp_path: Path) -> None:
    assert _probe(tmp_path) > 0
    (table,) = (tmp_path / "portreg").glob("dataclass-code-*.marshal")
    assert table.stat().st_mode & 0o077 == 0  # written for this user alone
    table.chmod(0o666)
    assert _probe(tmp_path) > 0  # not trusted: compiled again (and the table rewritten)
