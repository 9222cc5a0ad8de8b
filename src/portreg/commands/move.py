"""`move SERVICE PORT --reason TEXT [--env ENV]`: the seed's seven-step change procedure as one
command that cannot leave things half-done (see `portreg.rewrite.plan.move`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.rewrite.plan import MoveReport
from portreg.views import Lines, Simple, View


@dataclass(frozen=True, slots=True)
class MoveResult:
    """A move, as the command line reports it."""

    report: MoveReport
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> Any:
        r = self.report
        return {
            "service": r.service,
            "environment": r.environment,
            "old": r.old,
            "new": r.new,
            "changed": r.changed,
            "registry": r.registry_path,
            "files": [
                {
                    "file": f.path,
                    "lines": [
                        {"line": n, "old": old, "new": new} for n, old, new in f.changed_lines()
                    ],
                }
                for f in r.files
            ],
        }

    def views(self) -> list[View]:
        r = self.report
        old = "TBD" if r.old is None else str(r.old)
        if not r.changed:
            return [Lines((f"{r.service} is already on port {r.new} in {r.environment}",))]
        lines = [
            f"moved {r.service} ({r.environment}): {old} -> {r.new}",
            f"  {r.registry_path}: port and change-log entry",
        ]
        from portreg.rewrite.markdown import is_page

        for f in r.files:
            changed = f.changed_lines()
            if is_page(f.after):
                lines.append(f"  {f.path}: registry page regenerated ({len(changed)} lines)")
                continue
            for n, _old, new in changed:
                lines.append(f"  {f.path}:{n}: {new.strip()}")
        if not r.files:
            lines.append("  no other file carries the port (see `portreg refs`)")
        return [Lines(tuple(lines))]


def run(env: Environment, args: argparse.Namespace) -> MoveResult | Simple:
    if env.is_remote:
        from portreg.backend import open_backend

        outcome = open_backend(env).move(
            args.service, args.port, environment=args.env, reason=args.reason, host=args.host
        )
        return Simple(
            text=(
                f"moved {outcome.service} ({outcome.environment}) to {outcome.port} on the server;"
                " local files were not rewritten (run `portreg sync` with a local ports.toml)",
            ),
            data={"service": outcome.service, "port": outcome.port, "changed": outcome.changed},
        )
    from portreg.host import live_ports
    from portreg.rewrite.plan import move

    report = move(
        env.registry_path(),
        args.service,
        args.port,
        args.env,
        args.reason,
        who=env.who,
        at=env.now(),
        live=lambda p: live_ports((p, p)),
        host=args.host,
    )
    return MoveResult(report)
