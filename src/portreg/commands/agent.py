"""`agent --server URL [--host NAME] [--netns NAME] [--interval S] [--once]`: report this host.

Scans every network namespace as `scan` does and sends the rows `scan --json` prints to
`PUT /api/v1/hosts/{host}/listeners` (token: `$PORTREG_TOKEN`, scope `agent` or `write`),
then again every `--interval` seconds until stopped (SIGTERM, Ctrl-C); `--once` sends one
report and exits. `--netns NAME` scans inside the named `ip netns` namespace only and reports it
as a host of its own (named NAME unless `--host` says otherwise): the scan runs in a thread that
joins that namespace, while the report goes out from this process' own, so the server is
reached as usual.

The host's name defaults to this machine's hostname. A failed report (server down, refused) is
one `error:` line; with `--once` it is the exit status (2), in the loop the agent tries again
at the next interval, so a server restart loses no more than one report.
"""

from __future__ import annotations

import argparse
from typing import Any

from portreg.environment import Environment
from portreg.errors import PortregError
from portreg.views import Simple

CLONE_NEWNET = 0x40000000


def scan_rows(netns: str | None) -> list[dict[str, Any]]:
    """The rows of `scan --json`: every namespace, or inside `netns` only."""
    from portreg.host import listeners

    if netns is None:
        return [lst.to_json() for lst in listeners()]
    import threading

    out: list[list[dict[str, Any]]] = []
    failed: list[BaseException] = []

    def inside() -> None:
        # setns(2) moves only the calling thread: this thread scans, the process stays put.
        try:
            _join_netns(netns)
            out.append([lst.to_json() for lst in listeners(namespaces=False)])
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    worker = threading.Thread(target=inside, name=f"scan-{netns}")
    worker.start()
    worker.join()
    if failed:
        exc = failed[0]
        raise exc if isinstance(exc, PortregError) else PortregError(f"netns {netns}: {exc}")
    return out[0]


def _join_netns(name: str) -> None:
    import ctypes
    import os

    if "/" in name or name in ("", ".", ".."):
        raise PortregError(f"not a network namespace name: {name!r}")
    path = f"/run/netns/{name}"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise PortregError(
            f"no network namespace {name!r} ({path}: {exc.strerror}; see `ip netns list`)"
        ) from None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise PortregError(
                f"cannot enter network namespace {name!r}: {os.strerror(err)} (needs root)"
            )
    finally:
        os.close(fd)


def report(client: Any, host: str, rows: list[dict[str, Any]], interval: float) -> Any:
    from urllib.parse import quote

    body = {"listeners": rows, "interval": interval}
    return client.request("PUT", f"/hosts/{quote(host, safe='')}/listeners", body)


def run(env: Environment, args: argparse.Namespace) -> Simple:
    import socket
    import time

    from portreg.client import Client
    from portreg.validate import host as valid_host

    host = valid_host(args.host or args.netns or socket.gethostname())
    if not host:
        raise PortregError("this machine has no hostname; name the host with --host NAME")
    client = Client(args.server, env.environ.get("PORTREG_TOKEN") or None)
    if args.once:
        rows = scan_rows(args.netns)
        answer = report(client, host, rows, args.interval)
        return Simple(
            text=(f"reported {len(rows)} listeners of {host} to {client.base}",),
            data=answer,
        )
    import sys

    while True:  # until SIGTERM / Ctrl-C (the CLI turns those into a clean exit)
        started = time.monotonic()
        try:
            rows = scan_rows(args.netns)
            report(client, host, rows, args.interval)
            print(f"reported {len(rows)} listeners of {host}", flush=True)
        except PortregError as exc:
            print(f"error: {exc.message}", file=sys.stderr, flush=True)
        time.sleep(max(args.interval - (time.monotonic() - started), 0.0))
