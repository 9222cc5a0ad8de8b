"""`portreg pull URL`: replace the local ports.toml with the server's registry."""

from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg.client import Client
    from portreg.store import atomic_write, loads, locked

    client = Client(args.url, env.environ.get("PORTREG_TOKEN") or None)
    text = client.request("GET", "/export", raw=True)
    registry = loads(text, source=client.base)  # never write what we cannot read back
    path = env.registry_path(must_exist=False)
    with locked(path):
        atomic_write(path, text)
    n = len(registry.services)
    return Simple(
        text=(f"pulled {n} services from {client.base} into {path}",),
        data={"services": n, "registry": str(path)},
    )
