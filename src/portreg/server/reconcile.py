"""The repair loop: every PORTREG_REPAIR_SECONDS, registrations against the hosts' reports.

The rule is the core's (`portreg.repair`); this task loads what it needs, applies the holds it
asks for and exports what it saw as metrics. Each worker runs its own loop with its own
counters (as each Kubernetes API server runs its allocator repair); the actions are
idempotent, so several workers acting at once do the same thing once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portreg.server.state import State

log = logging.getLogger("portreg.repair")


async def one_pass(st: State) -> None:
    from portreg import audit as auditing, policy as policies
    from portreg.repair import repair_pass
    from portreg.server import hosts, reads
    from portreg.server.codec import utcnow

    now = utcnow()
    async with st.engine.connect() as conn:
        registry = await reads.load_registry(conn)
        found = await hosts.reports(conn, now)
        held = await hosts.holds(conn)
    actions = repair_pass(st.repair, registry, found, held)
    await hosts.apply_holds(st.engine, set(actions.hold), set(actions.unhold))
    st.leaked = actions.leaked
    m = st.metrics
    if actions.hold:
        m.repairs.labels("hold").inc(len(actions.hold))
    if actions.unhold:
        m.repairs.labels("unhold").inc(len(actions.unhold))
    findings = auditing.host_audit(registry, found, actions.leaked)
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.code] = counts.get(f.code, 0) + 1
    for code in auditing.HOST_CODES:
        m.findings.labels(code).set(counts.get(code, 0))
    p = registry.policy
    span = f"{p.range_start}-{p.range_end}"
    blocked = {(h, port) for h, _, port in held | set(actions.hold)}
    for r in found:
        m.host_listeners.labels(r.host).set(len({(lst.protocol, lst.port) for lst in r.listeners}))
    names = {"", *(s.host for s in registry.services.values()), *(r.host for r in found)}
    for host in names:
        taken = {x for x in policies.taken_on(registry, host) if p.in_range(x)}
        candidates = [x for x in policies.candidates(p) if x not in p.avoid]
        free = [x for x in candidates if x not in taken and (host, x) not in blocked]
        m.allocated.labels(span, host).set(len(taken))
        m.available.labels(span, host).set(len(free))


async def run(st: State) -> None:
    while True:
        await asyncio.sleep(st.settings.repair_seconds)
        try:
            await one_pass(st)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database blip must not end the loop; the next pass retries
            log.exception("repair pass failed")


@contextlib.asynccontextmanager
async def running(st: State):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(run(st))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
