-- Upcasters: the registry of a store's upcasting steps, the chains every
-- read path applies (read_stream, read_all, projections), renames, raw
-- reads, the errors of each function, the cache's invalidation when the
-- registry or a function changes, and who an upcaster runs as: the role
-- that registered it, security-restricted, whoever reads.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_evo_admin;
CREATE ROLE regress_evo_writer;
CREATE ROLE regress_evo_reader;
RESET client_min_messages;
SELECT rillflow.ensure_tenant('regress_evo');
SELECT rillflow.grant_tenant('regress_evo', 'regress_evo_admin', 'admin');
SELECT rillflow.grant_tenant('regress_evo', 'regress_evo_writer', 'write');
SELECT rillflow.grant_tenant('regress_evo', 'regress_evo_reader', 'read');
CREATE SCHEMA regress_evo AUTHORIZATION regress_evo_admin;
GRANT USAGE ON SCHEMA regress_evo TO PUBLIC;
SET rillflow.tenant = 'regress_evo';

SET ROLE regress_evo_admin;
-- v1 {"amount": 5} -> v2 {"total": 5} -> v3 {"total": 5, "currency": "EUR"}
CREATE FUNCTION regress_evo.placed_v1_v2(body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN (body - 'amount') || jsonb_build_object('total', body->'amount');
END $$;
CREATE FUNCTION regress_evo.placed_v2_v3(e rillflow.event_envelope) RETURNS jsonb LANGUAGE sql AS $$
    SELECT e.body || jsonb_build_object('currency', 'EUR', 'seen_version', e.event_version, 'seen_type', e.type)
$$;
-- a rename: Legacy v1 -> OrderPlaced v2
CREATE FUNCTION regress_evo.legacy_rename(body jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('total', body->'sum')
$$;
SELECT rillflow.register_upcaster('OrderPlaced', 1, 2, 'regress_evo.placed_v1_v2(jsonb)') AS registered;
SELECT rillflow.register_upcaster('OrderPlaced', 2, 3, 'regress_evo.placed_v2_v3(rillflow.event_envelope)') AS registered;
SELECT rillflow.register_upcaster('Legacy', 1, 2, 'regress_evo.legacy_rename(jsonb)', to_type => 'OrderPlaced') AS registered;
-- the same again: false, nothing changes
SELECT rillflow.register_upcaster('OrderPlaced', 1, 2, 'regress_evo.placed_v1_v2(jsonb)') AS registered;
SELECT event_type, from_version, to_type, to_version, fn, owner FROM rillflow.list_upcasters();
RESET ROLE;

-- the paths
SELECT * FROM rillflow.upcaster_path('OrderPlaced', 1, 'OrderPlaced', 3);
SELECT * FROM rillflow.upcaster_path('Legacy', 1, 'OrderPlaced', 3);
SELECT * FROM rillflow.upcaster_path('OrderPlaced', 2, 'OrderPlaced', 3);
SELECT count(*) AS steps FROM rillflow.upcaster_path('OrderPlaced', 3, 'OrderPlaced', 3);
SELECT * FROM rillflow.upcaster_path('OrderPlaced', 1, 'OrderPlaced', 4); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.upcaster_path('Shipped', 1, 'Shipped', 2); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.upcaster_path(NULL, 1, 'Shipped', 2); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.upcaster_path('Shipped', 0, 'Shipped', 2); \echo SQLSTATE :SQLSTATE

-- events stored at every version
\set s '''aaaaaaaa-0000-0000-0000-000000000001'''
SET ROLE regress_evo_writer;
SELECT rillflow.append_events(:s, '[
  {"type": "OrderPlaced", "body": {"amount": 5}},
  {"type": "OrderPlaced", "body": {"total": 6}, "event_version": 2},
  {"type": "OrderPlaced", "body": {"total": 7, "currency": "USD"}, "event_version": 3},
  {"type": "Legacy", "body": {"sum": 8}},
  {"type": "Shipped", "body": {"n": 1}}]') AS version;
RESET ROLE;
SELECT rillflow.run_sequencer() >= 0 AS ticked;

-- every read returns the newest version; raw => true what is stored
SET ROLE regress_evo_reader;
SELECT version, type, event_version, body FROM rillflow.read_stream(:s);
SELECT version, type, event_version, body FROM rillflow.read_stream(:s, raw => true);
SELECT version, type, event_version, body FROM rillflow.read_stream(:s, from_version => 4, max_count => 1);
SELECT position, type, event_version, body->'total' AS total FROM rillflow.read_all();
SELECT position, type, event_version FROM rillflow.read_all(raw => true);
-- a type filter is on the type as read: Legacy events come as OrderPlaced
SELECT position, type, event_version FROM rillflow.read_all(event_types => '{OrderPlaced}');
SELECT position, type, event_version FROM rillflow.read_all(event_types => '{Legacy}');
SELECT position, type, event_version FROM rillflow.read_all(event_types => '{Legacy}', raw => true);
RESET ROLE;

-- the registry changes: the next read sees it (the chains are dropped)
SET ROLE regress_evo_admin;
CREATE FUNCTION regress_evo.shipped_v1_v2(body jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT body || '{"carrier": "post"}'
$$;
SELECT rillflow.register_upcaster('Shipped', 1, 2, 'regress_evo.shipped_v1_v2(jsonb)') AS registered;
SELECT version, type, event_version, body FROM rillflow.read_stream(:s, from_version => 5);
-- a replaced function is called as it is now
CREATE OR REPLACE FUNCTION regress_evo.shipped_v1_v2(body jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT body || '{"carrier": "courier"}'
$$;
SELECT version, type, event_version, body FROM rillflow.read_stream(:s, from_version => 5);
SELECT rillflow.drop_upcaster('Shipped', 1);
SELECT version, type, event_version, body FROM rillflow.read_stream(:s, from_version => 5);
-- in a transaction that rolls back, the registration is gone with it
BEGIN;
SELECT rillflow.register_upcaster('Shipped', 1, 2, 'regress_evo.shipped_v1_v2(jsonb)') AS registered;
SELECT event_version, body FROM rillflow.read_stream(:s, from_version => 5);
ROLLBACK;
SELECT event_version, body FROM rillflow.read_stream(:s, from_version => 5);

-- the errors of the registry
SELECT rillflow.register_upcaster('OrderPlaced', 1, 5, 'regress_evo.placed_v1_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster(NULL, 1, 2, 'regress_evo.placed_v1_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster('', 1, 2, 'regress_evo.placed_v1_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster(repeat('x', 256), 1, 2, 'regress_evo.placed_v1_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster('X', 0, 2, 'regress_evo.placed_v1_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster('X', NULL, 2, 'regress_evo.placed_v1_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster('X', 2, 2, 'regress_evo.placed_v1_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster('X', 1, 2, NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster('X', 1, 2, 'pg_catalog.lower(text)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.register_upcaster('X', 1, 2, 'regress_evo.placed_v1_v2(jsonb)', to_type => ''); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_upcaster('X', 1); \echo SQLSTATE :SQLSTATE
RESET ROLE;
-- registering is an admin's act: a writer is refused by the registry's grants
SET ROLE regress_evo_writer;
SELECT rillflow.register_upcaster('X', 1, 2, 'regress_evo.placed_v1_v2(jsonb)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_upcaster('OrderPlaced', 1); \echo SQLSTATE :SQLSTATE
RESET ROLE;
-- a function the registering role may not execute is refused
CREATE FUNCTION public.regress_evo_private(body jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT body';
REVOKE EXECUTE ON FUNCTION public.regress_evo_private(jsonb) FROM PUBLIC;
SET ROLE regress_evo_admin;
SELECT rillflow.register_upcaster('X', 1, 2, 'public.regress_evo_private(jsonb)'); \echo SQLSTATE :SQLSTATE
-- nor may a registration name another role as its owner
INSERT INTO rillflow_tenant_regress_evo.upcasters (event_type, from_version, to_version, to_type, fn, takes_envelope, owner)
VALUES ('X', 1, 2, 'X', 'regress_evo.placed_v1_v2(jsonb)', false, 'regress_evo_writer'); \echo SQLSTATE :SQLSTATE
RESET ROLE;

-- An upcaster runs as the role that registered it, restricted, whoever
-- reads. regress_evo_admin may not read regress_evo_secret; the reader here
-- (a superuser) may. The upcaster that peeks is stopped.
CREATE TABLE regress_evo_secret (v text);
INSERT INTO regress_evo_secret VALUES ('the secret');
SET ROLE regress_evo_admin;
CREATE FUNCTION regress_evo.who(body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    restricted boolean;
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('role', 'none', true);
        restricted := false;
    EXCEPTION WHEN insufficient_privilege THEN
        restricted := true;
    END;
    PERFORM pg_catalog.set_config('work_mem', '77kB', false);
    RETURN body || jsonb_build_object('ran_as', current_user, 'restricted', restricted);
END $$;
CREATE FUNCTION regress_evo.peek(body jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT body || jsonb_build_object('secret', (SELECT v FROM public.regress_evo_secret))
$$;
SELECT rillflow.register_upcaster('Who', 1, 2, 'regress_evo.who(jsonb)') AS registered;
SELECT rillflow.register_upcaster('Peek', 1, 2, 'regress_evo.peek(jsonb)') AS registered;
RESET ROLE;
\set w '''aaaaaaaa-0000-0000-0000-000000000002'''
SELECT rillflow.append_events(:w, '[{"type": "Who", "body": {}}, {"type": "Peek", "body": {}}]') AS version;
SELECT rillflow.run_sequencer() >= 0 AS ticked;
SHOW work_mem;
SELECT version, body FROM rillflow.read_stream(:w, max_count => 1);
SELECT current_user AS after_the_read;
SHOW work_mem;
SELECT body FROM rillflow.read_stream(:w, from_version => 2); \echo SQLSTATE :SQLSTATE
-- the raw read calls no upcaster
SELECT version, type, body FROM rillflow.read_stream(:w, raw => true);
-- an owner that lost EXECUTE on its upcaster: refused at the next read, never run as the reader
SET ROLE regress_evo_admin;
REVOKE EXECUTE ON FUNCTION regress_evo.who(jsonb) FROM PUBLIC, regress_evo_admin;
RESET ROLE;
SELECT body FROM rillflow.read_stream(:w, max_count => 1); \echo SQLSTATE :SQLSTATE
SET ROLE regress_evo_admin;
GRANT EXECUTE ON FUNCTION regress_evo.who(jsonb) TO regress_evo_admin;
RESET ROLE;
SELECT body->>'ran_as' AS ran_as FROM rillflow.read_stream(:w, max_count => 1);

-- A failing upcaster is an error naming the event and the step, with its
-- own SQLSTATE; a NULL body is an error too. Nothing is skipped.
SET ROLE regress_evo_admin;
CREATE FUNCTION regress_evo.broken(body jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF body ? 'null' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'cannot read %', body USING ERRCODE = '22P02';
END $$;
SELECT rillflow.register_upcaster('Broken', 1, 2, 'regress_evo.broken(jsonb)') AS registered;
RESET ROLE;
\set b '''aaaaaaaa-0000-0000-0000-000000000003'''
SELECT rillflow.append_events(:b, '[{"type": "Fine", "body": {}}, {"type": "Broken", "body": {"x": 1}}, {"type": "Broken", "body": {"null": 1}}]');
SELECT rillflow.run_sequencer() >= 0 AS ticked;
SELECT version FROM rillflow.read_stream(:b); \echo SQLSTATE :SQLSTATE
SELECT version FROM rillflow.read_stream(:b, from_version => 3); \echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rillflow.read_all(event_types => '{Broken}'); \echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rillflow.read_all(event_types => '{Broken}', raw => true);

-- A projection gets each event upcast; a failing upcaster fails its event,
-- which is dead-lettered, and the projection goes on.
SET ROLE regress_evo_admin;
CREATE TABLE regress_evo.totals (position bigint, type text, event_version integer, total jsonb);
CREATE FUNCTION regress_evo.project(e rillflow.event_envelope) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regress_evo.totals VALUES (e.position, e.type, e.event_version, e.body->'total')
$$;
SELECT rillflow.create_projection('evo_totals', 'regress_evo.project(rillflow.event_envelope)',
                                  event_types => '{OrderPlaced,Broken}');
SELECT rillflow.set_projection_options('evo_totals', max_attempts => 1);
SELECT rillflow.run_projection('evo_totals', 10) AS applied;
SELECT * FROM regress_evo.totals ORDER BY position;
SELECT position, sqlstate, message FROM rillflow.dlq_list('evo_totals');
SELECT status, checkpoint = rillflow.head_position() AS caught_up FROM rillflow.projection_status('evo_totals');
-- a batch handler too
CREATE TABLE regress_evo.batches (n integer, types text[]);
CREATE FUNCTION regress_evo.project_batch(es rillflow.event_envelope[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regress_evo.batches SELECT count(*), array_agg(DISTINCT e.type || ' v' || e.event_version) FROM unnest(es) e
$$;
SELECT rillflow.create_projection('evo_batch', 'regress_evo.project_batch(rillflow.event_envelope[])',
                                  event_types => '{OrderPlaced}');
SELECT rillflow.run_projection('evo_batch', 10) AS applied;
SELECT * FROM regress_evo.batches;
RESET ROLE;

RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_evo');
DROP SCHEMA regress_evo CASCADE;
DROP TABLE regress_evo_secret;
DROP FUNCTION public.regress_evo_private(jsonb);
RESET client_min_messages;
DROP OWNED BY regress_evo_admin, regress_evo_writer, regress_evo_reader;
DROP ROLE regress_evo_admin, regress_evo_writer, regress_evo_reader;
