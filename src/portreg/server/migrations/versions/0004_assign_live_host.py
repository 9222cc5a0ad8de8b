"""PostgreSQL: allocation skips ports live on the server's host.

The project's rule: assigning a port applies every rule and checks the live host. The server
looks at the host (netlink, in the server process) and passes what it found as `p_live`:

- `p_live IS NULL`: the host has not been looked at. The function answers an existing port at
  once (reads only, no lock); otherwise it changes nothing and answers `out_retry` with the
  policy range in `out_lo`/`out_hi`, and the server scans that range and calls again. So the
  host is looked at only when a new port must be picked, and only over the policy's range.
- `p_live` an array: candidates in it are skipped (an empty array: the check is turned off,
  PORTREG_CHECK_HOST=false).

The allocation hint (0003) may move past taken and avoided candidates only, never past a
skipped live one: that port may be free at the next call, and the answer must stay "the lowest
free port by the policy and the host". A port that stays live keeps the hint below it, so
the search from there costs one index probe per taken port above it (0002's cost, bounded by
the ports between it and the next free one).

The argument list and the result change, so the function is dropped and created again (a
`CREATE OR REPLACE` would add an overload). The UNIQUE constraint is untouched.

Revision ID: 0004
Revises: 0003
Create Date: 2026-02-03
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WRITE_LOCK_KEY = 0x706F72747265  # portreg.server.db.WRITE_LOCK_KEY
DEFAULT_AVOID = "22,25,53,80,443,3000,3306,5000,5432,5672,6379,8000,8080,8443,9000,9092,27017"

FUNCTION = f"""
CREATE FUNCTION portreg_assign(
    p_ref text, p_sid text, p_name text, p_env text, p_protocol text, p_transport text,
    p_who text, p_reason text, p_at timestamp, p_host text, p_payload text, p_new_only boolean,
    p_live integer[])
