"""The plain command lines of the hot commands, read without argparse.

`portreg check 54000`, `who PORT`, `scan [--range A-B]`, `list [--env ENV]` and
`assign SERVICE [--env ENV] [--protocol P] [--transport tcp|udp]` (each with `--json` and
`--registry X`) run in loops and scripts, where start-up is most of their time.
argparse costs ~5 ms before it parses anything: its import, building the parser, and gettext
looking up translations (which imports `locale`) for every help string.

`parse` accepts only the unambiguous forms, and gives the same values argparse would. Anything
else (a bad port, `--help`, `--json=x`, an abbreviated option, `--`, an unknown option, a
positional after an option that argparse would reject) returns None, and argparse parses it,
so every error message and help text still comes from one place.
"""

from __future__ import annotations

from types import SimpleNamespace

_MODULES = {"check": "check", "who": "who", "scan": "scan", "list": "list_", "assign": "assign"}


def _port(text: str) -> int | None:
    """A port as `policy.parse_port` reads it, or None where argparse should speak."""
    if not (text.isascii() and text.isdigit()):
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def parse(argv: list[str]) -> SimpleNamespace | None:
    """The namespace argparse would build for `argv`, or None to let argparse parse it."""
    registry: str | None = None
    i, n = 0, len(argv)
    while i < n and argv[i] == "--registry" and i + 1 < n and not argv[i + 1].startswith("-"):
        registry = argv[i + 1]
        i += 2
    if i >= n or argv[i] not in _MODULES:
        return None
    command = argv[i]
    values: dict[str, object] = {}
    positionals: list[str] = []
    run_ended = False  # argparse takes one run of positionals; a second run is an error
    i += 1
    while i < n:
        arg = argv[i]
        if not arg.startswith("-"):
            if run_ended and positionals:
                return None
            positionals.append(arg)
            i += 1
            continue
        if positionals:
            run_ended = True
        value = argv[i + 1] if i + 1 < n else None
        if arg == "--json":
            values["json"] = True
            i += 1
        elif arg == "--ndjson" and command == "scan":
            values["ndjson"] = True
            i += 1
        elif arg == "--registry" and value is not None and not value.startswith("-"):
            registry = value
            i += 2
        elif arg == "--range" and command == "scan" and value is not None and value[:1] != "-":
            lo, sep, hi = value.partition("-")
            start, end = _port(lo), _port(hi)
            if not sep or start is None or end is None or start > end:
                return None
            values["range"] = (start, end)
            i += 2
        elif (
            arg == "--env"
            and command in ("list", "assign")
            and value is not None
            and value[:1] != "-"
        ):
            values["env"] = value
            i += 2
        elif arg == "--protocol" and command == "assign" and value is not None and value[:1] != "-":
            values["protocol"] = value
            i += 2
        elif arg == "--transport" and command == "assign" and value in ("tcp", "udp"):
            values["transport"] = value
            i += 2
        else:
            return None
    if command == "assign":
        if len(positionals) != 1:
            return None
        values.setdefault("env", "development")
        values.setdefault("protocol", None)
        values.setdefault("transport", None)
        values.setdefault("host", None)  # `--host` itself is left to argparse
        return SimpleNamespace(
            registry=registry, command=command, module="assign", service=positionals[0], **values
        )
    ports = [_port(p) for p in positionals]
    if None in ports:
        return None
    if command == "check":
        if not ports:
            return None
        values["ports"] = ports
        values["host"] = None  # `--host` itself is left to argparse
    elif command == "who":
        if len(ports) != 1:
            return None
        values["port"] = ports[0]
    elif ports:
        return None
    elif command == "scan":
        values.setdefault("range", None)
        values.setdefault("ndjson", False)
    else:
        values.setdefault("env", None)
        values["host"] = None
    return SimpleNamespace(registry=registry, command=command, module=_MODULES[command], **values)
