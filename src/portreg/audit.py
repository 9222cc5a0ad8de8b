"""The seed's monthly audit checklist as a pure diff of the registry against the live host.

`audit(registry, listeners, today, health_results, ephemeral)` takes plain values (what the
scanner, the health checks and the kernel reported) and returns findings; it touches no file,
socket or process, so every rule is tested with constructed values.

Decisions:

- Environments "live here" are `development` only (by default): the registry also lists
  staging and production ports, which run on other hosts, so their absence here is no finding.
  Registry-wide rules (duplicate, avoided, out-of-range, ephemeral-overlap) cover all
  environments.
- Only listeners in the host's own network namespace hold the host's ports; listeners inside
  containers' namespaces neither satisfy nor break the registry here.
- A process matches the registered `process` loosely (see `process_matches`): the registered
  text's first word ("Uvicorn ASGI server" → `uvicorn`, also `redis` for `redis-server`) must
  appear in the holder's process name or command line (so `python -m uvicorn` is Uvicorn), or
  the holder's name must appear in it (`postgres` for "PostgreSQL"). Port-publishing proxies
  (docker-proxy, rootlessport, …) stand in for the container behind them and always match.
  A listener whose owner is not visible is never called unexpected.
- Severity: `error` when the registry and the host disagree in a way that breaks a service
  (a port registered twice, our port held by something else, a failing health check);
  `warning` for what needs a look (not listening, undocumented, reserved port in use, policy
  breaks, overdue audit, ephemeral overlap); `info` for what is known and accepted (a port
  recorded with `add --force`, a Redis that answers but wants a password).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from portreg.model import Registry, Service
from portreg.policy import next_audit

if TYPE_CHECKING:
    from portreg.health import HealthResult
    from portreg.host import Listener
    from portreg.host.kernel import KernelPorts

SEVERITIES = ("info", "warning", "error")
LIVE_ENVIRONMENTS: tuple[str, ...] = ("development",)

# Processes that hold a published port on behalf of a container (or VM) behind them.
PROXIES = frozenset({
    "docker-proxy", "rootlessport", "rootlesskit", "slirp4netns", "pasta", "pasta.avx2",
    "conmon", "vpnkit", "gvproxy", "kubectl", "socat", "ssh", "sshd",
})  # fmt: skip

# The seed's audit checklist, and the finding codes that un-tick each line.
CHECKLIST: tuple[tuple[str, frozenset[str]], ...] = (
    ("Verify all documented ports are in use",
     frozenset({"not-listening", "unexpected-process", "health-failed"})),
    ("Check for undocumented services on high ports", frozenset({"undocumented-listener"})),
    ("Verify port ranges don't conflict with new services",
     frozenset({"duplicate-port", "avoided-port", "out-of-range", "ephemeral-overlap"})),
    ("Update reserved ports list if needed", frozenset({"reserved-port-in-use"})),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the audit found, with its code, service and (for a fleet) host."""

    code: str
    severity: str  # info | warning | error
    service: str | None
    port: int | None
    message: str
    hint: str
    host: str | None = None  # set on the findings of one reported host (`host_audit`)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.host is None:
            del out["host"]  # this host's own audit: the shape it always had
        return out


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


# --- process matching ---------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9][a-z0-9._+-]*")


def _wanted_names(process: str) -> list[str]:
    """ "Uvicorn ASGI server" → ["uvicorn"]; "redis-server" → ["redis-server", "redis"]."""
    words = _WORD.findall(process.lower())
    if not words:
        return []
    first = words[0]
    names = [first]
    for suffix in ("-server", "_server", "-daemon"):
        if first.endswith(suffix) and len(first) > len(suffix):
            names.append(first[: -len(suffix)])
    return names


def process_matches(registered: str, name: str | None, cmdline: str | None) -> bool | None:
    """Whether a holder (process name, command line) is the registered process.

    None when it cannot be judged: nothing registered, or the owner is not visible.
    """
    wanted = _wanted_names(registered)
    if not wanted or (not name and not cmdline):
        return None
    comm = (name or "").lower()
    argv0 = (cmdline or "").split(" ", 1)[0].rsplit("/", 1)[-1].lower()
    if comm in PROXIES or argv0 in PROXIES:
        return True
    haystack = f"{comm} {(cmdline or '').lower()}"
    if any(w in haystack for w in wanted):
        return True
    # The holder's own name inside the registered one: "postgres" in "postgresql 15".
    return any(len(n) >= 4 and n in wanted[0] for n in (comm, argv0))


# --- the audit ------------------------------------------------------------------------------------


