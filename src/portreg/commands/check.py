"""`check PORT...`: free? registered (to what)? allowed by the policy? in use (by whom)?

Works with no registry at all: it then reports the host alone. Exit 1 when any port asked
about is not free to hand out (registered, in use, or against the policy).

"In use" means: a listening TCP socket or an unconnected UDP socket, IPv4 or IPv6, on any
address, in the network namespace `check` runs in — exactly what would make a service started
here fail to bind the port. Each listener names its holder (pid, process, user), or "owner
unknown" when no process we may look at holds it. Listeners inside *other* network namespaces
(containers, `ip netns`) are not looked at: they do not stop a bind here, and finding them
means a stat of every process and a read of each namespace's tables. `portreg who PORT` and
`portreg scan` look there too. The kernel is asked for the ports in question only (netlink
with a port filter), and /proc/*/fd is walked for holders only when something listens.

`--host NAME` judges the ports on that host: registrations on it, and what its agent last
reported (from a server; a local registry cannot see another host's sockets, so "in use"
is then unknown and not claimed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portreg.environment import Environment
from portreg.errors import ExitCode
from portreg.views import Lines, View

if TYPE_CHECKING:
    import argparse


class PortCheck:
    """What `check` found about one port.

    Plain classes here, not dataclasses: making a dataclass class costs ~0.5 ms at start-up,
    and `check` is a command people run in loops.
    """

    __slots__ = ("has_registry", "listeners", "port", "problems", "registered")

    def __init__(
        self,
        port: int,
        registered: list[dict[str, Any]],
        problems: list[str],  # policy rules broken (avoid list, range)
        listeners: list[dict[str, Any]],
        has_registry: bool,
    ) -> None:
        self.port = port
        self.registered = registered
        self.problems = problems
        self.listeners = listeners
        self.has_registry = has_registry

    @property
    def in_use(self) -> bool:
        return bool(self.listeners)

    @property
    def free(self) -> bool:
        return not self.registered and not self.in_use and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "free": self.free,
            "registered": self.registered,
            "allowed": not self.problems if self.has_registry else None,
            "problems": self.problems,
            "in_use": self.in_use,
            "listeners": self.listeners,
        }

    def lines(self) -> list[str]:
        verdict = "free" if self.free else "NOT free"
        out = [f"{self.port}: {verdict}"]
        for r in self.registered:
            out.append(f"  registered to {r['service']} ({r['environment']}, {r['status']})")
        if not self.has_registry:
            out.append("  registry: none found (host only)")
        elif not self.registered:
            out.append("  registered: no")
        out.extend(f"  not allowed: {p}" for p in self.problems)
        if self.has_registry and not self.problems:
            out.append("  allowed by the policy: yes")
        for lst in self.listeners:
            owner = (
                f"{lst['process']} (pid {lst['pid']}, user {lst['user']})"
                if lst["pid"] is not None
                else "owner unknown (process not visible)"
            )
            where = f" in netns {lst['namespace']}" if lst.get("namespace") else ""
            out.append(f"  in use: {lst['protocol']} {lst['address']} by {owner}{where}")
        if not self.listeners:
            out.append("  in use: no")
        return out


class CheckResult:
    """`check`: one PortCheck per port asked about."""

    __slots__ = ("checks",)

    def __init__(self, checks: list[PortCheck]) -> None:
        self.checks = checks

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if all(c.free for c in self.checks) else ExitCode.PROBLEMS

    def to_json(self) -> Any:
        return [c.to_json() for c in self.checks]

    def views(self) -> list[View]:
        return [Lines(tuple(line for c in self.checks for line in c.lines()))]


def run(env: Environment, args: argparse.Namespace) -> CheckResult:
    from portreg.host import listeners

    ports: list[int] = list(dict.fromkeys(args.ports))
    cached = None
    if not env.is_remote and env.registry_location is not None:
        # A registry read before and unchanged since: its facts from the cached parse,
        # without the model (see portreg.fastrows).
        from portreg import regcache

        cached = regcache.valid(env.registry_path())
    from portreg import fastrows

    if cached is not None and not args.host and fastrows.plain(cached):
        found = listeners((min(ports), max(ports)), namespaces=False, ports=set(ports))
        return CheckResult(
            [
                PortCheck(
                    port,
                    fastrows.holders(cached, port),
                    [message for _, message in fastrows.policy_problems(cached, port)],
                    [lst.to_json() for lst in found if lst.port == port],
                    True,
                )
                for port in ports
            ]
        )
    return _checked(env, ports, args.host or "")


def _checked(env: Environment, ports: list[int], host_arg: str) -> CheckResult:
    from portreg.backend import open_backend
    from portreg.host import listeners
    from portreg.model import Registry
    from portreg.policy import POLICY_CODES, holders_on, judge
    from portreg.validate import host as valid_host

    host = valid_host(host_arg)
    registry: Registry | None = None
    if env.is_remote or env.registry_location is not None:
        registry = open_backend(env).load()
    if not host:
        found = [
            lst.to_json()
            for lst in listeners((min(ports), max(ports)), namespaces=False, ports=set(ports))
        ]
    else:
        found = _reported(env, host) if env.is_remote else []
    checks = []
    for port in ports:
        registered: list[dict[str, Any]] = []
        problems: list[str] = []
        if registry is not None:
            registered = [
                {"service": s.id, "name": s.name, "environment": env_name, "status": s.status}
                for s, env_name in holders_on(registry, port, host=host)
            ]
            # Registration and liveness are reported on their own lines; only policy here.
            problems = [p for p in judge(registry, port).problems if p.code in POLICY_CODES]
        held = [lst for lst in found if lst.get("port") == port]
        checks.append(PortCheck(port, registered, problems, held, registry is not None))
    return CheckResult(checks)


def _reported(env: Environment, host: str) -> list[dict[str, Any]]:
    """What `host`'s agent last reported to the server (an unknown host reported nothing)."""
    from urllib.parse import quote

    from portreg.client import Client

    client = Client(env.registry_location or "", env.environ.get("PORTREG_TOKEN") or None)
    if not any(h.get("host") == host for h in client.request("GET", "/hosts")):
        return []
    rows = client.request("GET", f"/hosts/{quote(host, safe='')}/listeners")
    return [r for r in rows if isinstance(r, dict)]
