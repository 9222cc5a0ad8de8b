from __future__ import annotations

import argparse

from portreg.commands._outcome import Written
from portreg.environment import Environment


def run(env: Environment, args: argparse.Namespace) -> Written:
    from portreg.backend import open_backend

    outcome = open_backend(env).assign(
        args.service, args.env, protocol=args.protocol, transport=args.transport, host=args.host
    )
    # The port alone, so `PORT=$(portreg assign api)` works.
    return Written(outcome, str(outcome.port))
