"""Hosts: per-host truth reported by agents, and allocation per (host, transport, port).

- `assignments.host` held the registry's host label (the same on every row); it now holds the
  service's host, "" for the registry's default host, so every existing row becomes "".
- `host_reports`: one row per host, its agent's last report (the rows as `scan --json` prints
  them, their count, the sha256 of the request, when it came and the interval the agent promised).
- `host_ports`: the port numbers allocation on a host skips: `report` rows (what its last
  report listed inside the policy range: allocation looks nowhere else) and `hold` rows (a
  port the repair loop saw live and unregistered in three reports; see `portreg/repair.py`).
- PostgreSQL: `portreg_assign` picks on the service's host (an existing service's own, else
  `p_host`): it skips ports registered on that host only, and for a named host what
  `host_ports` lists instead of the server's own live ports. The allocation hint stays the
  default host's. The function is a frozen copy of 0006's with those edits.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def function() -> str:
    return FUNCTION


def upgrade() -> None:
    op.execute("UPDATE assignments SET host = ''")
    op.create_table(
        "host_reports",
        sa.Column("host", sa.String(200), primary_key=True),
        sa.Column("reported_at", sa.DateTime, nullable=False),
        sa.Column("interval", sa.Float, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("listeners", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    op.create_table(
        "host_ports",
        sa.Column("host", sa.String(200), primary_key=True),
        sa.Column("transport", sa.String(10), primary_key=True),
        sa.Column("port", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(10), primary_key=True),
    )
    op.create_index("ix_host_ports_port", "host_ports", ["host", "port"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(function())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PREVIOUS)
    op.drop_index("ix_host_ports_port", "host_ports")
    op.drop_table("host_ports")
    op.drop_table("host_reports")


FUNCTION = r"""
CREATE OR REPLACE FUNCTION portreg_assign(
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
    v_cid bigint; v_payload text; v_svc_host text;
BEGIN
    IF p_live IS NOT NULL THEN  -- NULL: this call only reads
        PERFORM pg_advisory_xact_lock(123623963914853);
    END IF;
    SELECT s.id, s.transport, coalesce(s.data::json->>'host', '')
        INTO v_sid, v_transport, v_svc_host FROM services s
        WHERE s.id IN (p_ref, p_sid) ORDER BY (s.id = p_ref) DESC LIMIT 1;
    -- The host the port lands on: an existing service's own, else the one asked for.
    v_host := coalesce(v_svc_host, nullif(p_host, ''), '');
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
        RAISE EXCEPTION 'portreg: the registry has no policy (the server writes it at start-up)';
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
    -- The hint is the default host's: another host starts from the range's first port.
    IF v_host <> '' OR v_from IS NULL OR v_hint_policy IS DISTINCT FROM v_policy_text
       OR v_from < v_lo THEN
        v_from := v_lo;
    ELSE  -- the first candidate of the policy's sequence at or above the hint
        v_from := v_lo + ((v_from - v_lo + v_step - 1) / v_step) * v_step;
    END IF;
    -- generate_series yields in order: the first match is the lowest free candidate.
    SELECT c INTO v_port FROM generate_series(v_from, v_hi, v_step) AS c
        WHERE c <> ALL(v_avoid)
          AND (v_host <> '' OR c <> ALL(p_live))
          AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.port = c AND a.host = v_host)
          AND NOT EXISTS (SELECT 1 FROM host_ports hp WHERE hp.host = v_host AND hp.port = c)
        LIMIT 1;
    IF v_port IS NULL THEN
        RETURN QUERY SELECT NULL::text, NULL::integer, false, NULL::bigint, NULL::text, false,
                            NULL::integer, NULL::integer;
        RETURN;
    END IF;
    IF v_sid IS NULL THEN
        v_sid := p_sid;
        v_transport := p_transport;
        INSERT INTO services (id, seq, name, protocol, transport, status, notes, data)
            VALUES (p_sid, (SELECT coalesce(max(s.seq), 0) + 1 FROM services s), p_name,
                    p_protocol, p_transport, 'active', '', '{}');
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
    IF v_host = '' THEN
        SELECT min(l) INTO v_next FROM unnest(p_live) AS l
            WHERE l >= v_from AND l < v_port AND (l - v_lo) % v_step = 0
              AND l <> ALL(v_avoid)
              AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.port = l AND a.host = '');
        v_next := coalesce(v_next, v_port + v_step);
        INSERT INTO portreg_alloc_hint AS h (id, policy, next_from)
            VALUES (1, v_policy_text, v_next)
            ON CONFLICT (id) DO UPDATE SET policy = EXCLUDED.policy,
                next_from = EXCLUDED.next_from;
    END IF;
    INSERT INTO changes (at, who, action, service, environment, old_port, new_port, reason)
        VALUES (p_at, p_who, 'assign', v_sid, p_env, NULL, v_port, p_reason)
        RETURNING id INTO v_cid;
    v_payload := jsonb_set(jsonb_set(jsonb_set(jsonb_set(p_payload::jsonb,
        '{id}', to_jsonb(v_cid)),
        '{new}', to_jsonb(v_port)),
        '{row,port}', to_jsonb(v_port)),
        '{row,health_check}', to_jsonb(replace(
            coalesce(p_payload::jsonb #>> '{row,health_check}', ''), '987654321', v_port::text))
    )::text;
    INSERT INTO events (id, at, payload) VALUES (v_cid, p_at, v_payload);
    RETURN QUERY SELECT v_sid, v_port, true, v_cid, v_payload, false,
                        NULL::integer, NULL::integer;
END
$$;
"""

# 0006's definition, for the downgrade (frozen here too: no migration imports another).
PREVIOUS = r"""
CREATE OR REPLACE FUNCTION portreg_assign(
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
        PERFORM pg_advisory_xact_lock(123623963914853);
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
        RAISE EXCEPTION 'portreg: the registry has no policy (the server writes it at start-up)';
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
    SELECT coalesce(m.value::json #>> '{}', p_host) INTO v_host FROM meta m
        WHERE m.key = 'host';
    v_host := coalesce(v_host, p_host, '');
    IF v_sid IS NULL THEN
        v_sid := p_sid;
        v_transport := p_transport;
        INSERT INTO services (id, seq, name, protocol, transport, status, notes, data)
            VALUES (p_sid, (SELECT coalesce(max(s.seq), 0) + 1 FROM services s), p_name,
                    p_protocol, p_transport, 'active', '', '{}');
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
    v_payload := jsonb_set(jsonb_set(jsonb_set(jsonb_set(p_payload::jsonb,
        '{id}', to_jsonb(v_cid)),
        '{new}', to_jsonb(v_port)),
        '{row,port}', to_jsonb(v_port)),
        '{row,health_check}', to_jsonb(replace(
            coalesce(p_payload::jsonb #>> '{row,health_check}', ''), '987654321', v_port::text))
    )::text;
    INSERT INTO events (id, at, payload) VALUES (v_cid, p_at, v_payload);
    RETURN QUERY SELECT v_sid, v_port, true, v_cid, v_payload, false,
                        NULL::integer, NULL::integer;
END
$$;
"""
