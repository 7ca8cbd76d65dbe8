-- Snapshots and aggregates in SQL: snapshot_save never ahead of its stream,
-- snapshot_load the newest at or below the stream's version; aggregate_load
-- folds the newest snapshot plus the tail (upcast first, filtered by the
-- aggregate's types as read); aggregate_commit lets a validator reject
-- before anything is written, then appends with the loaded version; the
-- snapshotter; the fold runs as the aggregate's owner, restricted; every error.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_agg_admin;
CREATE ROLE regress_agg_writer;
RESET client_min_messages;
SELECT rillflow.ensure_tenant('regress_agg');
SELECT rillflow.grant_tenant('regress_agg', 'regress_agg_admin', 'admin');
SELECT rillflow.grant_tenant('regress_agg', 'regress_agg_writer', 'write');
CREATE SCHEMA regress_agg AUTHORIZATION regress_agg_admin;
GRANT USAGE ON SCHEMA regress_agg TO PUBLIC;
SET rillflow.tenant = 'regress_agg';

SET ROLE regress_agg_admin;
-- a bank account: Deposited / Withdrawn; folds count their calls
CREATE TABLE regress_agg.calls (n bigint);
INSERT INTO regress_agg.calls VALUES (0);
GRANT SELECT ON regress_agg.calls TO PUBLIC;
CREATE FUNCTION regress_agg.account(state jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    UPDATE regress_agg.calls SET n = n + 1;
    RETURN jsonb_build_object(
        'balance', (state->>'balance')::numeric
                   + CASE e.type WHEN 'Deposited' THEN (e.body->>'amount')::numeric
                                 WHEN 'Withdrawn' THEN -(e.body->>'amount')::numeric ELSE 0 END,
        'events', (state->>'events')::int + 1,
        'by', current_user);
END $$;
-- Deposited v1 had "value"; v2 has "amount" (writers that still write v1
-- bodies with "amount" are taken as they are)
CREATE FUNCTION regress_agg.deposited_v2(body jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('amount', coalesce(body->'amount', body->'value'))
$$;
CREATE FUNCTION regress_agg.no_overdraft(state jsonb) RETURNS boolean LANGUAGE sql AS $$
    SELECT (state->>'balance')::numeric >= 0
$$;
CREATE FUNCTION regress_agg.strict_limit(state jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (state->>'balance')::numeric > 1000 THEN
        RAISE EXCEPTION 'balance % over the limit', state->>'balance' USING ERRCODE = 'P0099';
    END IF;
END $$;
GRANT EXECUTE ON FUNCTION regress_agg.no_overdraft(jsonb), regress_agg.strict_limit(jsonb) TO PUBLIC;
SELECT rillflow.create_aggregate('account', 'regress_agg.account(jsonb,rillflow.event_envelope)',
                                 '{"balance": 0, "events": 0}', '{Deposited,Withdrawn}') AS created;
SELECT rillflow.create_aggregate('account', 'regress_agg.account(jsonb,rillflow.event_envelope)',
                                 '{"balance": 0, "events": 0}', '{Deposited,Withdrawn}') AS created;
SELECT rillflow.register_upcaster('Deposited', 1, 2, 'regress_agg.deposited_v2(jsonb)') AS registered;
SELECT name, fold, initial, event_types, state_version, owner, streams, snapshots FROM rillflow.list_aggregates();
RESET ROLE;

\set a '''bbbbbbbb-0000-0000-0000-000000000001'''
-- a stream that does not exist is the initial state at version 0
SELECT * FROM rillflow.aggregate_load('account', :a);

-- commits, as a writer: expected version, validators
SET ROLE regress_agg_writer;
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Deposited", "body": {"amount": 100}}]', expected_version => 0);
SELECT * FROM rillflow.aggregate_commit('account', :a,
    '[{"type": "Deposited", "body": {"value": 50}, "event_version": 1}, {"type": "Noted", "body": {}}]');
-- the validator rejects: 23514 for false, its own SQLSTATE for its error; nothing is written
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Withdrawn", "body": {"amount": 500}}]',
                                        validator => 'regress_agg.no_overdraft(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Deposited", "body": {"amount": 5000}}]',
                                        validator => 'regress_agg.strict_limit(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.stream_version(:a) AS still_at;
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Withdrawn", "body": {"amount": 30}}]',
                                        expected_version => 3, validator => 'regress_agg.no_overdraft(jsonb)');
-- a stale expected version: RF001 before the validator or the append
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Withdrawn", "body": {"amount": 1}}]',
                                        expected_version => 2); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Withdrawn", "body": {"amount": 1}}]',
                                        expected_version => 0); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', 'bbbbbbbb-0000-0000-0000-0000000000ff',
                                        '[{"type": "Withdrawn", "body": {"amount": 1}}]', expected_version => -1); \echo SQLSTATE :SQLSTATE
