"""What a worker does to a database before it answers: the initial policy and PORTREG_SEED."""

from __future__ import annotations

import logging
from pathlib import Path

from portreg.model import Registry
from portreg.server.state import State

log = logging.getLogger("portreg.server")


async def initial_policy(st: State, text: str | None) -> None:
    """A new database gets the core's policy (PORTREG_RANGE's range, if set) before it answers
    anything: no part of the server, the PostgreSQL function included, has defaults of its own."""
    from portreg.model import Policy
    from portreg.policy import parse_range
    from portreg.server.codec import policy_data
    from portreg.server.db import write_tx
    from portreg.server.reads import load_meta_value
    from portreg.server.writes import set_meta

    policy = Policy(*parse_range(text)) if text else Policy()
    async with write_tx(st.engine) as conn:
        if await load_meta_value(conn, "policy") is None:
            await set_meta(conn, "policy", policy_data(policy))


async def registry_identity(st: State) -> str:
    """This registry's identity: a random id kept in the database, the same for every worker
    and every restart. The Redis channel is named by it (`Broker.identify`), so two registries
    sharing one Redis (pub/sub ignores database numbers) never read each other's events."""
    return await kept_random(st, "registry_id")


async def kept_random(st: State, key: str) -> str:
    """A random value stored under `key` in the database's meta table: made by the first worker
    that asks, read by every other one."""
    import secrets

    from portreg.server.db import write_tx
    from portreg.server.reads import load_meta_value
    from portreg.server.writes import set_meta

    async with write_tx(st.engine) as conn:
        found = await load_meta_value(conn, key)
        if isinstance(found, str) and found:
            return found
        made = secrets.token_hex(16 if key == "registry_id" else 32)
        await set_meta(conn, key, made)
        return made


async def load_seed(st: State, path: str) -> None:
    """PORTREG_SEED: a ports.toml or a seed-style page, loaded only into an empty database."""
    from sqlalchemy import func, select

    from portreg.server.db import services, write_tx
    from portreg.server.reads import load_meta
    from portreg.server.writes import replace_all, set_meta

    registry = read_registry_file(Path(path))
    async with write_tx(st.engine) as conn:
        count = int(await conn.scalar(select(func.count()).select_from(services)) or 0)
        if count:
            return
        known = await load_meta(conn)
        if known.get("seeded"):
            return
        written = await replace_all(conn, registry, "portreg-seed", f"PORTREG_SEED={path}")
        await set_meta(conn, "seeded", path)
    await st.broker.publish(written.events)
    log.info("loaded %d services from %s", len(registry.services), path)


def read_registry_file(path: Path) -> Registry:
    from portreg import store

    data = path.read_bytes()
    if path.suffix == ".toml":
        return store.loads(data.decode("utf-8"), source=str(path))
    from portreg.importers import parse

    return parse(path.name, data).registry
