"""The one place results become text: plain lines, Rich tables, or JSON under `--json`.

Rich is imported only when a table is printed, so `--json` and one-line results stay quick.
"""

from __future__ import annotations

from typing import Any

from portreg.environment import Environment
from portreg.views import Lines, Result, Table, Warning


def emit(env: Environment, result: Result) -> None:
    if env.json:
        chunks = getattr(result, "json_chunks", None)
        if chunks is not None:  # a big result (scan) writes the same text itself, faster
            env.stdout.writelines(chunks())
        else:
            import json  # here: a plain-text result never needs it

            env.stdout.write(json.dumps(result.to_json(), indent=2, default=str) + "\n")
        for view in result.views():
            if isinstance(view, Warning):
                _lines(env, view.lines, err=True)
        return
    for view in result.views():
        if isinstance(view, Lines):
            _lines(env, view.lines, err=False)
        elif isinstance(view, Warning):
            _lines(env, view.lines, err=True)
        elif isinstance(view, Table):
            _table(env, view)
    env.stdout.flush()


def emit_error(env: Environment, message: str) -> None:
    env.stderr.write(f"error: {message}\n")
    env.stderr.flush()


def _lines(env: Environment, lines: tuple[str, ...], *, err: bool) -> None:
    stream = env.stderr if err else env.stdout
    if lines:
        stream.write("\n".join(lines) + "\n")


def _table(env: Environment, view: Table) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    tty = env.stdout.isatty()
    console = Console(
        file=env.stdout,
        width=None if tty else 160,  # a pipe gets full rows, not an 80-column wrap
        no_color=not tty or "NO_COLOR" in env.environ,
        highlight=False,
    )
    # The caption is printed under the table, not as Rich's caption, which wraps to the table's
    # width: a one-row table would break a sentence (and a grep for it) across lines.
    table = RichTable(title=view.title or None, show_lines=False)
    for column in view.columns:
        table.add_column(column, overflow="fold")
    for row in view.rows:
        table.add_row(*(_escape(cell) for cell in row))
    console.print(table)
    if view.caption:
        console.print(_escape(view.caption), style="dim", soft_wrap=True)


def _escape(cell: Any) -> str:
    from rich.markup import escape

    return escape(str(cell))
