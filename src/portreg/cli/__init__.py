"""`portreg …`: parse, run one command, render its result, map errors to exit codes.

argparse rather than Typer: Typer's import alone (~67 ms here) is more than the whole
cold-start budget of `portreg list --json`. Each command lives in `portreg.commands.<name>`
and is imported only when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from portreg.errors import ExitCode, PortregError


def main(argv: Sequence[str] | None = None) -> int:
    _defer_inspect()
    _defer_urllib_parse()
    args = list(sys.argv[1:] if argv is None else argv)
    from portreg import _dataclass_code

    _dataclass_code.install(args[0] if args else "")  # before the start-up path's dataclasses
    from portreg.environment import Environment

    return run(Environment(), args)


def _defer_inspect() -> None:
    """Import `dataclasses` without paying for `inspect` (~8 ms of ast, dis and tokenize).

    dataclasses calls `inspect` only to write a docstring for a class that has none. It gets a
    stand-in module that imports the real `inspect` on first use; the stand-in is removed from
    sys.modules right away, so every other `import inspect` gets the real module.
    """
    if "dataclasses" in sys.modules or "inspect" in sys.modules:
        return
    import types

    stand_in = types.ModuleType("inspect")

    def __getattr__(name: str) -> object:
        import importlib

        return getattr(importlib.import_module("inspect"), name)

    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules["inspect"] = stand_in
    try:
        import dataclasses  # noqa: F401
    finally:
        if sys.modules.get("inspect") is stand_in:
            del sys.modules["inspect"]


def _defer_urllib_parse() -> None:
    """Import `pathlib` without paying for `urllib.parse` (~3 ms with `ipaddress`, measured
    with `-X importtime`: a tenth of `who`'s start-up), which it needs for `as_uri` alone.

    pathlib takes one function from it at import time (`quote_from_bytes`): the stand-in
    gives a forwarder that imports the real module when called. The stand-in leaves
    sys.modules at once, so every other `import urllib.parse` gets the real module.
    """
    if "pathlib" in sys.modules or "urllib.parse" in sys.modules:
        return
    import types

    stand_in = types.ModuleType("urllib.parse")

    def __getattr__(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)

        def forward(*args: object, **kwargs: object) -> object:
            import importlib

            return getattr(importlib.import_module("urllib.parse"), name)(*args, **kwargs)

        return forward

    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules["urllib.parse"] = stand_in
    try:
        import pathlib  # noqa: F401
    finally:
        if sys.modules.get("urllib.parse") is stand_in:
            del sys.modules["urllib.parse"]


def run(env: object, argv: list[str]) -> int:
    import importlib

    from portreg.cli.output import emit, emit_error
    from portreg.cli.quick import parse
    from portreg.environment import Environment

    assert isinstance(env, Environment)
    try:
        args: Any = parse(argv)  # the hot commands' plain forms, without argparse's ~5 ms
        if args is None:
            from portreg.cli.parser import build_parser

            args = build_parser(argv).parse_args(argv)
        env.registry_option = args.registry
        env.json = bool(getattr(args, "json", False) or getattr(args, "ndjson", False))
        # A dotted name is a command outside portreg.commands (`mcp`, above the CLI's layer).
        name = args.module if "." in args.module else f"portreg.commands.{args.module}"
        module = importlib.import_module(name)
        result = module.run(env, args)
        emit(env, result)
        return int(result.exit_code)
    except PortregError as exc:
        emit_error(env, exc.message)
        return int(exc.code)
    except KeyboardInterrupt:
        emit_error(env, "interrupted")
        return 130
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if env.environ.get("PORTREG_DEBUG"):
            raise
        emit_error(env, f"unexpected {type(exc).__name__}: {exc} (set PORTREG_DEBUG=1 for details)")
        return int(ExitCode.BAD_INPUT)
