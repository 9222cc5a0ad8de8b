"""The registry's fixed words and defaults, in a module that imports nothing.

The command line's parser, the cached-read paths and the rewriters need these names before
(or instead of) the model, whose dataclasses cost ~10 ms to create at start-up.
`portreg.model` re-exports every one of them.
"""

from __future__ import annotations

ENVIRONMENTS: tuple[str, ...] = ("development", "staging", "production")
STATUSES: tuple[str, ...] = ("active", "planned", "reserved", "deprecated")
TRANSPORTS: tuple[str, ...] = ("tcp", "udp")
# A port published on both transports is one registration: they move together.
BOTH = "tcp+udp"
TRANSPORT_VALUES: tuple[str, ...] = (*TRANSPORTS, BOTH)
# `kong:https`: one of several ports of a service, addressed by the service's id and the port's
# name. Ids never hold a `:` (service_id maps it to `-`), so the split is unambiguous.
PORT_SEP = ":"
# A binding `$JIGASI_PORT_MAX.end`: the variable carries a range's last port, not its first.
END = ".end"
# A status in this set means "kept for later": listed under Reserved Ports, never audited as down.
RESERVED_STATUSES = frozenset({"planned", "reserved"})

DEFAULT_RANGE = (53000, 54999)
# Leases (`portreg run`, `lease`, the pytest plugin) come from their own band: below Linux's
# default ephemeral range (32768-60999), apart from the assignment range.
DEFAULT_LEASE_RANGE = (20000, 29999)
# The seed's two lists of standard ports ("avoiding common ports", "Avoid Standard Ports").
DEFAULT_AVOID: tuple[int, ...] = (22, 25, 53, 80, 443, 3000, 3306, 5000, 5432, 5672, 6379,
                                  8000, 8080, 8443, 9000, 9092, 27017)  # fmt: skip
DEFAULT_AUDIT_INTERVAL_DAYS = 30
DEFAULT_TITLE = "Services and Ports Registry"
PORT_MIN, PORT_MAX = 1, 65535
