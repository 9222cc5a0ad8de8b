"""The server checks the live host, like the command line: picking a port skips ports something
listens on (TCP or UDP, IPv4 or IPv6) on the host the server runs on, a named port live there
is refused for move and reserve (409), and PORTREG_CHECK_HOST=false turns the check off.

Real servers (SQLite and PostgreSQL), real sockets held by the test process in the server's
network namespace; each test's policy range starts at a port the test holds, so the expected
answers do not depend on what else runs on the machine."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.server.conftest import Server, StartServer, http, pg_query, run_async

SPAN = 10  # the policy range: P .. P+SPAN-1


@dataclass
class Held:
    """A TCP (IPv4) listener on P, an unconnected UDP (IPv4) socket on P+1 and a TCP (IPv6)
    listener on [::1]:P+2."""

    base: int
    tcp: socket.socket
    udp: socket.socket
    tcp6: socket.socket

    @property
    def ports(self) -> set[int]:
        return {self.base, self.base + 1, self.base + 2}

    @property
    def range(self) -> str:
        return f"{self.base}-{self.base + SPAN - 1}"

    def close(self) -> None:
        for s in (self.tcp, self.udp, self.tcp6):
            s.close()


def _hold() -> Held:
    for _ in range(50):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        base = tcp.getsockname()[1]
        if base + SPAN > 65535:
            tcp.close()
            continue
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            udp.bind(("127.0.0.1", base + 1))
            tcp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            tcp6.bind(("::1", base + 2))
            tcp6.listen()
        except OSError:
            for s in (tcp, udp, tcp6):
                s.close()
            continue
        return Held(base, tcp, udp, tcp6)
    raise AssertionError("could not hold three neighbouring ports")


@pytest.fixture
def held() -> Iterator[Held]:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    h = _hold()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"PORTREG_DATABASE_URL": request.getfixturevalue("pg_url")}


def _start(start_server: StartServer, backend: dict[str, str], held: Held, **env: str) -> Server:
    return start_server(
        env={**backend, "PORTREG_RANGE": held.range, "PORTREG_WRITE_AUTH": "open", **env}
    )


def _assign(server: Server, name: str) -> int:
    status, body = http("POST", server.api + "/assignments", {"service": name})
    assert status == 201, body
    return int(body["port"])


def test_assign_skips_ports_live_on_the_servers_host_and_hands_them_out_once_free(
    start_server: StartServer, backend: dict[str, str], held: Held
) -> None:
    server = _start(start_server, backend, held)
    first = _assign(server, "first")
    assert first not in held.ports  # TCP v4, UDP v4 and TCP v6 listeners all skipped
    assert held.base + 3 <= first < held.base + SPAN
    if "PORTREG_DATABASE_URL" in backend:  # the hint never passes a skipped live port
        (hint,) = pg_query(
            backend["PORTREG_DATABASE_URL"], "SELECT next_from FROM portreg_alloc_hint"
        )
        assert hint["next_from"] <= held.base

    # An existing service keeps its port, whatever is live now.
    status, again = http("POST", server.api + "/assignments", {"service": "first"})
    assert (status, again["port"], again["created"]) == (200, first, False)

    held.tcp.close()  # the TCP listener on P goes away: P is the lowest free port again
    assert _assign(server, "second") == held.base
    status, _ = http("DELETE", server.api + "/services/second")
    assert status == 200
    assert _assign(server, "third") == held.base  # released: handed out again

    held.udp.close()
    assert _assign(server, "fourth") == held.base + 1
    held.tcp6.close()
    assert _assign(server, "fifth") == held.base + 2


def test_check_host_off_hands_out_a_live_port(
    start_server: StartServer, backend: dict[str, str], held: Held
) -> None:
    server = _start(start_server, backend, held, PORTREG_CHECK_HOST="false")
    assert _assign(server, "first") == held.base
    assert _assign(server, "second") == held.base + 1
    status, body = http(
        "POST", server.api + "/reservations", {"service": "planned", "port": held.base + 2}
    )
    assert (status, body["port"]) == (200, held.base + 2)


def test_named_port_live_on_the_host_is_refused_for_move_and_reserve(
    start_server: StartServer, backend: dict[str, str], held: Held
) -> None:
    server = _start(start_server, backend, held)
    api = server.api
    first = _assign(server, "first")
    live_text = f"port {held.base} is in use on the host"

    status, body = http("POST", api + "/services/first/move", {"port": held.base, "reason": "test"})
    assert status == 409 and body == {"detail": f"cannot move first to {held.base}: {live_text}"}
    assert http("GET", api + "/services/first")[1]["ports"] == {"development": first}

    status, body = http("POST", api + "/reservations", {"service": "planned", "port": held.base})
    assert status == 409 and body == {"detail": live_text}

    # Without a port, the server picks one: live ports are skipped as for assign.
    status, body = http("POST", api + "/reservations", {"service": "planned"})
    assert status == 200 and body["port"] not in held.ports | {first}

    # `add` documents a service that may already run: accepted with a warning, as on the CLI.
    status, body = http("POST", api + "/services", {"name": "running", "port": held.base})
    assert status == 201 and body["ports"] == {"development": held.base}
    assert body["warnings"] == [f"warning: {live_text}"]

    held.tcp6.close()
    status, body = http(
        "POST", api + "/services/first/move", {"port": held.base + 2, "reason": "free now"}
    )
    assert (status, body["new"]) == (200, held.base + 2)


def test_the_server_never_hands_out_its_own_port(start_server: StartServer) -> None:
    server = start_server(env={"PORTREG_WRITE_AUTH": "open"})
    own = int(server.url.rsplit(":", 1)[1])
    lo = own if own + 3 <= 65535 else own - 3
    toml = f'[registry]\nproject = "own-port"\n\n[policy]\nrange = [{lo}, {lo + 3}]\n'
    assert http("POST", server.api + "/import", text=toml)[0] == 200
    ports = set()
    with contextlib.suppress(AssertionError):  # the range may fill up (other listeners)
        for name in ("a", "b", "c", "d"):
            ports.add(_assign(server, name))
    assert ports and own not in ports


def test_migration_0004_downgrades_to_0003s_function_and_upgrades_again(
    start_server: StartServer, pg_url: str, held: Held
) -> None:

    from alembic import command
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import create_async_engine

    from portreg.server.db import MIGRATIONS

    server = _start(start_server, {"PORTREG_DATABASE_URL": pg_url}, held)
    assert _assign(server, "before") not in held.ports
    server.stop()

    def run(sync_conn: object, revision: str, up: bool) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = sync_conn
        (command.upgrade if up else command.downgrade)(cfg, revision)

    async def migrate(revision: str, *, up: bool) -> None:
        engine = create_async_engine(pg_url)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(run, revision, up)
                await conn.commit()
        finally:
            await engine.dispose()

    def arguments() -> list[int]:
        rows = pg_query(pg_url, "SELECT pronargs FROM pg_proc WHERE proname = 'portreg_assign'")
        return [r["pronargs"] for r in rows]

    assert arguments() == [13]
    run_async(migrate("0003", up=False))
    assert arguments() == [12]  # 0003's function, and only it
    (version,) = pg_query(pg_url, "SELECT version_num FROM alembic_version")
    assert version["version_num"] == "0003"
    run_async(migrate("head", up=True))
    assert arguments() == [13]

    again = _start(start_server, {"PORTREG_DATABASE_URL": pg_url}, held)
    assert _assign(again, "after") not in held.ports
