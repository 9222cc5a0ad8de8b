"""Alembic environment: the server passes its own connection in `config.attributes`."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `portreg serve` runs migrations
    raise RuntimeError("portreg migrations run from the server (portreg.server.db.migrate)")

context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