def audit(
    registry: Registry,
    listeners: Sequence[Listener],
    today: date,
    health_results: Sequence[HealthResult] | None = None,
    ephemeral: KernelPorts | None = None,
    *,
    live_environments: Collection[str] = LIVE_ENVIRONMENTS,
) -> list[Finding]:
    """Every finding, most severe first, then by port."""
    host = [lst for lst in listeners if lst.namespace is None]
    by_port: dict[tuple[int, str], list[Listener]] = defaultdict(list)
    for lst in host:
        by_port[(lst.port, lst.protocol)].append(lst)

    findings: list[Finding] = []
    findings += _duplicates(registry)
    findings += _policy(registry)
    silent = _live(registry, by_port, live_environments, findings)
    findings += _undocumented(registry, host)
    if health_results is not None:
        findings += _health(health_results, silent)
    findings += _overdue(registry, today)
    if ephemeral is not None:
        findings += _ephemeral(registry, ephemeral)
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.port or 0, f.code, f.service or ""))
    return findings


def _services_on(registry: Registry) -> Iterable[tuple[Service, str, int]]:
    for s in registry.services.values():
        for env, port in s.assigned():
            yield s, env, port


def _duplicates(registry: Registry) -> list[Finding]:
    # Unique per (host, transport, port), the rule of `policy.holders_on`; a range holds each
    # of its ports.
    holders: dict[tuple[int, str, str], list[tuple[Service, str]]] = defaultdict(list)
    for s, env, start in _services_on(registry):
        for port in range(start, start + s.width):
            for transport in s.transports:
                holders[(port, transport, s.host)].append((s, env))
    out = []
    for (port, transport, _host), held in sorted(holders.items()):
        if len(held) < 2:
            continue
        ids = sorted({s.id for s, _ in held})
        who = ", ".join(f"{s.id} ({env})" for s, env in held)
        same_service = len(ids) == 1
        out.append(Finding(
            "duplicate-port",
            "warning" if same_service else "error",
            ids[0] if same_service else None,
            port,
            f"{transport} port {port} is registered {len(held)} times: {who}",
            "give each service and environment its own port: "
            f"`portreg move {held[-1][0].id} NEWPORT --env {held[-1][1]} --reason …`"
            " (or `portreg assign` for the next free one)",
        ))  # fmt: skip
    return out


def _policy(registry: Registry) -> list[Finding]:
    policy = registry.policy
    out = []
    for s, env, port in _services_on(registry):
        forced = " (recorded on purpose with --force)" if s.forced else ""
        severity = "info" if s.forced else "warning"
        move = f"`portreg move {s.id} NEWPORT --env {env} --reason …`"
        if port in policy.avoid:
            out.append(Finding(
                "avoided-port", severity, s.id, port,
                f"{s.id} ({env}) uses {port}, a standard port on the avoid list{forced}",
                f"move it into {policy.range_start}-{policy.range_end}: {move}"
                if not s.forced else "none needed; it was recorded on purpose",
            ))  # fmt: skip
        if not policy.in_range(port):
            out.append(Finding(
                "out-of-range", severity, s.id, port,
                f"{s.id} ({env}) uses {port}, outside the range "
                f"{policy.range_start}-{policy.range_end}{forced}",
                f"move it into the range: {move}"
                if not s.forced else "none needed; it was recorded on purpose",
            ))  # fmt: skip
    return out


def _describe(held: Sequence[Listener]) -> str:
    first = held[0]
    addresses = ", ".join(sorted({lst.address for lst in held}))
    if first.pid is None:
        owner = "owner unknown"
    else:
        owner = f"{first.process or '?'} (pid {first.pid}{', ' + first.user if first.user else ''})"
    return f"{first.protocol} {addresses} by {owner}"


