from __future__ import annotations

import argparse

from portreg.commands._outcome import Written
from portreg.environment import Environment


def run(env: Environment, args: argparse.Namespace) -> Written:
    from portreg.backend import open_backend

    o = open_backend(env).add(
        args.service,
        args.port,
        args.env,
        protocol=args.protocol,
        transport=args.transport,
        status=args.status,
        notes=args.notes,
        force=args.force,
        host=args.host,
    )
    verb = "added" if o.changed else "already recorded:"
    return Written(o, f"{verb} {o.service} on {o.port} ({o.environment})")
