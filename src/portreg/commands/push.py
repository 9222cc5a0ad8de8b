"""`portreg push URL`: replace the server's registry with the local ports.toml."""

from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg.client import Client
    from portreg.store import loads, read_text

    path = env.registry_path()
    text = read_text(path)
    registry = loads(text, source=str(path))  # refuse to send a broken file
    client = Client(args.url, env.environ.get("PORTREG_TOKEN") or None)
    client.request("POST", "/import?reason=portreg+push", text=text)
    n = len(registry.services)
    return Simple(
        text=(f"pushed {n} services from {path} to {client.base}",),
        data={"services": n, "url": client.base},
    )
