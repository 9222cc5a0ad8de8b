"""The initial schema: meta, services, assignments, changes, events, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("protocol", sa.String(50), nullable=False),
        sa.Column("transport", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "service_id",
            sa.String(200),
            sa.ForeignKey("services.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("transport", sa.String(10), nullable=False),
        sa.Column("port", sa.Integer, nullable=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.UniqueConstraint("service_id", "environment", name="uq_assignment_service_env"),
        sa.UniqueConstraint("host", "transport", "port", name="uq_assignment_host_transport_port"),
    )
    op.create_table(
        "changes",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("old_port", sa.Integer, nullable=True),
        sa.Column("new_port", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_changes_service", "changes", ["service"])
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("tokens", "events", "changes", "assignments", "services", "meta"):
        op.drop_table(table)
