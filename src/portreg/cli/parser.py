"""The command-line contract of DESIGN.md, as argparse definitions."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from portreg.errors import PortregError
from portreg.vocabulary import ENVIRONMENTS, STATUSES


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, minus its `import shutil` (~2.5 ms) just to read the width."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        import os

        if kwargs.get("width") is None:
            try:
                columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
            except (ValueError, OSError):
                columns = 80
            kwargs["width"] = max(columns - 2, 40)
        super().__init__(prog, **kwargs)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # argparse prints usage plus a message; the contract is one `error:` line.
        raise PortregError(f"{message} (see `{self.prog} --help`)")


class _Ignored:
    """Swallows the definitions of commands that are not being run."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self


def _port(text: str) -> int:
    from portreg.policy import parse_port

    try:
        return parse_port(text)
    except PortregError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _range(text: str) -> tuple[int, int]:
    from portreg.policy import parse_range

    try:
        return parse_range(text)
    except PortregError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds (0 < S <= 86400), got {text!r}")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


_ENV_FILE_HELP = (
    "a file of PORTREG_* settings (default: $PORTREG_ENV_FILE; a plain .env is never read)"
)

COMMANDS: tuple[str, ...] = (
    "init",
    "import",
    "list",
    "show",
    "add",
    "assign",
    "reserve",
    "release",
    "move",
    "check",
    "who",
    "scan",
    "audit",
    "sync",
    "render",
    "refs",
    "protect",
    "serve",
    "token",
    "push",
    "pull",
    "run",
    "lease",
    "leases",
    "worktree",
    "mcp",
    "completion",
    "agent",
)


