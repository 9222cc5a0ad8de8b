"""`portreg __complete services`: the hidden, quick answer a completion script asks for."""

from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.errors import PortregError
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    """Service ids, one a line; nothing (not an error) when there is no registry here."""
    from portreg.backend import open_backend

    try:
        registry = open_backend(env).load()
    except PortregError:
        return Simple()
    return Simple(text=tuple(registry.services))
