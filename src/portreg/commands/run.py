"""`run [--name N] -- CMD ARGS...`: lend CMD a port in $PORT and $PORTREG_PORT for its lifetime.

The lease is keyed to this process, and this process then *becomes* CMD (`os.execvp`): same
pid, same start time, so the lease lasts exactly as long as CMD. Signals reach CMD directly
(nothing to forward), its exit status is the status the caller sees (a signal death stays a
signal death, which a shell reports as 128+N), and nothing of portreg's is printed on stdout.
When CMD ends — even by SIGKILL — the next reader of the host-wide state sees the holder gone
and lets the port cool down.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NoReturn

from portreg.environment import Environment
from portreg.errors import PortregError

if TYPE_CHECKING:
    import argparse


def run(env: Environment, args: argparse.Namespace) -> NoReturn:
    from portreg import leases

    command: list[str] = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise PortregError("run needs a command: portreg run [--name N] -- CMD ARGS...")
    lease_range, excluded = leases.policy_for(env.cwd, dict(env.environ), env.registry_option)
    name = args.name or os.path.basename(command[0])
    port = leases.acquire(lease_range=lease_range, excluded=excluded, pid=os.getpid(), name=name)
    child_env = {**env.environ, "PORT": str(port), "PORTREG_PORT": str(port)}
    env.stdout.flush()
    try:
        os.execvpe(command[0], command, child_env)
    except OSError as exc:
        leases.release(port, os.getpid())
        raise PortregError(f"cannot run {command[0]}: {exc.strerror}") from None
