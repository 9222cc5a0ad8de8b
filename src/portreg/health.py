"""Health checks that speak each service's protocol: HTTP GET, TCP connect, PostgreSQL, Redis.

All checks run concurrently on one asyncio loop, each under its own timeout, over plain
asyncio streams (no client libraries, no shelling out to pg_isready or redis-cli).

Which check a service gets comes from its registered health check, else its protocol:

- `GET http://localhost:54000/api/v1/health`, a bare URL, or any text holding one → HTTP GET
- `pg_isready -h localhost -p 54432 [-d DB] [-U USER]` → PostgreSQL, as pg_isready does it
- `redis-cli [-h H] -p 54379 ping` → Redis PING
- otherwise protocol `http`/`https` → `GET /`, `postgres`/`postgresql` → PostgreSQL,
  `redis` → Redis, anything else → TCP connect. UDP services are not checked (no generic probe).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import struct
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from portreg.model import Service
from portreg.protocols import health_kind

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"  # up, answered, but with a failure (HTTP 5xx, a Redis error)
LOCKED = "locked"  # up, but wants credentials (Redis NOAUTH / WRONGPASS)
REJECTING = "rejecting"  # up, refusing connections for now (PostgreSQL starting / shutting down)
NO_RESPONSE = "no-response"  # refused, reset, or closed without a reply
TIMEOUT = "timeout"
STATES = (HEALTHY, UNHEALTHY, LOCKED, REJECTING, NO_RESPONSE, TIMEOUT)

KINDS = ("http", "tcp", "postgres", "redis")
DEFAULT_HOST = "localhost"
_MAX_LINE = 8192


@dataclass(frozen=True, slots=True)
class Target:
    """What to probe, and how."""

    service: str
    environment: str
    port: int
    kind: str  # http | tcp | postgres | redis
    host: str = DEFAULT_HOST
    path: str = "/"  # http
    tls: bool = False  # https
    database: str = "postgres"  # postgres
    user: str = "postgres"  # postgres


@dataclass(frozen=True, slots=True)
class HealthResult:
    """The answer of one health check: up or not, how it was asked, how long it took."""

    service: str
    environment: str
    port: int
    kind: str
    state: str
    detail: str
    elapsed_ms: float
    host: str = DEFAULT_HOST

    @property
    def healthy(self) -> bool:
        return self.state == HEALTHY

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["elapsed_ms"] = round(self.elapsed_ms, 1)
        return out


# --- which check --------------------------------------------------------------------------------


def target_for(service: Service, environment: str) -> Target | None:
    """The check for `service` in `environment`, or None when there is nothing to probe."""
    port = service.ports.get(environment)
    if port is None or service.transport != "tcp":
        return None
    text = service.health_check_for(environment).strip()
    base = Target(service.id, environment, port, health_kind(service.protocol))
    if base.kind == "http" and service.protocol.lower() == "https":
        base = _replace(base, tls=True)
    if not text:
        return base
    url = _find_url(text)
    if url is not None:
        return _http_target(base, url)
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if not words:
        return base
    program = words[0].rsplit("/", 1)[-1]
    if program == "pg_isready":
        opts = _options(words[1:], {"-h": "host", "--host": "host", "-p": "port",
                                    "--port": "port", "-d": "database", "--dbname": "database",
                                    "-U": "user", "--username": "user"})  # fmt: skip
        return _replace(
            base,
            kind="postgres",
            host=opts.get("host", base.host),
            port=_int(opts.get("port"), port),
            database=opts.get("database", base.database),
            user=opts.get("user", base.user),
        )
    if program == "redis-cli":
        opts = _options(words[1:], {"-h": "host", "-p": "port"})
        return _replace(base, kind="redis", host=opts.get("host", base.host),
                        port=_int(opts.get("port"), port))  # fmt: skip
    return base


def _replace(t: Target, **changes: Any) -> Target:
    from dataclasses import replace

    return replace(t, **changes)


def _find_url(text: str) -> str | None:
    for word in text.split():
        w = word.strip("`'\"<>()")
        if w.startswith(("http://", "https://")):
            return w
    return None


def _http_target(base: Target, url: str) -> Target:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    try:
        url_port = parts.port
    except ValueError:
        url_port = None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _replace(
        base,
        kind="http",
        host=parts.hostname or base.host,
        port=url_port or base.port,
        path=path,
        tls=tls,
    )


def _options(words: Sequence[str], names: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    it = iter(words)
    for word in it:
        flag, eq, value = word.partition("=")
        if flag in names:
            if not eq:
                value = next(it, "")
            out[names[flag]] = value
        elif len(word) > 2 and word[:2] in names and not word.startswith("--"):
            out[names[word[:2]]] = word[2:]  # -p54432
    return out


def _int(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.isdigit() and 0 < int(text) < 65536 else default


# --- running -------------------------------------------------------------------------------------


def run_checks(targets: Sequence[Target], timeout: float = 2.0) -> list[HealthResult]:
    """Probe every target concurrently; each is done within `timeout` seconds, whatever happens."""
    if not targets:
        return []
    return asyncio.run(_gather(targets, timeout))


async def _gather(targets: Sequence[Target], timeout: float) -> list[HealthResult]:
    return list(await asyncio.gather(*(check(t, timeout) for t in targets)))


async def check(target: Target, timeout: float) -> HealthResult:
    start = time.perf_counter()
    probe = {"http": _http, "postgres": _postgres, "redis": _redis}.get(target.kind, _tcp)
    try:
        state, detail = await asyncio.wait_for(probe(target), timeout)
    except TimeoutError:
        state, detail = TIMEOUT, f"no answer within {timeout:g} s"
    except ConnectionRefusedError:
        state, detail = NO_RESPONSE, "connection refused"
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        state, detail = NO_RESPONSE, f"connection closed without a reply ({type(exc).__name__})"
    except OSError as exc:  # unresolvable host, unreachable network, TLS failure, …
        state, detail = NO_RESPONSE, exc.strerror or str(exc) or type(exc).__name__
    except ValueError:  # a reply line longer than any sane status line
        state, detail = UNHEALTHY, f"reply line longer than {_MAX_LINE} bytes"
    except Exception as exc:  # never let one probe take the others (or the command) down
        state, detail = UNHEALTHY, f"check failed: {type(exc).__name__}: {exc}"
    elapsed = (time.perf_counter() - start) * 1000
    return HealthResult(target.service, target.environment, target.port, target.kind,
                        state, detail, elapsed, target.host)  # fmt: skip


async def _resolve(host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) for `host`, resolved on a daemon thread.

    asyncio's own resolver runs in the loop's thread pool, which is joined when the loop and
    the interpreter shut down: a DNS lookup that hangs would hold the command past its
    timeout. A daemon thread is abandoned instead. IP literals need no thread at all.
    """
    import ipaddress
    import socket
    import threading

    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[tuple[int, str]]] = loop.create_future()

    def settle(result: list[tuple[int, str]] | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result or [])

    def work() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found = list(dict.fromkeys((int(fam), str(addr[0])) for fam, _, _, _, addr in infos))
            result, error = found, None
        except OSError as exc:
            result, error = None, exc
        # RuntimeError: the loop is gone, the check timed out already.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="portreg-resolve", daemon=True).start()
    return await done


