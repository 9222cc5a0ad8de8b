"""`list`'s rows and `check`'s registry facts straight from a parse known to read without error.

At 50 services most of `list --json` is start-up, and a third of that is making the model's
frozen dataclasses; at 2,000 it is building 2,000 `Service` objects. A parse from the cache
(`regcache.valid`) has been read as a registry before, so its values have the types the
model checks for, and the rows can be made from it directly. `records.service_rows` stays
the definition: tests/registry/test_fastrows.py checks the two agree on varied registries.
Pure: no I/O, and no import of the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from portreg.vocabulary import DEFAULT_AVOID, DEFAULT_RANGE, ENVIRONMENTS

_TBD = "TBD"


def plain(data: dict[str, Any]) -> bool:
    """Whether every service is one port per environment on one transport (no named ports,
    ranges, tcp+udp or hosts): what this module's readers know. Anything else takes the model."""
    for raw in data.get("services", {}).values():
        if "port" in raw or "+" in raw.get("transport", "tcp") or raw.get("host"):
            return False
        if any(type(p) is str and p != _TBD for p in raw.get("ports", {}).values()):
            return False
    return True


def service_rows(data: dict[str, Any], environment: str | None = None) -> list[dict[str, Any]]:
    """`records.service_rows` of a `plain` registry."""
    services: dict[str, dict[str, Any]] = data.get("services", {})
    seen = dict.fromkeys(ENVIRONMENTS)
    for raw in services.values():
        seen.update(dict.fromkeys(raw.get("ports", ())))
    order = {env: i for i, env in enumerate(seen)}
    rows: list[dict[str, Any]] = []
    for sid, raw in services.items():
        ports = {env: None if p == _TBD else p for env, p in raw.get("ports", {}).items()}
        ports = ports or {"development": None}
        for env in sorted(ports, key=order.__getitem__):
            if environment is not None and env != environment:
                continue
            port = ports[env]
            check = raw.get("health_check", "")
            if not check or (port is None and "{port}" in check):
                check = "" if port is None else check
            else:
                check = check.replace("{port}", str(port))
            rows.append(
                {
                    "service": sid,
                    "port_name": None,
                    "name": raw.get("name", sid),
                    "environment": env,
                    "port": port,
                    "port_end": None,
                    "protocol": raw.get("protocol", "tcp"),
                    "transport": raw.get("transport", "tcp"),
                    "status": raw.get("status", "active"),
                    "notes": raw.get("notes", ""),
                    "health_check": check,
                    "purpose": raw.get("purpose", ""),
                    "host": raw.get("host", ""),
                }
            )
    return rows


def holders(data: dict[str, Any], port: int) -> list[dict[str, Any]]:
    """`check`'s "registered" entries of a `plain` registry: `Registry.holders(port)`."""
    return [
        {
            "service": sid,
            "name": raw.get("name", sid),
            "environment": env,
            "status": raw.get("status", "active"),
        }
        for sid, raw in data.get("services", {}).items()
        for env, p in raw.get("ports", {}).items()
        if p == port
    ]


def policy_problems(data: dict[str, Any], port: int) -> list[tuple[str, str]]:
    """(code, message) of the policy rules `port` breaks: `policy.judge`'s avoided and
    out-of-range problems, word for word."""
    policy = data.get("policy", {})
    lo, hi = policy.get("range", DEFAULT_RANGE)
    out = []
    if port in policy.get("avoid", DEFAULT_AVOID):
        out.append(("avoided", f"port {port} is a standard port on the avoid list"))
    if not lo <= port <= hi:
        out.append(("out-of-range", f"port {port} is outside the range {lo}-{hi}"))
    return out


def json_chunks(rows: list[dict[str, Any]]) -> Iterator[str]:
    """`json.dumps(rows, indent=2) + "\\n"`, for rows of strings, ints and None.

    json's indenting encoder is pure Python; this writes the same text several times faster
    (each value by the C string quoter). Any other value is a ValueError: the caller's
    rows are made above, so that would be a bug here, not bad input.
    """
    try:  # the C quoter json.encoder uses, without json's decoder (its import compiles regexes)
        from _json import encode_basestring_ascii as _quote
    except ImportError:  # pragma: no cover - CPython always has _json
        from json.encoder import encode_basestring_ascii as _quote
    if not rows:
        yield "[]\n"
        return
    out = []
    for row in rows:
        parts = []
        for key, value in row.items():
            if value is None:
                text = "null"
            elif type(value) is str:
                text = _quote(value)
            elif type(value) is int:
                text = int.__repr__(value)
            else:
                raise ValueError(f"unexpected {type(value).__name__} in a row")
            parts.append(f"    {_quote(key)}: {text}")
        out.append("  {\n" + ",\n".join(parts) + "\n  }")
    yield "[\n" + ",\n".join(out) + "\n]\n"
