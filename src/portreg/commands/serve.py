"""`portreg serve`: the central registry server (FastAPI + Uvicorn).

Settings come from the environment (see portreg.server.settings): DATABASE_URL (default: SQLite
in ./portreg.db), REDIS_URL, PORTREG_READ_AUTH, PORTREG_SEED (a registry loaded into an empty
database at first start), … With `--workers N` (or `--reload`) Uvicorn imports the app factory
`portreg.server.app:create_app` in each worker.
"""

from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.errors import PortregError
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    try:
        import uvicorn
        from pydantic import ValidationError

        from portreg.server.settings import Settings
    except ImportError as exc:
        raise PortregError(
            f"the server needs its extra: pip install 'portreg[server]' ({exc.name} missing)"
        ) from None
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PortregError(f"bad server setting {first['loc'][0]}: {first['msg']}") from None
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}"
    env.stdout.write(f"portreg: API {url}/api/v1 (docs {url}/docs), page {url}/\n")
    env.stdout.flush()
    common = {
        "host": args.host,
        "port": args.port,
        "timeout_graceful_shutdown": 3,
        "log_level": env.environ.get("PORTREG_LOG_LEVEL", "info"),
    }
    if args.workers > 1 or args.reload:
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