async def _open(
    target: Target, *, tls: bool = False
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the first address of the target that accepts (as asyncio would)."""
    ctx = None
    if tls:
        import ssl

        ctx = ssl.create_default_context()
        # A liveness probe of our own service on this host, not a trust decision.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    addresses = await _resolve(target.host, target.port)
    if not addresses:
        raise OSError(f"cannot resolve {target.host}")
    last: OSError | None = None
    for _, address in addresses:
        try:
            if ctx is None:
                return await asyncio.open_connection(address, target.port, limit=_MAX_LINE)
            return await asyncio.open_connection(
                address, target.port, ssl=ctx, server_hostname=target.host, limit=_MAX_LINE
            )
        except OSError as exc:
            last = exc
    assert last is not None
    raise last


async def _close(writer: asyncio.StreamWriter) -> None:
    if writer.get_extra_info("sslcontext") is not None:
        # A TLS close waits for the peer's close_notify (up to 30 s): a probe does not.
        writer.transport.abort()
        return
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()


async def _tcp(target: Target) -> tuple[str, str]:
    _, writer = await _open(target)
    await _close(writer)
    return HEALTHY, "connection accepted"


async def _http(target: Target) -> tuple[str, str]:
    reader, writer = await _open(target, tls=target.tls)
    try:
        host = target.host if ":" not in target.host else f"[{target.host}]"
        request = (
            f"GET {target.path} HTTP/1.1\r\nHost: {host}:{target.port}\r\n"
            "User-Agent: portreg-health\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("latin-1"))
        await writer.drain()
        line = await reader.readline()
    finally:
        await _close(writer)
    if not line:
        return NO_RESPONSE, "connection closed without a reply"
    status = line.decode("latin-1").strip()
    parts = status.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return UNHEALTHY, f"not an HTTP reply: {status[:60]!r}"
    code = int(parts[1])
    text = f"HTTP {code}{' ' + parts[2] if len(parts) > 2 else ''} (GET {target.path})"
    return (HEALTHY if 200 <= code < 400 else UNHEALTHY), text


# PostgreSQL: SQLSTATE 57P03 cannot_connect_now ("the database system is starting up",
# "... shutting down", "... not yet accepting connections").
_PG_CANNOT_CONNECT_NOW = "57P03"


def pg_startup_message(user: str, database: str) -> bytes:
    """A protocol 3.0 StartupMessage; no password is ever sent."""
    body = struct.pack("!i", 196608)
    for key, value in (("user", user), ("database", database),
                       ("application_name", "portreg-health")):  # fmt: skip
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def pg_classify(kind: bytes, payload: bytes) -> tuple[str, str]:
    """The first reply to a StartupMessage, judged as libpq's PQping judges it.

    An authentication request, or any error carrying a SQLSTATE, means the server is up and
    accepting (a wrong user, database or password is still an answering server) — except
    57P03 (starting up / shutting down / in recovery), which means rejecting.
    """
    if kind == b"R":
        (code,) = struct.unpack("!i", payload[:4]) if len(payload) >= 4 else (-1,)
        how = {0: "no password needed", 3: "password", 5: "md5", 10: "SASL"}.get(code, "")
        return HEALTHY, f"accepting connections (auth request{': ' + how if how else ''})"
    if kind == b"v":
        return HEALTHY, "accepting connections (protocol negotiation)"
    if kind == b"E":
        fields = _pg_fields(payload)
        sqlstate = fields.get("C", "")
        message = fields.get("M", payload.decode("utf-8", "replace").strip("\0")[:120])
        if sqlstate == _PG_CANNOT_CONNECT_NOW:
            return REJECTING, f"rejecting connections: {message}"
        if len(sqlstate) == 5:
            return HEALTHY, f"accepting connections ({fields.get('S', 'ERROR')}: {message})"
        return NO_RESPONSE, f"no usable reply: {message}"
    return UNHEALTHY, f"not a PostgreSQL reply (message type {kind!r})"


def _pg_fields(payload: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in payload.split(b"\0"):
        if item:
            out.setdefault(chr(item[0]), item[1:].decode("utf-8", "replace"))
    return out


async def _postgres(target: Target) -> tuple[str, str]:
    reader, writer = await _open(target)
    try:
        writer.write(pg_startup_message(target.user, target.database))
        await writer.drain()
        head = await reader.readexactly(5)
        kind, length = head[:1], struct.unpack("!i", head[1:])[0]
        payload = await reader.readexactly(min(max(length - 4, 0), _MAX_LINE))
        if kind == b"R":
            # Terminate, so the server logs a clean disconnect rather than an EOF.
            writer.write(b"X\0\0\0\x04")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
    finally:
        await _close(writer)
    return pg_classify(kind, payload)


def redis_classify(line: bytes) -> tuple[str, str]:
    text = line.decode("utf-8", "replace").strip()
    upper = text.upper()
    if upper == "+PONG":
        return HEALTHY, "PONG"
    if upper.startswith(("-NOAUTH", "-WRONGPASS", "-NOPERM", "-DENIED")):
        return LOCKED, f"up, but locked: {text[1:]}"
    if upper.startswith(("-LOADING", "-MASTERDOWN", "-BUSY")):
        return REJECTING, f"up, not serving yet: {text[1:]}"
    if not text:
        return NO_RESPONSE, "connection closed without a reply"
    return UNHEALTHY, f"unexpected reply to PING: {text[:80]!r}"


async def _redis(target: Target) -> tuple[str, str]:
    reader, writer = await _open(target)
    try:
        writer.write(b"*1\r\n$4\r\nPING\r\n")
        await writer.drain()
        line = await reader.readline()
    finally:
        await _close(writer)
    return redis_classify(line)
