"""The command line as a client of a portreg server (`--registry http(s)://…`).

`RemoteBackend` implements `portreg.backend.Backend` over the server's REST API with urllib
only (the command line's start-up stays fast). The token comes from `PORTREG_TOKEN`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from portreg.environment import Environment
from portreg.errors import PortregError
from portreg.model import Registry
from portreg.ops import Outcome

API = "/api/v1"
TIMEOUT = 30.0


def base_url(url: str) -> str:
    """`http://host:54000`, `…/` or `…/api/v1` → `http://host:54000/api/v1`."""
    u = url.rstrip("/")
    if u.endswith(API):
        u = u[: -len(API)]
    if not u.startswith(("http://", "https://")):
        raise PortregError(f"not a server URL: {url!r} (expected http://host:port)")
    return u + API


class Client:
    """Small JSON-over-HTTP client: one clear error line for every failure."""

    def __init__(self, url: str, token: str | None) -> None:
        self.base = base_url(url)
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        text: str | None = None,
        raw: bool = False,
    ) -> Any:
        import urllib.error
        import urllib.request

        headers = {"Accept": "application/json"}
        data: bytes | None = None
        if text is not None:
            data = text.encode("utf-8")
            headers["Content-Type"] = "text/plain; charset=utf-8"
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with _opener().open(req, timeout=TIMEOUT) as resp:
                content = resp.read()
        except urllib.error.HTTPError as exc:
            detail = printable(_detail(exc.read()) or str(exc.reason))
            raise PortregError(f"server said {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            raise PortregError(f"cannot reach {self.base}: {printable(str(exc.reason))}") from None
        except (TimeoutError, OSError) as exc:
            raise PortregError(f"cannot reach {self.base}: {exc}") from None
        if raw:
            return content.decode("utf-8")
        try:
            return json.loads(content) if content else None
        except ValueError:
            raise PortregError(
                f"{self.base}{path}: not a JSON answer (is this a portreg server?)"
            ) from None


def _origin(url: str) -> tuple[str, str, int | None]:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return u.scheme, (u.hostname or "").lower(), u.port or (443 if u.scheme == "https" else 80)


def _opener() -> Any:
    """urllib's opener, except that a redirect to another origin (scheme, host or port) goes
    without the `Authorization` header: urllib would forward the token to whatever host a
    server, or a proxy in front of it, redirects to."""
    import urllib.request

    class SameOriginAuth(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
        ) -> Any:
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is not None and _origin(newurl) != _origin(req.full_url):
                for name in list(new.headers):
                    if name.lower() == "authorization":
                        del new.headers[name]
            return new

    return urllib.request.build_opener(SameOriginAuth)


def printable(text: str) -> str:
    """What a server said, safe for a terminal: control characters (ANSI escapes, newlines
    that would forge more `error:` lines) become spaces."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _detail(content: bytes) -> str:
    try:
        value = json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace").strip()[:200]
    if isinstance(value, dict) and "detail" in value:
        return str(value["detail"])
    return str(value)[:200]


def _outcome(data: dict[str, Any], changed_key: str = "changed") -> Outcome:
    return Outcome(
        service=str(data["service"]),
        environment=str(data.get("environment") or ""),
        port=data.get("port", data.get("new")),
        changed=bool(data.get(changed_key, True)),
    )


class RemoteBackend:
    """The Backend protocol over HTTP: reads and writes go to the server at `--registry`."""

    def __init__(self, env: Environment) -> None:
        location = env.registry_location
        if not location:
            raise PortregError("no server URL given (--registry http://host:port)")
        self.env = env
        self.client = Client(location, env.environ.get("PORTREG_TOKEN") or None)

    def load(self) -> Registry:
        from portreg.store import loads

        return loads(self.client.request("GET", "/export", raw=True), source=self.client.base)

    def assign(
        self,
        ref: str,
        environment: str,
        *,
        protocol: str | None,
        transport: str | None,
        host: str | None = None,
    ) -> Outcome:
        body = {"service": ref, "environment": environment}
        if host is not None:
            body["host"] = host
        if protocol:
            body["protocol"] = protocol
        if transport:
            body["transport"] = transport
        return _outcome(self.client.request("POST", "/assignments", body), "created")

    def add(
        self,
        ref: str,
        port: int,
        environment: str,
        *,
        protocol: str | None,
        transport: str | None,
        status: str | None,
        notes: str | None,
        force: bool,
        host: str | None = None,
    ) -> Outcome:
        body: dict[str, Any] = {
            "name": ref,
            "port": port,
            "environment": environment,
            "force": force,
        }
        for key, value in (
            ("protocol", protocol),
            ("transport", transport),
            ("status", status),
            ("notes", notes),
            ("host", host),
        ):
            if value is not None:
                body[key] = value
        detail = self.client.request("POST", "/services", body)
        return Outcome(detail["service"], environment, detail["ports"].get(environment), True)

    def reserve(
        self,
        ref: str,
        *,
        port: int | None,
        purpose: str,
        environment: str,
        host: str | None = None,
    ) -> Outcome:
        body: dict[str, Any] = {"service": ref, "purpose": purpose, "environment": environment}
        if host is not None:
            body["host"] = host
        if port is not None:
            body["port"] = port
        return _outcome(self.client.request("POST", "/reservations", body))

    def release(self, ref: str, *, environment: str | None) -> Outcome:
        if environment is None:
            data = self.client.request("DELETE", f"/services/{quote(ref, safe='')}")
        else:
            path = f"/assignments/{quote(ref, safe='')}/{quote(environment, safe='')}"
            data = self.client.request("DELETE", path)
        return _outcome(data)

    def move(
        self, ref: str, port: int, *, environment: str, reason: str, host: str | None = None
    ) -> Outcome:
        body: dict[str, Any] = {"port": port, "reason": reason, "environment": environment}
        if host is not None:
            body["host"] = host
        data = self.client.request("POST", f"/services/{quote(ref, safe='')}/move", body)
        return _outcome(data)
