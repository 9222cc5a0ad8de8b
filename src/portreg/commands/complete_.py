"""`portreg __complete services`: the hidden, quick answer a completion script asks for."""

from __future__ import annotations

import argparse

from portreg.commands.completion import services
from portreg.environment import Environment
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    return services(env, args)
