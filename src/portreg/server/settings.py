"""The server's settings: `PORTREG_*` environment variables only, and no `.env` unless named.

portreg runs inside other applications' repositories, where a plain `DATABASE_URL` (in the
shell or in the working directory's `.env`) is that application's database. So the server
reads only its own prefixed variables, and a settings file only when one is named explicitly
(`--env-file PATH` on `serve` and `token`, or `PORTREG_ENV_FILE`).

| variable | default | meaning |
| --- | --- | --- |
| PORTREG_DATABASE_URL | sqlite+aiosqlite:///./portreg.db | or postgresql+asyncpg://… |
| PORTREG_REDIS_URL | (none) | redis://…; fans events out to every worker |
| PORTREG_REDIS_PREFIX | portreg: | prefix of the Redis pub/sub channel |
| PORTREG_READ_AUTH | open | `open` or `token`: whether reads need a token |
| PORTREG_WRITE_AUTH | token | `token` or `open` (open = anonymous writes; local use only) |
| PORTREG_SEED | (none) | a ports.toml (or seed Markdown page) loaded when the database is empty |
| PORTREG_RANGE | (none) | `A-B`: the policy range for a database that has none yet |
| PORTREG_POLL_SECONDS | 1.0 | how often a worker looks for changes made by other workers |
| PORTREG_PING_SECONDS | 15 | SSE keep-alive comment interval |
| PORTREG_POOL_SIZE, PORTREG_MAX_OVERFLOW | 10, 5 | database connections per worker |
| PORTREG_WRITE_CONCURRENCY | 2 | write transactions a worker runs at once (others queue in it) |
| PORTREG_CHECK_HOST | true | skip ports live on the server's host when picking one; refuse (409) |
|  |  | a named port live there (move, reserve). `false`: a server not on the |
|  |  | hosts it allocates for (the check would only see its own machine) |
| PORTREG_ENV_FILE | (none) | a file of `PORTREG_*=…` lines read before the environment |
| PORTREG_AGENT_INTERVAL | 30 | seconds between an agent's reports when its report does not say; |
|  |  | a host is stale after three intervals without one |
| PORTREG_REPAIR_SECONDS | 30 | how often the repair loop reconciles registrations with reports |
| PORTREG_MAX_LISTENERS | 100000 | listeners one report may carry (a bigger one is refused, 413) |
| PORTREG_MAX_BODY | 16777216 | largest request body in bytes (413 beyond), read only after auth |
| PORTREG_TRUSTED_HOSTS | localhost,127.0.0.1,::1 | open write mode: the `Host`/`Origin` names a |
|  |  | write may come for/from (`*`: any; anything else is refused 403) |
| PORTREG_PUBLIC_DOCS | (reads' mode) | `true`/`false`: /docs, /redoc and /openapi.json without |
|  |  | a token; unset: public when PORTREG_READ_AUTH=open |
| PORTREG_PUBLIC_METRICS | true | `false`: /metrics needs a read token |
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./portreg.db"
ENV_FILE_VARIABLE = "PORTREG_ENV_FILE"


class Settings(BaseSettings):
    # env_file=None: pydantic-settings reads no `.env` on its own; `load` passes one if named.
    model_config = SettingsConfigDict(
        env_prefix="PORTREG_", env_file=None, extra="ignore", populate_by_name=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str = "portreg:"
    read_auth: str = Field(default="open", pattern="^(open|token)$")
    write_auth: str = Field(default="token", pattern="^(open|token)$")
    seed: str | None = None
    range: str | None = None
    poll_seconds: float = Field(default=1.0, gt=0)
    ping_seconds: float = Field(default=15.0, gt=0)
    pool_size: int = Field(default=10, ge=1)
    max_overflow: int = Field(default=5, ge=0)
    write_concurrency: int = Field(default=2, ge=1)
    check_host: bool = True
    agent_interval: float = Field(default=30.0, gt=0)
    repair_seconds: float = Field(default=30.0, gt=0)
    max_listeners: int = Field(default=100_000, ge=1)
    # An import of 2,000 services is ~1 MB: 16 MiB leaves room and still bounds a worker.
    max_body: int = Field(default=16 * 1024 * 1024, ge=1024)
    trusted_hosts: str = "localhost,127.0.0.1,::1"
    public_docs: bool | None = None
    public_metrics: bool = True

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load(env_file: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from the environment, after `env_file` (or `$PORTREG_ENV_FILE`) if named.

    Only `PORTREG_*` names count, in the file as in the environment; the environment wins.
    """
    environ = os.environ if environ is None else environ
    path = env_file or environ.get(ENV_FILE_VARIABLE) or None
    if path is None:
        return Settings()
    if not os.path.isfile(path):
        from portreg.errors import PortregError

        raise PortregError(f"settings file not found: {path}")
    return Settings(_env_file=path)  # type: ignore[call-arg]
