"""Tokens may expire: `tokens.expires_at` (NULL = never), for `portreg token create --expires`.

Revoking a token deletes its row (`portreg token revoke`); workers re-check a token at least
every second (`auth.CACHE_SECONDS`), so a revoked or expired one is refused within a second.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("expires_at")
