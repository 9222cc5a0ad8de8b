"""The Python API for applications: ask the registry for your port instead of hard-coding it.

    from portreg.api import port_for
    uvicorn.run(app, port=port_for("api-server"))

`PORT_FOR_<ID>` style overrides: an environment variable `<ID>_PORT` (the service id upper-cased,
`-` → `_`, e.g. `API_SERVER_PORT`) wins over the registry, so a deployment can move a service
without editing ports.toml. The registry is found like the CLI finds it (`PORTREG_REGISTRY`, else
the nearest ports.toml above the working directory).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from portreg.errors import PortregError
from portreg.model import Registry, Service
from portreg.policy import parse_port

__all__ = ["PortregError", "env_var_for", "load_registry", "port_for"]


def env_var_for(service: str) -> str:
    """The override variable of a service id: `api-server` → `API_SERVER_PORT`."""
    from portreg.model import service_id

    return service_id(service).upper().replace("-", "_") + "_PORT"


def load_registry(path: str | os.PathLike[str] | None = None) -> Registry:
    """The registry at `path`, or the one the command line would find from here.

    `path` (or `PORTREG_REGISTRY`) may be a server's `http(s)://` URL: the registry is then
    read from the server, with the token from `PORTREG_TOKEN` when reads need one.
    """
    from portreg.locate import find_registry
    from portreg.store import load

    location = os.fspath(path) if path is not None else os.environ.get("PORTREG_REGISTRY", "")
    if location.startswith(("http://", "https://")):
        from portreg.client import Client
        from portreg.store import loads

        client = Client(location, os.environ.get("PORTREG_TOKEN") or None)
        return loads(client.request("GET", "/export", raw=True), source=client.base)
    found = Path(location) if location else find_registry(Path.cwd(), os.environ)
    if found is None:
        raise PortregError("no ports.toml found here or above (set PORTREG_REGISTRY)")
    return load(found)


def port_for(
    service: str,
    environment: str = "development",
    *,
    registry: Registry | str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """The port of `service` in `environment`; `<ID>_PORT` in the environment overrides it.

    Raises PortregError when the service is unknown or has no port (TBD) there.
    """
    env = os.environ if environ is None else environ
    var = env_var_for(service)
    override = env.get(var)
    if override:
        try:
            return parse_port(override)
        except PortregError as exc:
            raise PortregError(f"{var}: {exc.message}") from None
    reg = registry if isinstance(registry, Registry) else load_registry(registry)
    found: Service | None = reg.get(service)
    if found is None:
        from portreg.ops import find

        found = find(reg, service)
    port = found.ports.get(environment)
    if port is None:
        raise PortregError(f"{found.id} has no port in {environment} (TBD)")
    return port
