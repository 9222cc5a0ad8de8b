from __future__ import annotations

import argparse

from portreg.commands._outcome import Written
from portreg.environment import Environment


def run(env: Environment, args: argparse.Namespace) -> Written:
    from portreg.backend import open_backend

    o = open_backend(env).reserve(
        args.service,
        port=args.port,
        purpose=args.purpose,
        environment=args.env,
        host=args.host,
    )
    return Written(o, str(o.port))
