"""PostgreSQL: `portreg_assign` holds no policy of its own.

0002–0004 fell back to a copy of the default range and avoid list when the database had no
policy yet. The server now writes the core's policy (`portreg.model.Policy`, or PORTREG_RANGE)
into `meta` at start-up, before it answers anything, so the function reads the policy only from
there; a database without one is an error, not a second set of defaults.

Same arguments and result as 0004: `CREATE OR REPLACE` keeps the one function.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _function(version: str) -> str:
    """A previous migration's function text (migration modules are not importable by name)."""
    import importlib.util
    from pathlib import Path

    name = {"0004": "0004_assign_live_host.py"}[version]
    spec = importlib.util.spec_from_file_location(
        f"portreg_migration_{version}", Path(__file__).with_name(name)
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.FUNCTION)


_DEFAULTS_START = "    IF v_policy_text IS NULL THEN\n        v_lo := 53000;"
_NO_POLICY = """    IF v_policy_text IS NULL THEN
        RAISE EXCEPTION 'portreg: the registry has no policy (the server writes it at start-up)';
    ELSE"""


def function() -> str:
    previous = _function("0004").replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    start = previous.index(_DEFAULTS_START)
    end = previous.index("    ELSE", start) + len("    ELSE")
    return previous[:start] + _NO_POLICY + previous[end:]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(function())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_function("0004").replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