def command_of(argv: list[str]) -> str | None:
    """The command word of `argv`, skipping the global `--registry X` before it."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--registry":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the named command's arguments are defined when `argv` names one.

    Defining all 21 commands costs ~10 ms of argparse and gettext work at every start, for
    arguments that are never parsed; `--help` and a mistyped command still get the full set.
    """
    wanted = command_of(argv) if argv is not None else None
    only = wanted if wanted in COMMANDS else None
    common = _Parser(add_help=False)
    # SUPPRESS so a value given before the command is not reset by the subcommand's default.
    common.add_argument(
        "--registry",
        metavar="PATH|URL",
        default=argparse.SUPPRESS,
        help="ports.toml or a server URL (default: $PORTREG_REGISTRY, else the nearest ports.toml)",
    )
    reporting = _Parser(add_help=False)
    reporting.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON instead of tables",
    )

    parser = _Parser(prog="portreg", description="A services-and-ports registry.")
    parser.add_argument(
        "--registry",
        metavar="PATH|URL",
        default=None,
        help="ports.toml or a server URL (default: $PORTREG_REGISTRY, else the nearest ports.toml)",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def cmd(name: str, help: str, module: str | None = None, report: bool = False) -> Any:
        if only is not None and name != only:
            return _Ignored()  # this command is not being run: define nothing
        parents = [common, reporting] if report else [common]
        p = sub.add_parser(name, help=help, description=help, parents=parents)
        p.set_defaults(module=module or name)
        return p

    host_kw: dict[str, Any] = {
        "default": None,
        "metavar": "NAME",
        "help": "the host the assignment lives on (default: the registry's default host)",
    }
    env_kw: dict[str, Any] = {
        "metavar": "ENV",
        "help": f"environment ({', '.join(ENVIRONMENTS)}, …)",
    }

    p = cmd("init", "create ports.toml with the seed's defaults")
    p.add_argument("--project", default="", help="project name")
    p.add_argument(
        "--range",
        type=_range,
        default=None,
        metavar="A-B",
        help="the assignment range, two ports such as 53000-54999",
    )

    p = cmd(
        "import",
        "import seed-style Markdown pages, docker-compose files, .env files",
        module="import_",
        report=True,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="Markdown page, compose file or .env")

    p = cmd("list", "list services and their ports", module="list_", report=True)
    p.add_argument("--env", **env_kw)
    p.add_argument("--host", **{**host_kw, "help": "only the services on this host"})

    p = cmd("show", "everything recorded about one service", report=True)
    p.add_argument("service", metavar="SERVICE", help="service id or name")

    p = cmd("add", "record a service on a port you chose", report=True)
    p.add_argument("service", metavar="SERVICE", help="service id or name")
    p.add_argument("--port", type=_port, required=True, metavar="N", help="the port (1-65535)")
    p.add_argument("--env", default="development", **env_kw)
    p.add_argument("--protocol", default=None, metavar="P", help="http, postgres, redis, tcp, …")
    p.add_argument("--transport", choices=("tcp", "udp"), default=None, help="tcp or udp")
    p.add_argument("--status", choices=STATUSES, default=None, help=", ".join(STATUSES))
    p.add_argument("--notes", default=None, metavar="TEXT", help="free text")
    p.add_argument("--force", action="store_true", help="record a known exception to the policy")
    p.add_argument("--host", **host_kw)

    p = cmd("assign", "give a service the next free port (prints the port alone)", report=True)
    p.add_argument("service", metavar="SERVICE", help="service id or name")
    p.add_argument("--env", default="development", **env_kw)
    p.add_argument("--protocol", default=None, metavar="P", help="http, postgres, redis, tcp, …")
    p.add_argument("--transport", choices=("tcp", "udp"), default=None, help="tcp or udp")
    p.add_argument("--host", **host_kw)

    p = cmd("reserve", "keep a port for a planned service", report=True)
    p.add_argument("service", metavar="SERVICE", help="service id or name")
    p.add_argument(
        "--port", type=_port, default=None, metavar="N", help="this port, not the next free"
    )
    p.add_argument("--purpose", default="", metavar="TEXT", help="what it is kept for")
    p.add_argument("--env", default="development", **env_kw)
    p.add_argument("--host", **host_kw)

    p = cmd("release", "free a service's port (one environment, or the whole service)", report=True)
    p.add_argument("service", metavar="SERVICE", help="service id or name")
    p.add_argument("--env", default=None, **env_kw)

    p = cmd("move", "the change procedure: move a service to a new port everywhere", report=True)
    p.add_argument("service", metavar="SERVICE", help="service id or name")
    p.add_argument("port", type=_port, metavar="PORT", help="the new port (1-65535)")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why, for the change log")
    p.add_argument("--env", default="development", **env_kw)
    p.add_argument("--host", **{**host_kw, "help": "move the service to this host too"})

    p = cmd("check", "is a port free, registered, allowed, in use?", report=True)
    p.add_argument("ports", nargs="+", type=_port, metavar="PORT", help="ports (1-65535)")
    p.add_argument("--host", **{**host_kw, "help": "judge the ports on this host"})

    p = cmd("who", "which process holds a port (never kills anything)", report=True)
    p.add_argument("port", type=_port, metavar="PORT", help="a port (1-65535)")

    p = cmd("scan", "what is listening on this host", report=True)
    p.add_argument(
        "--range",
        type=_range,
        default=None,
        metavar="A-B",
        help="only ports A to B, e.g. 53000-54999 (default: all)",
    )
    p.add_argument(
        "--ndjson",
        action="store_true",
        help="print JSON Lines: one object per socket, per line (implies --json)",
    )

    p = cmd("audit", "the monthly audit checklist, against the live host", report=True)
    p.add_argument("--health", action="store_true", help="run each service's health check")
    p.add_argument(
        "--fail-on",
        choices=("warning", "error"),
        default="error",
        help="exit 1 from this severity up (default: error)",
    )
    p.add_argument("--record", action="store_true", help="record today as the last audit")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per health check")

    p = cmd("sync", "bring generated and rewritten files in line with the registry", report=True)
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")

    p = cmd("render", "print the registry as a page, JSON, a diagram, devcontainer.json, Caddyfile")
    p.add_argument(
        "--format",
        choices=("markdown", "json", "topology", "devcontainer", "caddy"),
        default="markdown",
        help="what to print (default: markdown)",
    )
    p.add_argument(
        "--domain",
        default="localhost",
        metavar="DOMAIN",
        help="caddy: serve each service as SERVICE.DOMAIN (default: localhost)",
    )

    p = cmd("refs", "every other mention of a port in the repository", report=True)
    p.add_argument("port", type=_port, metavar="PORT", help="a port (1-65535)")

    p = cmd("protect", "keep the kernel's ephemeral ports off registered ones", report=True)
    p.add_argument("--apply", action="store_true", help="write ip_local_reserved_ports (root)")

    p = cmd("serve", "run the central registry server (FastAPI + Uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=_port, default=54000, metavar="N", help="port to listen on (default: 54000)"
    )
    p.add_argument(
        "--workers", type=_positive, default=1, metavar="N", help="Uvicorn worker processes"
    )
    p.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    p.add_argument("--env-file", metavar="PATH", help=_ENV_FILE_HELP)

    p = cmd("token", "manage API tokens of the server")
    tsub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    tsub.required = True
    t = tsub.add_parser("create", help="create a token (prints it alone)")
    t.add_argument(
        "--scope",
        choices=("read", "write", "agent"),
        required=True,
        help="read, write, or agent (reports a host's listeners, nothing else)",
    )
    t.add_argument("--name", default="", help="a label for the token")
    t.add_argument(
        "--expires",
        metavar="WHEN",
        help="when it stops working: a duration (90m, 12h, 30d) or a date (2027-01-31)",
    )
    t.add_argument("--env-file", metavar="PATH", help=_ENV_FILE_HELP)
    t = tsub.add_parser("list", help="list tokens (id, name, scope, expiry)", parents=[reporting])
    t.add_argument("--env-file", metavar="PATH", help=_ENV_FILE_HELP)
    t = tsub.add_parser("revoke", help="revoke a token: refused by every worker within 1 s")
    t.add_argument("token_or_id", metavar="TOKEN_OR_ID", help="the token itself, or its id")
    t.add_argument("--env-file", metavar="PATH", help=_ENV_FILE_HELP)

    p = cmd("mcp", "serve the registry to coding agents (Model Context Protocol over stdio)")
    p.set_defaults(module="portreg.mcp")
    p.add_argument(
        "--read-only", action="store_true", help="leave out assign, reserve, release, lease, move"
    )

    p = cmd("completion", "print a shell completion script (bash, zsh, fish)")
    p.set_defaults(module="portreg.cli.completion")  # it reads this parser: in the CLI's layer
    p.add_argument(
        "shell", choices=("bash", "zsh", "fish"), metavar="SHELL", help="bash, zsh or fish"
    )

    if only is None:  # hidden (no help, so not listed); not in COMMANDS, so `only` is None
        p = sub.add_parser("__complete", parents=[common])
        p.set_defaults(module="complete_")
        p.add_argument("what", choices=("services",), help="what to list")

    p = cmd("push", "copy the local ports.toml to a server")
    p.add_argument("url", metavar="URL", help="the server, e.g. http://host:54000")
    p = cmd("pull", "copy a server's registry into the local ports.toml")
    p.add_argument("url", metavar="URL", help="the server, e.g. http://host:54000")

    p = cmd("run", "lend a command a port in $PORT for its lifetime (portreg run -- CMD ...)")
    p.add_argument("--name", default="", metavar="N", help="a label for the lease (default: CMD)")
    p.add_argument(
        "cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command to run"
    )

    p = cmd("lease", "hold a port beyond one command (prints the port alone)", report=True)
    p.add_argument(
        "--ttl", type=_positive, default=3600, metavar="S", help="seconds to hold it (default 3600)"
    )
    p.add_argument("--name", default="", metavar="N", help="a label for the lease")

    p = cmd("worktree", "this git worktree's own ports, written to its .env", report=True)
    p.add_argument(
        "action", nargs="?", choices=("prune",), default=None, help="prune: free removed worktrees"
    )
    p.add_argument("--shell", action="store_true", help="print export lines; write nothing")

    cmd("leases", "the live leases on this host (active and cooling)", report=True)

    p = cmd("agent", "report this host's listeners to a portreg server", report=True)
    p.add_argument("--server", required=True, metavar="URL", help="e.g. http://registry:54000")
    p.add_argument(
        "--host", default=None, metavar="NAME", help="the host's name (default: hostname)"
    )
    p.add_argument(
        "--netns", default=None, metavar="NAME", help="report this `ip netns` namespace as a host"
    )
    p.add_argument(
        "--interval",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="seconds between reports (default 30)",
    )
    p.add_argument("--once", action="store_true", help="send one report and exit")
    return parser


def _version() -> str:
    from portreg import __version__

    return f"portreg {__version__}"
