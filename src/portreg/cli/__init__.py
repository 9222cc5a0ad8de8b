"""`portreg …`: parse, run one command, render its result, map errors to exit codes.

argparse rather than Typer: Typer's import alone (~67 ms here) is more than the whole
cold-start budget of `portreg list --json`. Each command lives in `portreg.commands.<name>`
and is imported only when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
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

    dataclasses calls `inspect` only to write a docstring for a class that has none, so the
    stand-in hands out attributes of the real `inspect`, imported on first use.
    """

    def lookup(name: str) -> object:
        import importlib

        return getattr(importlib.import_module("inspect"), name)

    _import_beside_stand_in("dataclasses", "inspect", lookup)


def _defer_urllib_parse() -> None:
    """Import `pathlib` without paying for `urllib.parse` (~3 ms with `ipaddress`, measured
    with `-X importtime`: a tenth of `who`'s start-up), which it needs for `as_uri` alone.

    pathlib takes one function from it at import time (`quote_from_bytes`): the stand-in
    gives a forwarder that imports the real module when called.
    """

    def lookup(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)

        def forward(*args: object, **kwargs: object) -> object:
            import importlib

            return getattr(importlib.import_module("urllib.parse"), name)(*args, **kwargs)

        return forward

    _import_beside_stand_in("pathlib", "urllib.parse", lookup)


def _import_beside_stand_in(module: str, costly: str, lookup: Callable[[str], object]) -> None:
    """Import `module` while `costly` is a stand-in whose attributes come from `lookup`.

    The stand-in leaves sys.modules right after, so every later `import costly` gets the real
    module; nothing happens if either is already imported.
    """
    if module in sys.modules or costly in sys.modules:
        return
    import types

    stand_in = types.ModuleType(costly)
    stand_in.__getattr__ = lookup  # type: ignore[method-assign]
    sys.modules[costly] = stand_in
    try:
        __import__(module)  # not importlib: its package is not loaded yet on this path
    finally:
        if sys.modules.get(costly) is stand_in:
            del sys.modules[costly]


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
