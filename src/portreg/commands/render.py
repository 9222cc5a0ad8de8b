from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg import render
    from portreg.backend import open_backend

    registry = open_backend(env).load()
    if args.format in ("devcontainer", "caddy"):
        from portreg import exports

        if args.format == "devcontainer":
            text = exports.devcontainer(registry)
        else:
            text = exports.caddyfile(registry, args.domain)
    elif args.format == "json":
        text = render.to_json(registry)
    elif args.format == "topology":
        text = render.topology(registry)
    else:
        text = render.markdown(registry)
    return Simple(text=(text.rstrip("\n"),))
