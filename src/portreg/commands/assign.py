from __future__ import annotations

from typing import TYPE_CHECKING

from portreg.commands._outcome import Written
from portreg.environment import Environment

if TYPE_CHECKING:
    import argparse  # argparse is ~5 ms of start-up: only the quick parser runs here


def run(env: Environment, args: argparse.Namespace) -> Written:
    from portreg.backend import open_backend

    outcome = open_backend(env).assign(
        args.service, args.env, protocol=args.protocol, transport=args.transport, host=args.host
    )
    # The port alone, so `PORT=$(portreg assign api)` works.
    return Written(outcome, str(outcome.port))
