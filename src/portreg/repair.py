"""The repair loop's rule, as a pure function: registrations reconciled against hosts' reports.

Modelled on Kubernetes' allocator repair (`pkg/registry/core/service/ipallocator/controller`):
the allocator's state is checked against what is really in use on every pass, and a
discrepancy is acted on only after it was seen in `SIGHTINGS` reports of its host in a row
(a pass that finds no new report counts nothing), so a report taken mid-restart never frees
or blocks anything. Counters live in memory (`RepairState`), as the
Kubernetes controller keeps its `leaks` map; a restarted server starts counting again.

What is acted on (keys are (host, transport, port)):

- **orphaned**: live on a freshly reported host, inside the policy range, and no service on
  that host holds the number. After three sightings the port is *held*: allocation on that
  host skips it even when a later report misses it (a service that flaps keeps its port).
  A hold goes when the number is registered on that host (at once: the registration now
  covers it) or when it has not been live in three reports.
- **leaked**: registered to an active service on a freshly reported host, and not live
  there. After three sightings it is reported as `leaked-port` (audit and metrics). It is not
  released: a registration is what people wrote down, and portreg never deletes it on its own;
  the finding says how to release it.

Stale hosts (no report for three intervals) are not looked at: their counters stay as they were.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from portreg.audit import HostReport
from portreg.model import Registry

SIGHTINGS = 3

Key = tuple[str, str, int]  # (host, transport, port)


@dataclass(slots=True)
class RepairState:
    """Consecutive sightings per key, carried from one pass to the next."""

    orphans: dict[Key, int] = field(default_factory=dict)
    leaks: dict[Key, int] = field(default_factory=dict)
    gone: dict[Key, int] = field(default_factory=dict)  # holds not live, reports in a row
    counted: dict[str, str] = field(default_factory=dict)  # host -> the report last counted


@dataclass(frozen=True, slots=True)
class Actions:
    """What one pass of the repair loop decided to do."""

    hold: frozenset[Key]
    unhold: frozenset[Key]
    leaked: dict[Key, int]  # every key leaked in SIGHTINGS reports or more, with its count


def _count(previous: dict[Key, int], now: set[Key], hosts: set[str]) -> dict[Key, int]:
    """Keys seen now count one more; keys of the hosts looked at and not seen now drop out."""
    kept = {k: n for k, n in previous.items() if k[0] not in hosts}
    kept.update({k: previous.get(k, 0) + 1 for k in now})
    return kept


def repair_pass(
    state: RepairState,
    registry: Registry,
    reports: Sequence[HostReport],
    holds: Collection[Key],
) -> Actions:
    """One pass: update `state` from the fresh reports and say what to hold, unhold, flag."""
    # A sighting is a new report: a pass that finds a host's report unchanged counts nothing.
    fresh = [r for r in reports if not r.stale and state.counted.get(r.host) != r.at]
    state.counted.update({r.host: r.at for r in fresh})
    hosts = {r.host for r in fresh}
    policy = registry.policy
    orphans_now: set[Key] = set()
    leaks_now: set[Key] = set()
    live_by_host: dict[str, set[Key]] = {}
    for r in fresh:
        live = {(r.host, lst.protocol, lst.port) for lst in r.listeners if lst.namespace is None}
        live_by_host[r.host] = live
        mine = [s for s in registry.services.values() if s.host == r.host]
        numbers = {p for s in mine for _, p in s.assigned()}
        orphans_now |= {k for k in live if policy.in_range(k[2]) and k[2] not in numbers}
        leaks_now |= {
            (r.host, s.transport, p)
            for s in mine
            if s.status == "active"
            for _, p in s.assigned()
            if (r.host, s.transport, p) not in live
        }
    state.orphans = _count(state.orphans, orphans_now, hosts)
    state.leaks = _count(state.leaks, leaks_now, hosts)
    held = set(holds)
    registered = {
        (s.host, p) for s in registry.services.values() for _, p in s.assigned() if s.host
    }
    not_live = {k for k in held if k[0] in hosts and k not in live_by_host.get(k[0], set())}
    state.gone = _count({k: n for k, n in state.gone.items() if k in held}, not_live, hosts)
    unhold = {k for k in held if (k[0], k[2]) in registered}
    unhold |= {k for k, n in state.gone.items() if n >= SIGHTINGS}
    hold = {k for k, n in state.orphans.items() if n >= SIGHTINGS and k not in held}
    for k in unhold:
        state.gone.pop(k, None)
    leaked = {k: n for k, n in state.leaks.items() if n >= SIGHTINGS}
    return Actions(frozenset(hold - unhold), frozenset(unhold), leaked)
