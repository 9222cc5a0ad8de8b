from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.model import Policy, Registry
from portreg.store import create
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    """A new registry where it was asked for, else here: never the one a parent directory
    holds (that is what every other command would find, and it exists)."""
    from portreg.locate import FILENAME

    explicit = env.registry_option or env.environ.get("PORTREG_REGISTRY")
    path = env.registry_path(must_exist=False) if explicit else env.cwd / FILENAME
    policy = Policy() if args.range is None else Policy(args.range[0], args.range[1])
    project = args.project or env.cwd.name
    registry = Registry(project=project, policy=policy, last_updated=env.now())
    create(path, registry)
    return Simple(
        text=(f"created {path} (range {policy.range_start}-{policy.range_end})",),
        data={"registry": str(path)},
    )
