"""The server's settings, from the environment (or a `.env` file in the working directory).

| variable | default | meaning |
| --- | --- | --- |
| DATABASE_URL | sqlite+aiosqlite:///./portreg.db | or postgresql+asyncpg://… |
| REDIS_URL | (none) | redis://…; fans events out to every worker |
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
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./portreg.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )
    redis_prefix: str = Field(
        default="portreg:", validation_alias=AliasChoices("PORTREG_REDIS_PREFIX", "redis_prefix")
    )
    read_auth: str = Field(
        default="open",
        pattern="^(open|token)$",
        validation_alias=AliasChoices("PORTREG_READ_AUTH", "read_auth"),
    )
    write_auth: str = Field(
        default="token",
        pattern="^(open|token)$",
        validation_alias=AliasChoices("PORTREG_WRITE_AUTH", "write_auth"),
    )
    seed: str | None = Field(default=None, validation_alias=AliasChoices("PORTREG_SEED", "seed"))
    range: str | None = Field(default=None, validation_alias=AliasChoices("PORTREG_RANGE", "range"))
    poll_seconds: float = Field(
        default=1.0, gt=0, validation_alias=AliasChoices("PORTREG_POLL_SECONDS", "poll_seconds")
    )
    ping_seconds: float = Field(
        default=15.0, gt=0, validation_alias=AliasChoices("PORTREG_PING_SECONDS", "ping_seconds")
    )
    pool_size: int = Field(
        default=10, ge=1, validation_alias=AliasChoices("PORTREG_POOL_SIZE", "pool_size")
    )
    max_overflow: int = Field(
        default=5, ge=0, validation_alias=AliasChoices("PORTREG_MAX_OVERFLOW", "max_overflow")
    )

    write_concurrency: int = Field(
        default=2,
        ge=1,
        validation_alias=AliasChoices("PORTREG_WRITE_CONCURRENCY", "write_concurrency"),
    )

    check_host: bool = Field(
        default=True, validation_alias=AliasChoices("PORTREG_CHECK_HOST", "check_host")
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
