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


def _modules_after(cwd: Path, args: tuple[str, ...]) -> set[str]:
    """The modules a real `portreg ARGS` run has loaded when it ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


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
    modules = _modules_after(tmp_path, args)
    loaded = {m.split(".")[0] for m in modules}
    assert loaded & HEAVY == set()
    assert modules & {"urllib.parse", "ipaddress"} == set()  # pathlib's, deferred


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


def test_pathlib_without_urllib_parse_still_makes_uris_and_urllib_parse_is_real() -> None:
    code = (
        "from portreg.cli import _defer_urllib_parse; _defer_urllib_parse()\n"
        "import pathlib, sys\n"
        "assert 'urllib.parse' not in sys.modules and 'pathlib' in sys.modules\n"
        "assert pathlib.Path('/tmp/a b').as_uri() == 'file:///tmp/a%20b'\n"
        "import urllib.parse\n"
        "assert urllib.parse.urlsplit('http://h:1/p').port == 1\n"
        "assert sys.modules['urllib.parse'].__file__.endswith('parse.py')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "args",
    [("check", "53010"), ("check", "53010", "--json"), ("who", "53010"), ("scan", "--json")],
)
def test_host_commands_skip_argparse_and_the_socket_wrapper(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """argparse (+ gettext, locale) and `socket` (enum conversions, selectors) cost ~7 ms."""
    loaded = _modules_after(tmp_path, args)
    assert loaded & {"argparse", "gettext", "locale", "socket", "selectors"} == set()


QUICK_CASES = [
    ["check", "53010"],
    ["check", "53010", "22", "053010", "--json"],
    ["check", "--json", "1", "65535"],
    ["--registry", "r.toml", "check", "5432"],
    ["check", "5432", "--registry", "a.toml", "--json", "--registry", "b.toml"],
    ["--registry", "a.toml", "check", "5432", "--registry", "b.toml"],
    ["who", "54000"],
    ["who", "--json", "54000", "--registry", "x"],
    ["scan"],
    ["scan", "--json", "--range", "53000-54999"],
    ["scan", "--range", "1-1"],
    ["list"],
    ["list", "--json", "--env", "staging"],
    ["assign", "api"],
    ["assign", "My API", "--env", "qa", "--protocol", "http", "--transport", "udp", "--json"],
    ["--registry", "r.toml", "assign", "--env", "staging", "api"],
]

ARGPARSE_ONLY = [
    ["check"],
    ["check", "abc"],
    ["check", "0"],
    ["check", "65536"],
    ["check", "-1"],
    ["check", "1", "--json", "2"],
    ["check", "--js", "1"],
    ["check", "1", "--json=1"],
    ["check", "--", "1"],
    ["check", "²"],
    ["check", "--help"],
    ["who", "1", "2"],
    ["who"],
    ["scan", "5"],
    ["scan", "--range", "9-2"],
    ["scan", "--range", "abc"],
    ["scan", "--range"],
    ["list", "--env"],
    ["list", "--env", "--json"],
    ["--registry", "check"],
    ["--version"],
    ["show", "x"],
    ["assign"],
    ["assign", "a", "b"],
    ["assign", "-x"],
    ["assign", "a", "--transport", "sctp"],
    ["assign", "a", "--env"],
    ["assign", "a", "--help"],
]


@pytest.mark.parametrize("argv", QUICK_CASES)
def test_quick_parser_gives_what_argparse_gives(argv: list[str]) -> None:
    from portreg.cli.parser import build_parser
    from portreg.cli.quick import parse

    quick = parse(argv)
    assert quick is not None
    full = build_parser(argv).parse_args(argv)
    full_values = dict(vars(full))
    full_values.setdefault("json", False)
    quick_values = dict(vars(quick))
    quick_values.setdefault("json", False)
    assert quick_values == full_values


@pytest.mark.parametrize("argv", ARGPARSE_ONLY)
def test_quick_parser_leaves_everything_else_to_argparse(argv: list[str]) -> None:
    from portreg.cli.quick import parse

    assert parse(argv) is None
