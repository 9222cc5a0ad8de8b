"""PostgreSQL: the change-stream payload gets its id and port in their own fields only.

0002–0005 put the event id and port into the payload by replacing the marker numbers
987654320 / 987654321 anywhere in its text, so a service named `svc-987654320` streamed as
`svc-<event id>`. The payload is now edited as JSON: `id`, `new` and `row.port` are set, and
the marker is replaced only inside `row.health_check` (the template's `{port}`, filled with the
marker by the server). Same arguments and result as 0005.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BY_TEXT = (
    "    v_payload := replace(replace(p_payload, '987654320', v_cid::text), '987654321', "
    "v_port::text);"
)
_BY_FIELD = """    v_payload := jsonb_set(jsonb_set(jsonb_set(jsonb_set(p_payload::jsonb,
        '{id}', to_jsonb(v_cid)),
        '{new}', to_jsonb(v_port)),
        '{row,port}', to_jsonb(v_port)),
        '{row,health_check}', to_jsonb(replace(
            coalesce(p_payload::jsonb #>> '{row,health_check}', ''), '987654321', v_port::text))
    )::text;"""


def _previous() -> str:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "portreg_migration_0005", Path(__file__).with_name("0005_assign_policy_from_core.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.function())


def function() -> str:
    previous = _previous()
    assert _BY_TEXT in previous
    return previous.replace(_BY_TEXT, _BY_FIELD)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(function())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_previous())
