from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.model import Policy, Registry
from portreg.store import create
from portreg.views import Simple


def run(env: Environment, args: argparse.Namespace) -> Simple:
    path = env.registry_path(must_exist=False)
    policy = Policy() if args.range is None else Policy(args.range[0], args.range[1])
    project = args.project or env.cwd.name
    registry = Registry(project=project, policy=policy, last_updated=env.now())
    create(path, registry)
    return Simple(
        text=(f"created {path} (range {policy.range_start}-{policy.range_end})",),
        data={"registry": str(path)},
    )
