"""Application protocols: the one table of words that name a kind of service.

Import (compose images, `.env` keys and URL schemes, Markdown rows), the change procedure's
name matching, the page's Protocol column and the health checks all ask here, so "pg", "db"
and "postgresql" mean PostgreSQL everywhere or nowhere.
"""

from __future__ import annotations

# word -> (display name of the kind, canonical protocol). Display "" = not a service of its own
# kind (a web server: its port says "http", its name says nothing about which service it is).
_KINDS: dict[str, tuple[str, str]] = {
    "postgres": ("PostgreSQL", "postgres"),
    "postgresql": ("PostgreSQL", "postgres"),
    "pg": ("PostgreSQL", "postgres"),
    "psql": ("PostgreSQL", "postgres"),
    "postgis": ("PostgreSQL", "postgres"),
    "timescaledb": ("PostgreSQL", "postgres"),
    "database": ("PostgreSQL", "postgres"),
    "db": ("PostgreSQL", "postgres"),
    "redis": ("Redis", "redis"),
    "rediss": ("Redis", "redis"),
    "valkey": ("Redis", "redis"),
    "keydb": ("Redis", "redis"),
    "cache": ("Redis", "redis"),
    "mysql": ("MySQL", "mysql"),
    "mariadb": ("MySQL", "mysql"),
    "mongodb": ("MongoDB", "mongodb"),
    "mongo": ("MongoDB", "mongodb"),
    "amqp": ("RabbitMQ", "amqp"),
    "rabbitmq": ("RabbitMQ", "amqp"),
    "mq": ("RabbitMQ", "amqp"),
    "http": ("", "http"),
    "https": ("", "https"),
    "nginx": ("", "http"),
    "traefik": ("", "http"),
    "caddy": ("", "http"),
    "httpd": ("", "http"),
}
# Words too generic to name a kind inside an image name ("db" as an image is someone's own).
_NOT_IMAGES = frozenset({"database", "db", "cache", "mq", "pg", "psql", "http", "https"})


def canonical(word: str) -> str:
    """The canonical protocol a word names ("pg" → "postgres"), else the word itself."""
    w = word.lower()
    return _KINDS[w][1] if w in _KINDS else w


def named_kind(word: str) -> tuple[str, str] | None:
    """(display name, protocol) of a kind of service a word names ("pg" → PostgreSQL)."""
    found = _KINDS.get(word.lower())
    return found if found is not None and found[0] else None


def image_protocol(image: str) -> str | None:
    """The protocol an image's name says (`bitnami/postgresql:16` → postgres), if any."""
    base = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0].lower()
    for word, (_, proto) in _KINDS.items():
        if word not in _NOT_IMAGES and (base == word or base.startswith(word + "-")):
            return proto
    return None


def infer_protocol(name: str, process: str = "") -> str:
    """The application protocol a plain "TCP" row means, from the service's name or process."""
    text = f"{name} {process}".lower()
    if "postgres" in text:
        return "postgres"
    if "redis" in text:
        return "redis"
    return "tcp"


def health_kind(protocol: str) -> str:
    """Which health check speaks a protocol: http, postgres, redis, or a plain tcp connect."""
    p = canonical(protocol)
    if p in ("http", "https"):
        return "http"
    return p if p in ("postgres", "redis") else "tcp"
