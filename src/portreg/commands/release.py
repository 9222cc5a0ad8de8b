from __future__ import annotations

import argparse

from portreg.commands._outcome import Written
from portreg.environment import Environment


def run(env: Environment, args: argparse.Namespace) -> Written:
    from portreg.backend import open_backend

    o = open_backend(env).release(args.service, environment=args.env)
    if not o.changed:
        text = f"{o.service} has no port in {o.environment}; nothing to release"
    elif o.environment:
        text = f"released {o.service} in {o.environment} (now TBD)"
    else:
        text = f"released {o.service} and all its ports"
    return Written(o, text)