def _live(
    registry: Registry,
    by_port: dict[tuple[int, str], list[Listener]],
    live_environments: Collection[str],
    findings: list[Finding],
) -> set[tuple[str, int]]:
    """not-listening, unexpected-process, reserved-port-in-use; returns the (service, port)
    pairs already reported as not listening, so a failed health check does not repeat them."""
    silent: set[tuple[str, int]] = set()
    for s, env, port in _services_on(registry):
        # A registration on TCP and UDP listens if either does; a range if any of its ports.
        held = [
            lst
            for p in range(port, port + s.width)
            for t in s.transports
            for lst in by_port.get((p, t), [])
        ]
        if s.reserved:
            if held:
                findings.append(Finding(
                    "reserved-port-in-use", "warning", s.id, port,
                    f"{port} is kept for {s.status} service {s.id} ({env}), "
                    f"but something listens on it: {_describe(held)}",
                    f"see `portreg who {port}`; if it is {s.id}, mark it active "
                    f"(`portreg add {s.id} --port {port} --status active`), else stop or "
                    "move the holder",
                ))  # fmt: skip
            continue
        if s.status != "active" or env not in live_environments:
            continue
        if not held:
            silent.add((s.id, port))
            findings.append(Finding(
                "not-listening", "warning", s.id, port,
                f"{s.id} ({env}) is active on {s.transport} port {port}, "
                "but nothing listens there",
                f"start {s.id}, or if it is gone: `portreg release {s.id} --env {env}`",
            ))  # fmt: skip
            continue
        if not s.process:
            continue
        strangers = [
            lst for lst in held
            if process_matches(s.process, lst.process, lst.cmdline) is False
        ]  # fmt: skip
        if strangers:
            findings.append(Finding(
                "unexpected-process", "error", s.id, port,
                f"{port} is registered to {s.id} (process {s.process!r}) but is held by "
                f"{_describe(strangers)}",
                f"see `portreg who {port}`; stop the holder or correct the registered "
                "process (portreg never kills anything)",
            ))  # fmt: skip
    return silent


def _undocumented(registry: Registry, host: Sequence[Listener]) -> list[Finding]:
    policy = registry.policy
    registered_any = registry.taken_ports()
    grouped: dict[tuple[int, str], list[Listener]] = defaultdict(list)
    for lst in host:
        if policy.in_range(lst.port) and lst.port not in registered_any:
            grouped[(lst.port, lst.protocol)].append(lst)
    return [
        Finding(
            "undocumented-listener",
            "warning",
            None,
            port,
            f"{port} is in the range {policy.range_start}-{policy.range_end} and in use "
            f"({_describe(held)}), but no service is registered on it",
            f"register it (`portreg add NAME --port {port}`) or stop it; "
            f"`portreg who {port}` names the holder",
        )
        for (port, _), held in sorted(grouped.items())
    ]


def _health(results: Sequence[HealthResult], silent: set[tuple[str, int]]) -> list[Finding]:
    out = []
    for r in results:
        if r.healthy:
            continue
        if r.state == "locked":
            out.append(Finding(
                "health-locked", "info", r.service, r.port,
                f"{r.service} answers on {r.port} but wants credentials: {r.detail}",
                "none needed for the audit; the server is up",
            ))  # fmt: skip
            continue
        if r.state == "no-response" and (r.service, r.port) in silent:
            continue  # already reported as not-listening
        severity = "warning" if r.state == "rejecting" else "error"
        out.append(Finding(
            "health-failed", severity, r.service, r.port,
            f"{r.service} {r.kind} check on {r.host}:{r.port}: {r.state}: {r.detail}",
            "look at the service's logs; check the registered health_check "
            f"(`portreg show {r.service}`)",
        ))  # fmt: skip
    return out


def _overdue(registry: Registry, today: date) -> list[Finding]:
    policy = registry.policy
    if policy.last_audit is None:
        return [Finding(
            "audit-overdue", "warning", None, None,
            "the registry has never been audited",
            "review the findings, then `portreg audit --record`",
        )]  # fmt: skip
    due = next_audit(policy)
    assert due is not None
    if due >= today:
        return []
    return [Finding(
        "audit-overdue", "warning", None, None,
        f"last audit {policy.last_audit.isoformat()}, due {due.isoformat()} "
        f"(every {policy.audit_interval_days} days): {(today - due).days} days overdue",
        "review the findings, then `portreg audit --record`",
    )]  # fmt: skip


def _ephemeral(registry: Registry, kernel: KernelPorts) -> list[Finding]:
    from portreg.policy import format_port_list

    risky = kernel.at_risk(registry.taken_ports())
    if not risky:
        return []
    lo, hi = kernel.ephemeral
    return [Finding(
        "ephemeral-overlap", "warning", None, risky[0] if len(risky) == 1 else None,
        f"{len(risky)} registered port{'s' if len(risky) != 1 else ''} "
        f"({format_port_list(risky)}) lie in the kernel's ephemeral range {lo}-{hi} and are "
        "not in ip_local_reserved_ports: an outgoing connection may take one first",
        "`sudo portreg protect --apply` (and put the line `portreg protect` prints in "
        "/etc/sysctl.d/ to keep it)",
    )]  # fmt: skip


# --- many hosts ---------------------------------------------------------------------------

STALE_AFTER_INTERVALS = 3  # a host is stale after three missed reports
HOST_CODES = ("host-stale", "leaked-port", "not-listening", "reserved-port-in-use",
              "undocumented-listener", "unexpected-process")  # fmt: skip