-- the events a commit takes
SELECT * FROM rillflow.aggregate_commit('account', :a, '{}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', :a, '[]'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', :a, '[1]'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"body": {}}]'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Deposited"}]'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', :a, NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Deposited", "body": {"amount": 1}}]',
                                        validator => 'pg_catalog.lower(text)'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_commit('nope', :a, '[{"type": "Deposited", "body": {}}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.stream_version(:a) AS still_at;
RESET ROLE;

-- the fold ran as the aggregate's owner, whoever loads
SELECT state, version FROM rillflow.aggregate_load('account', :a);
SELECT version, type, event_version FROM rillflow.read_stream(:a, raw => true);

-- snapshots
SET ROLE regress_agg_writer;
SELECT rillflow.snapshot_save(:a, 'account', 2, '{"balance": 150, "events": 2, "by": "snapshot"}') AS saved;
SELECT * FROM rillflow.snapshot_load(:a, 'account');
-- a load starts at the snapshot: only the tail is folded
UPDATE regress_agg.calls SET n = 0; \echo SQLSTATE :SQLSTATE
RESET ROLE;
UPDATE regress_agg.calls SET n = 0;
SELECT state, version FROM rillflow.aggregate_load('account', :a);
SELECT n AS fold_calls FROM regress_agg.calls;
SET ROLE regress_agg_writer;
-- an older snapshot never replaces a newer one
SELECT rillflow.snapshot_save(:a, 'account', 1, '{"balance": 100, "events": 1}') AS saved;
SELECT version FROM rillflow.snapshot_load(:a, 'account');
-- never ahead of the stream
SELECT rillflow.snapshot_save(:a, 'account', 5, '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.snapshot_save('bbbbbbbb-0000-0000-0000-0000000000fe', 'account', 1, '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.snapshot_save(:a, 'account', 0, '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.snapshot_save(:a, 'account', NULL, '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.snapshot_save(:a, 'account', 1, NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.snapshot_save(:a, 'bad name', 1, '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.snapshot_save(NULL, 'account', 1, '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.snapshot_save(:a, 'account', 1, '{}', state_version => 0); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.snapshot_load(:a, 'account', state_version => 2);
SELECT rillflow.snapshot_delete(:a, 'account') AS deleted;
SELECT count(*) FROM rillflow.snapshot_load(:a, 'account');
RESET ROLE;

-- a snapshot ahead of the stream (restored from elsewhere) is never loaded
INSERT INTO rillflow_tenant_regress_agg.snapshots (stream_id, aggregate, state_version, version, state)
VALUES (:a, 'account', 1, 99, '{"balance": -1}');
SELECT count(*) FROM rillflow.snapshot_load(:a, 'account');
SELECT state->'balance' AS balance, version FROM rillflow.aggregate_load('account', :a);
DELETE FROM rillflow_tenant_regress_agg.snapshots;

-- the snapshotter: streams with at least threshold events since their last snapshot
SET ROLE regress_agg_writer;
SELECT count(*) FROM (
    SELECT rillflow.aggregate_commit('account', ('bbbbbbbb-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,
        (SELECT jsonb_agg(jsonb_build_object('type', 'Deposited', 'body', jsonb_build_object('amount', 1)))
           FROM generate_series(1, i + 1)))
      FROM generate_series(2, 5) i) c;
SELECT stream_id, version, snapshot_version FROM rillflow.snapshot_candidates('account', threshold => 4, batch => 10);
SELECT rillflow.run_snapshotter(threshold => 4, batch => 2) AS snapshotted;
SELECT rillflow.run_snapshotter(threshold => 4, batch => 10) AS snapshotted;
SELECT rillflow.run_snapshotter(threshold => 4, batch => 10) AS snapshotted;
SELECT stream_id, version, state FROM rillflow_tenant_regress_agg.snapshots ORDER BY stream_id;
SELECT rillflow.run_snapshotter(aggregate => 'nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_snapshotter(batch => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.snapshot_candidates('account', threshold => 0); \echo SQLSTATE :SQLSTATE
RESET ROLE;

-- the errors of the registry
SET ROLE regress_agg_admin;
SELECT rillflow.create_aggregate('account', 'regress_agg.account(jsonb,rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_aggregate('1bad', 'regress_agg.account(jsonb,rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_aggregate(NULL, 'regress_agg.account(jsonb,rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_aggregate('x', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_aggregate('x', 'regress_agg.deposited_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_aggregate('x', 'regress_agg.account(jsonb,rillflow.event_envelope)', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_aggregate('x', 'regress_agg.account(jsonb,rillflow.event_envelope)', event_types => '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_aggregate('x', 'regress_agg.account(jsonb,rillflow.event_envelope)', state_version => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_aggregate('x'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_load('x', :a); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_load('account', NULL); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SET ROLE regress_agg_writer;
SELECT rillflow.create_aggregate('x', 'regress_agg.account(jsonb,rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
RESET ROLE;

-- The fold runs as the aggregate's owner, restricted: a fold that reads
-- what its owner may not is stopped, though the loader (a superuser) may;
-- a failing fold names the aggregate and the event.
CREATE TABLE regress_agg_secret (v text);
INSERT INTO regress_agg_secret VALUES ('the secret');
SET ROLE regress_agg_admin;
CREATE FUNCTION regress_agg.peek(state jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE sql AS $$
    SELECT state || jsonb_build_object('secret', (SELECT v FROM public.regress_agg_secret))
$$;
CREATE FUNCTION regress_agg.nulls(state jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb';
SELECT rillflow.create_aggregate('peeker', 'regress_agg.peek(jsonb,rillflow.event_envelope)') AS created;
SELECT rillflow.create_aggregate('nuller', 'regress_agg.nulls(jsonb,rillflow.event_envelope)') AS created;
RESET ROLE;
SELECT * FROM rillflow.aggregate_load('peeker', :a); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.aggregate_load('nuller', :a); \echo SQLSTATE :SQLSTATE
-- a validator runs as its caller, restricted: it cannot SET ROLE
CREATE FUNCTION regress_agg_set_role(state jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('role', 'none', true);
    RETURN true;
END $$;
SELECT * FROM rillflow.aggregate_commit('account', :a, '[{"type": "Deposited", "body": {"amount": 1}}]',
                                        validator => 'regress_agg_set_role(jsonb)'); \echo SQLSTATE :SQLSTATE
-- and the owner of a fold that lost EXECUTE on it: refused, never run as the loader
SET ROLE regress_agg_admin;
REVOKE EXECUTE ON FUNCTION regress_agg.account(jsonb, rillflow.event_envelope) FROM PUBLIC, regress_agg_admin;
RESET ROLE;
SELECT * FROM rillflow.aggregate_load('account', :a); \echo SQLSTATE :SQLSTATE

RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_agg');
DROP SCHEMA regress_agg CASCADE;
DROP TABLE regress_agg_secret;
DROP FUNCTION regress_agg_set_role(jsonb);
RESET client_min_messages;
DROP OWNED BY regress_agg_admin, regress_agg_writer;
DROP ROLE regress_agg_admin, regress_agg_writer;
