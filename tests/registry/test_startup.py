"""Import hygiene of the command line's hot path: what `list --json` and `check` must not load.

Speed itself is measured by benchmarks/bench_cli.py; this pins the *cause* of a regression
(a heavy import creeping onto the start-up path), which is deterministic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {
    "rich",
    "tomlkit",
    "inspect",
    "ast",
    "markdown_it",
    "ruamel",
    "fastapi",
    "sqlalchemy",
    "pydantic",
    "httpx",
    "shutil",
    "tempfile",
    "asyncio",
    "dataclasses_json",
}

PROBE = """
import json, sys
sys.argv = ["portreg", *sys.argv[1:]]
from portreg.cli import main
try:
    main()
finally:
    sys.stdout.flush()
    sys.__stderr__.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


@pytest.mark.parametrize(
    "args",
    [
        ("list", "--json"),
        ("check", "53010"),
        ("check", "53010", "--json"),
        ("who", "53010", "--json"),
        ("scan", "--json"),
    ],
)
def test_hot_path_imports_nothing_heavy(run: object, tmp_path: Path, args: tuple[str, ...]) -> None:
    from portreg import store
    from portreg.model import Registry, Service

    store.create(
        tmp_path / "ports.toml", Registry(services={"a": Service("a", "A", {"development": 53000})})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES "))
    loaded = {m.split(".")[0] for m in json.loads(line.removeprefix("MODULES "))}
    assert loaded & HEAVY == set()


def test_dataclasses_without_docstrings_still_work_after_the_cli_defers_inspect() -> None:
    code = (
        "from portreg.cli import _defer_inspect; _defer_inspect()\n"
        "import dataclasses, sys\n"
        "assert 'inspect' not in sys.modules\n"
        "@dataclasses.dataclass\nclass A:\n    x: int\n"
        "assert A.__doc__ == 'A(x: int)', A.__doc__\n"
        "import inspect\nassert inspect.signature(A) is not None and 'inspect' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
