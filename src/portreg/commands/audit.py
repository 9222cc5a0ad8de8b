"""`audit [--health] [--json] [--fail-on warning|error] [--record] [--timeout S]`.

The seed's monthly audit checklist against the live host: the registry (local ports.toml or a
server), every listener on this host with its owner, the kernel's ephemeral range and, with
`--health`, each live service's protocol health check. Findings come from the pure
`portreg.audit`; this module only gathers the facts. It reports; it never kills or signals.

Exit 1 when a finding at or above `--fail-on` (default: error) exists. `--record` writes today
as `policy.last_audit` under the registry's lock (a local ports.toml only).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from portreg.environment import Environment
from portreg.errors import ExitCode, PortregError
from portreg.views import Lines, Table, View, Warning

if TYPE_CHECKING:
    from portreg.audit import Finding
    from portreg.health import HealthResult
    from portreg.model import Registry

TICK, CROSS = "✓", "✗"


@dataclass(frozen=True, slots=True)
class AuditResult:
    """The audit's findings and when the next one is due."""

    findings: list[Finding]
    today: date
    registry: Registry
    listeners: int
    fail_on: str
    health: list[HealthResult] | None = None
    recorded: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> ExitCode:
        from portreg.audit import severity_rank

        bar = severity_rank(self.fail_on)
        failing = any(severity_rank(f.severity) >= bar for f in self.findings)
        return ExitCode.PROBLEMS if failing else ExitCode.OK

    def _summary(self) -> dict[str, Any]:
        from portreg.audit import summary

        out = summary(self.findings)
        policy = self.registry.policy
        out.update({
            "date": self.today.isoformat(),
            "last_audit": policy.last_audit.isoformat() if policy.last_audit else None,
            "next_audit": self._next_audit(),
            "recorded": self.recorded,
            "services": len(self.registry.services),
            "listeners": self.listeners,
            "range": [policy.range_start, policy.range_end],
            "fail_on": self.fail_on,
        })  # fmt: skip
        if self.health is not None:
            out["health"] = {
                "checked": len(self.health),
                "healthy": sum(1 for r in self.health if r.healthy),
                "results": [r.to_json() for r in self.health],
            }
        return out

    def _next_audit(self) -> str | None:
        from portreg.policy import next_audit

        due = next_audit(self.registry.policy)
        return due.isoformat() if due else None

    def to_json(self) -> Any:
        return {"findings": [f.to_json() for f in self.findings], "summary": self._summary()}

    def views(self) -> list[View]:
        from portreg.audit import checklist

        policy = self.registry.policy
        last = policy.last_audit.isoformat() if policy.last_audit else "never"
        nxt = self._next_audit() or "now"
        head = [
            f"Port audit {self.today.isoformat()}: "
            f"{_count(len(self.registry.services), 'service')}, "
            f"{_count(self.listeners, 'listener')} in the range and on registered ports, range "
            f"{policy.range_start}-{policy.range_end}",
            f"Last audit: {last}   Next audit: {nxt} (every {policy.audit_interval_days} days)",
        ]
        if self.recorded:
            head.append(f"Recorded {self.today.isoformat()} as the last audit.")
        out: list[View] = [Lines(tuple(head))]
        out.append(Table(
            ("", "Item", "Findings"),
            tuple(
                (TICK if ok else CROSS, line, ", ".join(codes) or "none")
                for ok, line, codes in checklist(self.findings)
            ),
            title="Audit Checklist",
        ))  # fmt: skip
        if self.findings:
            out.append(Table(
                ("Severity", "Code", "Service", "Port", "Message", "Hint"),
                tuple(
                    (f.severity, f.code, f.service or "—",
                     "—" if f.port is None else str(f.port), f.message, f.hint)
                    for f in self.findings
                ),
                title="Findings",
            ))  # fmt: skip
        if self.health:
            out.append(Table(
                ("", "Service", "Env", "Check", "Target", "State", "Detail", "ms"),
                tuple(
                    (TICK if r.healthy else CROSS, r.service, r.environment, r.kind,
                     f"{r.host}:{r.port}", r.state, r.detail, f"{r.elapsed_ms:.0f}")
                    for r in self.health
                ),
                title="Health Checks",
            ))  # fmt: skip
        s = self._summary()
        out.append(Lines((
            f"{s['errors']} error(s), {s['warnings']} warning(s), {s['info']} info; "
            f"failing at {self.fail_on} or above: {'yes' if self.exit_code else 'no'}",
        )))  # fmt: skip
        if self.notes:
            out.append(Warning(self.notes))
        return out


def run(env: Environment, args: argparse.Namespace) -> AuditResult:
    from portreg.audit import LIVE_ENVIRONMENTS, audit
    from portreg.backend import open_backend
    from portreg.host import kernel as kernel_mod, listeners

    timeout = float(args.timeout)
    if not 0 < timeout <= 600:
        raise PortregError(f"--timeout must be between 0 and 600 seconds, got {args.timeout}")
    if args.record and env.is_remote:
        raise PortregError("--record needs a local ports.toml (the server keeps its own audit)")
    registry = open_backend(env).load()
    today = env.now().date()
    found = [lst for span in _spans(registry) for lst in listeners(span, owners=True)]

    notes: list[str] = []
    try:
        kernel: kernel_mod.KernelPorts | None = kernel_mod.read()
    except PortregError as exc:
        kernel = None
        notes.append(f"note: ephemeral-overlap not checked: {exc.message}")

    health: list[HealthResult] | None = None
    if args.health:
        from portreg.health import run_checks, target_for

        targets = [
            t
            for s in registry.services.values()
            if s.status == "active"
            for e in LIVE_ENVIRONMENTS
            if (t := target_for(s, e)) is not None
        ]
        health = run_checks(targets, timeout)

    recorded = False
    if args.record:
        _record(env, today)
        registry = replace(registry, policy=replace(registry.policy, last_audit=today))
        recorded = True

    findings = audit(registry, found, today, health, kernel)
    return AuditResult(
        findings=findings,
        today=today,
        registry=registry,
        listeners=len(found),
        fail_on=args.fail_on,
        health=health,
        recorded=recorded,
        notes=tuple(notes),
    )


def _spans(registry: Registry, most: int = 8) -> list[tuple[int, int]]:
    """The port spans the audit looks at: the policy's range and every registered port.

    Listeners elsewhere cannot produce a finding, and asking the kernel for these spans only
    (a kernel-side filter, owners looked up for what it returns) keeps the audit fast on a
    host with tens of thousands of sockets. Past `most` spans, one span covers them all.
    """
    policy = registry.policy
    points = sorted(
        [(policy.range_start, policy.range_end)]
        + [(p, p) for p in registry.taken_ports() if not policy.in_range(p)]
    )
    spans: list[tuple[int, int]] = []
    for lo, hi in points:
        if spans and lo <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(hi, spans[-1][1]))
        else:
            spans.append((lo, hi))
    if len(spans) > most:
        return [(spans[0][0], spans[-1][1])]
    return spans


def _record(env: Environment, today: date) -> None:
    from portreg.store import mutate

    def change(r: Registry) -> tuple[Registry, None]:
        return replace(r, policy=replace(r.policy, last_audit=today)), None

    mutate(env.registry_path(), change)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