@dataclass(frozen=True, slots=True)
class HostReport:
    """What one host's agent last reported: its listeners, how long ago, and the interval it
    promised between reports."""

    host: str
    age_seconds: float
    interval: float
    listeners: tuple[Listener, ...]
    at: str = ""  # when it came (ISO text): tells the repair loop a new report from an old one

    @property
    def stale(self) -> bool:
        return self.age_seconds > STALE_AFTER_INTERVALS * self.interval


def on_host(registry: Registry, host: str) -> Registry:
    """The registry with only the services that live on `host`."""
    return replace(
        registry, services={k: s for k, s in registry.services.items() if s.host == host}
    )


def host_audit(
    registry: Registry,
    reports: Sequence[HostReport],
    leaked: Mapping[tuple[str, str, int], int] | None = None,
) -> list[Finding]:
    """The live checks per reported host, each finding naming its `host`.

    Against the last report as it stands (the audit shows it at once): not-listening,
    unexpected-process, reserved-port-in-use, undocumented-listener. On a host the registry
    names every environment is expected live there (the staging-runs-elsewhere rule is the
    default host's). A stale host (no report for three intervals) or a named host that never
    reported gets `host-stale` instead: its last report is no longer evidence either way.
    `leaked` holds (host, transport, port) registrations the repair loop has seen unused three
    times in a row (`leaked-port`).
    """
    findings: list[Finding] = []
    reported = {r.host: r for r in reports}
    named = sorted({s.host for s in registry.services.values() if s.host})
    for host in named:
        if host not in reported:
            findings.append(Finding(
                "host-stale", "warning", None, None,
                f"host {host} has registered services but its agent never reported",
                f"run `portreg agent --server URL --host {host}` on it "
                "(deploy/portreg-agent.service)",
                host,
            ))  # fmt: skip
    for r in sorted(reports, key=lambda r: r.host):
        if r.stale:
            findings.append(Finding(
                "host-stale", "warning", None, None,
                f"host {r.host} last reported {int(r.age_seconds)} s ago, more than "
                f"{STALE_AFTER_INTERVALS} intervals of {r.interval:g} s",
                f"see whether portreg agent runs on {r.host} (`systemctl status portreg-agent`)",
                r.host,
            ))  # fmt: skip
            continue
        mine = on_host(registry, r.host)
        own = [lst for lst in r.listeners if lst.namespace is None]
        by_port: dict[tuple[int, str], list[Listener]] = defaultdict(list)
        for lst in own:
            by_port[(lst.port, lst.protocol)].append(lst)
        found: list[Finding] = []
        _live(mine, by_port, set(mine.environments()), found)
        found += _undocumented(mine, own)
        findings += [replace(f, host=r.host) for f in found]
    for (host, transport, port), seen in sorted((leaked or {}).items()):
        holders = [
            s.id
            for s in registry.services.values()
            if s.host == host and s.transport == transport and port in s.ports.values()
        ]
        findings.append(Finding(
            "leaked-port", "warning", holders[0] if holders else None, port,
            f"{transport} port {port} is registered on host {host} "
            f"({', '.join(holders) or 'no service'}) but was not live in its last {seen} reports",
            "release it if the service is gone (`portreg release SERVICE --env ENV`)",
            host,
        ))  # fmt: skip
    findings.sort(key=lambda f: (f.host or "", -severity_rank(f.severity), f.port or 0, f.code))
    return findings


# --- summary ------------------------------------------------------------------------------


def checklist(findings: Sequence[Finding]) -> list[tuple[bool, str, list[str]]]:
    """The seed's four checklist lines: (ticked, line, codes that un-ticked it)."""
    out = []
    for line, codes in CHECKLIST:
        hit = sorted({f.code for f in findings if f.code in codes and f.severity != "info"})
        out.append((not hit, line, hit))
    return out


def summary(findings: Sequence[Finding]) -> dict[str, Any]:
    counts = dict.fromkeys(("error", "warning", "info"), 0)
    by_code: dict[str, int] = {}
    for f in findings:
        counts[f.severity] += 1
        by_code[f.code] = by_code.get(f.code, 0) + 1
    return {
        "errors": counts["error"],
        "warnings": counts["warning"],
        "info": counts["info"],
        "total": len(findings),
        "by_code": dict(sorted(by_code.items())),
        "checklist": [
            {"item": line, "ok": ok, "codes": codes} for ok, line, codes in checklist(findings)
        ],
    }


def worst(findings: Sequence[Finding]) -> str | None:
    return max((f.severity for f in findings), key=severity_rank, default=None)
