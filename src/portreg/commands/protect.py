"""`protect [--apply]`: keep the kernel's ephemeral ports off every registered and reserved port.

Prints the `net.ipv4.ip_local_reserved_ports = …` line (sysctl format, ready for
/etc/sysctl.d/) that reserves every port of the registry — any service, any environment,
planned and reserved ones included — merged with what the kernel reserves already, so no
existing reservation is lost. `--apply` writes it to /proc/sys (root only). The setting
belongs to the caller's network namespace and does not survive a reboot.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.views import Lines, View


@dataclass(frozen=True, slots=True)
class ProtectResult:
    """What `protect` wrote or would write."""

    registered: list[int]
    before: list[int]  # reserved before
    after: list[int]  # the setting printed (and written, with --apply)
    ephemeral: tuple[int, int]
    at_risk: list[int]  # registered ports the kernel could have handed out, before
    applied: bool
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> Any:
        from portreg.host.kernel import SETTING
        from portreg.policy import format_port_list

        return {
            "setting": SETTING,
            "value": format_port_list(self.after),
            "line": self.line,
            "registered": self.registered,
            "reserved_before": format_port_list(self.before),
            "ephemeral_range": list(self.ephemeral),
            "at_risk": self.at_risk,
            "added": sorted(set(self.after) - set(self.before)),
            "applied": self.applied,
        }

    @property
    def line(self) -> str:
        from portreg.host.kernel import setting_line

        return setting_line(self.after)

    def views(self) -> list[View]:
        lines = [self.line]
        if self.applied:
            lines.append(
                "# applied to this network namespace; to keep it across reboots, "
                "put the line above in /etc/sysctl.d/90-portreg.conf"
            )
        return [Lines(tuple(lines))]


def run(env: Environment, args: argparse.Namespace) -> ProtectResult:
    from portreg.backend import open_backend
    from portreg.host import kernel

    registry = open_backend(env).load()
    current = kernel.read()
    wanted = registry.taken_ports()
    after = kernel.protected(current.reserved, wanted)
    applied = False
    if args.apply:
        kernel.write_reserved(after)
        applied = True
    return ProtectResult(
        registered=sorted(wanted),
        before=sorted(current.reserved),
        after=sorted(after),
        ephemeral=current.ephemeral,
        at_risk=current.at_risk(wanted),
        applied=applied,
    )