RETURNS TABLE(out_service text, out_port integer, out_created boolean, out_event bigint,
              out_payload text, out_retry boolean, out_lo integer, out_hi integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_sid text; v_transport text; v_port integer; v_has_env boolean := false;
    v_policy_text text; v_policy json; v_lo integer; v_hi integer; v_step integer;
    v_avoid integer[]; v_from integer; v_next integer; v_hint_policy text; v_host text;
    v_cid bigint; v_payload text;
BEGIN
    IF p_live IS NOT NULL THEN  -- NULL: this call only reads
        PERFORM pg_advisory_xact_lock({WRITE_LOCK_KEY});
    END IF;
    SELECT s.id, s.transport INTO v_sid, v_transport FROM services s
        WHERE s.id IN (p_ref, p_sid) ORDER BY (s.id = p_ref) DESC LIMIT 1;
    IF v_sid IS NOT NULL THEN
        SELECT a.port, true INTO v_port, v_has_env FROM assignments a
            WHERE a.service_id = v_sid AND a.environment = p_env;
        IF v_port IS NOT NULL THEN
            RETURN QUERY SELECT v_sid, v_port, false, NULL::bigint, NULL::text, false,
                                NULL::integer, NULL::integer;
            RETURN;
        END IF;
        IF p_new_only AND p_live IS NOT NULL THEN
            RETURN QUERY SELECT v_sid, NULL::integer, false, NULL::bigint, NULL::text, true,
                                NULL::integer, NULL::integer;
            RETURN;
        END IF;
        v_has_env := coalesce(v_has_env, false);
    END IF;
    SELECT m.value INTO v_policy_text FROM meta m WHERE m.key = 'policy';
    IF v_policy_text IS NULL THEN
        v_lo := 53000; v_hi := 54999; v_step := 1; v_avoid := ARRAY[{DEFAULT_AVOID}];
        v_policy_text := '';
    ELSE
        v_policy := v_policy_text::json;
        v_lo := (v_policy->'range'->>0)::integer;
        v_hi := (v_policy->'range'->>1)::integer;
        v_step := greatest(coalesce((v_policy->>'step')::integer, 1), 1);
        v_avoid := ARRAY(SELECT json_array_elements_text(v_policy->'avoid')::integer);
    END IF;
    IF p_live IS NULL THEN  -- a port must be picked: the server looks at the host first
        RETURN QUERY SELECT v_sid, NULL::integer, false, NULL::bigint, NULL::text, true,
                            v_lo, v_hi;
        RETURN;
    END IF;
    SELECT h.policy, h.next_from INTO v_hint_policy, v_from FROM portreg_alloc_hint h
        WHERE h.id = 1;
    IF v_from IS NULL OR v_hint_policy IS DISTINCT FROM v_policy_text OR v_from < v_lo THEN
        v_from := v_lo;
    ELSE  -- the first candidate of the policy's sequence at or above the hint
        v_from := v_lo + ((v_from - v_lo + v_step - 1) / v_step) * v_step;
    END IF;
    -- generate_series yields in order: the first match is the lowest free candidate.
    SELECT c INTO v_port FROM generate_series(v_from, v_hi, v_step) AS c
        WHERE c <> ALL(v_avoid)
          AND c <> ALL(p_live)
          AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.port = c)
        LIMIT 1;
    IF v_port IS NULL THEN
        RETURN QUERY SELECT NULL::text, NULL::integer, false, NULL::bigint, NULL::text, false,
                            NULL::integer, NULL::integer;
        RETURN;
    END IF;
    SELECT coalesce(m.value::json #>> '{{}}', p_host) INTO v_host FROM meta m
        WHERE m.key = 'host';
    v_host := coalesce(v_host, p_host, '');
    IF v_sid IS NULL THEN
        v_sid := p_sid;
        v_transport := p_transport;
        INSERT INTO services (id, seq, name, protocol, transport, status, notes, data)
            VALUES (p_sid, (SELECT coalesce(max(s.seq), 0) + 1 FROM services s), p_name,
                    p_protocol, p_transport, 'active', '', '{{}}');
        INSERT INTO assignments (service_id, environment, host, transport, port, seq)
            VALUES (v_sid, p_env, v_host, v_transport, v_port, 0);
    ELSIF v_has_env THEN
        UPDATE assignments a SET port = v_port
            WHERE a.service_id = v_sid AND a.environment = p_env;
    ELSE
        INSERT INTO assignments (service_id, environment, host, transport, port, seq)
            VALUES (v_sid, p_env, v_host, v_transport, v_port,
                    (SELECT count(*) FROM assignments a WHERE a.service_id = v_sid));
    END IF;
    -- Every candidate from v_from below v_port is taken, avoided or live, and v_port is now
    -- taken. The hint may pass the taken and avoided ones only: it stops at the lowest
    -- candidate skipped because it was live.
    SELECT min(l) INTO v_next FROM unnest(p_live) AS l
        WHERE l >= v_from AND l < v_port AND (l - v_lo) % v_step = 0
          AND l <> ALL(v_avoid)
          AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.port = l);
    v_next := coalesce(v_next, v_port + v_step);
    INSERT INTO portreg_alloc_hint AS h (id, policy, next_from)
        VALUES (1, v_policy_text, v_next)
        ON CONFLICT (id) DO UPDATE SET policy = EXCLUDED.policy, next_from = EXCLUDED.next_from;
    INSERT INTO changes (at, who, action, service, environment, old_port, new_port, reason)
        VALUES (p_at, p_who, 'assign', v_sid, p_env, NULL, v_port, p_reason)
        RETURNING id INTO v_cid;
    v_payload := replace(replace(p_payload, '987654320', v_cid::text), '987654321', v_port::text);
    INSERT INTO events (id, at, payload) VALUES (v_cid, p_at, v_payload);
    RETURN QUERY SELECT v_sid, v_port, true, v_cid, v_payload, false,
                        NULL::integer, NULL::integer;
END
$$;
"""


def _previous() -> str:
    """0003's function text (migration modules are not importable by name)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "portreg_migration_0003", Path(__file__).with_name("0003_assign_hint.py")
    )
    assert spec is not None and spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    return str(previous.FUNCTION)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS portreg_assign")
    op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS portreg_assign")
    op.execute(_previous())
