"""An index on assignments.port; on PostgreSQL, allocation as one server-side function.

`portreg_assign` takes the write lock, picks the next free port by the policy, inserts the
service (if new), the assignment, the change and its event, all in one statement run in
autocommit: the lock is held only while the database works, never across a network round
trip, so concurrent allocation is not throttled by the workers' event loops. The UNIQUE
constraint on (host, transport, port) stays the last word.

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WRITE_LOCK_KEY = 0x706F72747265  # portreg.server.db.WRITE_LOCK_KEY
DEFAULT_AVOID = "22,25,53,80,443,3000,3306,5000,5432,5672,6379,8000,8080,8443,9000,9092,27017"

FUNCTION = f"""
CREATE OR REPLACE FUNCTION portreg_assign(
    p_ref text, p_sid text, p_name text, p_env text, p_protocol text, p_transport text,
    p_who text, p_reason text, p_at timestamp, p_host text, p_payload text)
RETURNS TABLE(out_service text, out_port integer, out_created boolean, out_event bigint,
              out_payload text)
LANGUAGE plpgsql AS $$
DECLARE
    v_sid text; v_transport text; v_port integer; v_has_env boolean := false;
    v_policy json; v_lo integer; v_hi integer; v_step integer; v_avoid integer[];
    v_cid bigint; v_payload text;
BEGIN
    PERFORM pg_advisory_xact_lock({WRITE_LOCK_KEY});
    SELECT s.id, s.transport INTO v_sid, v_transport FROM services s
        WHERE s.id IN (p_ref, p_sid) ORDER BY (s.id = p_ref) DESC LIMIT 1;
    IF v_sid IS NOT NULL THEN
        SELECT a.port, true INTO v_port, v_has_env FROM assignments a
            WHERE a.service_id = v_sid AND a.environment = p_env;
        IF v_port IS NOT NULL THEN
            RETURN QUERY SELECT v_sid, v_port, false, NULL::bigint, NULL::text;
            RETURN;
        END IF;
        v_has_env := coalesce(v_has_env, false);
    END IF;
    SELECT m.value::json INTO v_policy FROM meta m WHERE m.key = 'policy';
    IF v_policy IS NULL THEN
        v_lo := 53000; v_hi := 54999; v_step := 1; v_avoid := ARRAY[{DEFAULT_AVOID}];
    ELSE
        v_lo := (v_policy->'range'->>0)::integer;
        v_hi := (v_policy->'range'->>1)::integer;
        v_step := greatest(coalesce((v_policy->>'step')::integer, 1), 1);
        v_avoid := ARRAY(SELECT json_array_elements_text(v_policy->'avoid')::integer);
    END IF;
    SELECT c INTO v_port FROM generate_series(v_lo, v_hi, v_step) AS c
        WHERE c <> ALL(v_avoid)
          AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.port = c)
        LIMIT 1;
    IF v_port IS NULL THEN
        RETURN QUERY SELECT NULL::text, NULL::integer, false, NULL::bigint, NULL::text;
        RETURN;
    END IF;
    IF v_sid IS NULL THEN
        v_sid := p_sid;
        v_transport := p_transport;
        INSERT INTO services (id, seq, name, protocol, transport, status, notes, data)
            VALUES (p_sid, (SELECT coalesce(max(s.seq), 0) + 1 FROM services s), p_name,
                    p_protocol, p_transport, 'active', '', '{{}}');
        INSERT INTO assignments (service_id, environment, host, transport, port, seq)
            VALUES (v_sid, p_env, p_host, v_transport, v_port, 0);
    ELSIF v_has_env THEN
        UPDATE assignments a SET port = v_port
            WHERE a.service_id = v_sid AND a.environment = p_env;
    ELSE
        INSERT INTO assignments (service_id, environment, host, transport, port, seq)
            VALUES (v_sid, p_env, p_host, v_transport, v_port,
                    (SELECT count(*) FROM assignments a WHERE a.service_id = v_sid));
    END IF;
    INSERT INTO changes (at, who, action, service, environment, old_port, new_port, reason)
        VALUES (p_at, p_who, 'assign', v_sid, p_env, NULL, v_port, p_reason)
        RETURNING id INTO v_cid;
    v_payload := replace(replace(p_payload, '987654320', v_cid::text), '987654321', v_port::text);
    INSERT INTO events (id, at, payload) VALUES (v_cid, p_at, v_payload);
    RETURN QUERY SELECT v_sid, v_port, true, v_cid, v_payload;
END
$$;
"""


def upgrade() -> None:
    op.create_index("ix_assignments_port", "assignments", ["port"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS portreg_assign")
    op.drop_index("ix_assignments_port", "assignments")
