"""`portreg pull URL`: make the local ports.toml hold the server's registry.

The server's services, policy and page metadata replace the local ones, but nothing local is
lost that the server does not hold: the file keeps its comments and layout (the same
comment-preserving write as every edit), its `[sync]` settings (they describe this repository,
not the registry), and its change log, merged with the server's by time (an entry both hold is
kept once).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from portreg.environment import Environment
from portreg.model import Registry
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg.client import Client
    from portreg.store import dumps, loads, locked, write

    client = Client(args.url, env.environ.get("PORTREG_TOKEN") or None)
    text = client.request("GET", "/export", raw=True)
    remote = loads(text, source=client.base)  # never write what we cannot read back
    path = env.registry_path(must_exist=False)
    with locked(path):
        previous = path.read_text(encoding="utf-8") if path.exists() else None
        local = loads(previous, source=str(path)) if previous else None
        merged = remote if local is None else _merged(local, remote)
        write(path, dumps(merged, previous=previous))
    n = len(remote.services)
    return Simple(
        text=(f"pulled {n} services from {client.base} into {path}",),
        data={"services": n, "registry": str(path)},
    )


def _merged(local: Registry, remote: Registry) -> Registry:
    changes = sorted(dict.fromkeys((*local.changes, *remote.changes)), key=lambda c: c.at)
    return replace(remote, changes=tuple(changes), page=local.page, exclude=local.exclude)
