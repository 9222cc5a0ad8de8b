"""Concurrent clients for the server tests and the benchmark (httpx, one connection each)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadResult:
    ok: dict[str, int] = field(default_factory=dict)  # service -> port (201 or 200)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[tuple[int, Any]] = field(default_factory=list)  # (status, body) of non-2xx
    exceptions: int = 0


async def assign_many(
    api: str,
    token: str,
    clients: int,
    per_client: int,
    *,
    prefix: str = "svc",
    retry_503: bool = False,
    stop: asyncio.Event | None = None,
) -> LoadResult:
    """`clients` concurrent clients, each assigning `per_client` new services.

    With `retry_503`, a client retries a 503 (the database is down) until it succeeds: assign is
    idempotent per service, so a retry never hands out a second port.
    """
    import httpx

    result = LoadResult()

    async def client(i: int) -> None:
        async with httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            limits=httpx.Limits(max_connections=1),
        ) as http:
            for j in range(per_client):
                name = f"{prefix}-{i}-{j}"
                while True:
                    try:
                        r = await http.post(f"{api}/assignments", json={"service": name})
                    except httpx.HTTPError:
                        result.exceptions += 1
                        if not retry_503:
                            break
                        await asyncio.sleep(0.1)
                        continue
                    result.statuses[r.status_code] = result.statuses.get(r.status_code, 0) + 1
                    if r.status_code in (200, 201):
                        result.ok[name] = r.json()["port"]
                        break
                    result.errors.append((r.status_code, r.json()))
                    if not (retry_503 and r.status_code == 503):
                        break
                    await asyncio.sleep(0.1)
                if stop is not None and stop.is_set():
                    return

    await asyncio.gather(*(client(i) for i in range(clients)))
    return result
