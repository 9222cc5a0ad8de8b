"""`portreg serve`: the central registry server (FastAPI + Uvicorn).

Settings come from `PORTREG_*` variables only (see portreg.server.settings):
PORTREG_DATABASE_URL (default: SQLite in ./portreg.db), PORTREG_REDIS_URL, PORTREG_READ_AUTH,
PORTREG_SEED (a registry loaded into an empty database at first start), … With `--workers N`
(or `--reload`) Uvicorn imports the app factory `portreg.server.app:create_app` in each worker.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from portreg.environment import Environment
from portreg.views import Simple

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg.commands import _database

    # Before any database work: a busy port must leave no portreg.db (or its lock) behind.
    _ensure_bindable(args.host, args.port)
    env_file = getattr(args, "env_file", None)
    settings = _database.settings("the server", env_file)
    seed = _seed(env, settings.seed)
    if seed is not None:
        settings = settings.model_copy(update={"seed": seed})
    import uvicorn

    async def reachable(engine: AsyncEngine) -> None:
        return None

    # Migrated and reachable before Uvicorn starts: a wrong PORTREG_DATABASE_URL is one line, not
    # a startup traceback after a banner that promised a server.
    _database.run_on(settings, reachable)
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}"
    env.stdout.write(
        f"portreg: page {url}/  API {url}/api/v1/services  health {url}/api/v1/health  "
        f"docs {url}/docs\n"
    )
    if seed is not None:
        env.stdout.write(f"portreg: an empty database is filled from {seed} (PORTREG_SEED)\n")
    env.stdout.flush()
    common = {
        "host": args.host,
        "port": args.port,
        "timeout_graceful_shutdown": 3,
        "log_level": env.environ.get("PORTREG_LOG_LEVEL", "info"),
    }
    if args.workers > 1 or args.reload:
        import os

        if env_file:  # each worker builds its own settings, from the same file
            os.environ["PORTREG_ENV_FILE"] = env_file
        if seed is not None:
            os.environ["PORTREG_SEED"] = seed
        uvicorn.run(
            "portreg.server.app:create_app",
            factory=True,
            workers=args.workers,
            reload=args.reload,
            **common,
        )
    else:
        from portreg.server.app import create_app

        uvicorn.run(create_app(settings), **common)
    return Simple()


def _seed(env: Environment, configured: str | None) -> str | None:
    """The registry file `serve` fills an empty database from when PORTREG_SEED names none:
    `--registry FILE`, else the nearest ports.toml (what every other command would use), so
    `portreg serve` in a repository serves that repository's registry. Seeding happens once,
    into an empty database only; `--registry URL` names another server and is refused."""
    from portreg.errors import PortregError

    if configured:
        return None
    if env.registry_option and env.registry_option.startswith(("http://", "https://")):
        raise PortregError("serve runs a server: --registry takes a ports.toml here, not a URL")
    if env.is_remote:  # PORTREG_REGISTRY=http://… is for the client commands
        return None
    found = env.registry_location
    if found is None:
        return None
    path = env.cwd / found
    if not path.is_file():
        raise PortregError(f"{found}: no such registry file")
    return str(path.resolve())


def _ensure_bindable(host: str, port: int) -> None:
    """One `error:` line when the address is taken, instead of Uvicorn's traceback after the
    database was created. SO_REUSEADDR as Uvicorn binds, so a TIME_WAIT port still counts free."""
    import socket

    from portreg.errors import PortregError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortregError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc} "
                f"(see `portreg who {port}`, or pass --port N)"
            ) from None
