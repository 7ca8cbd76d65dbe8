-- Privileges (docs/security.md): each rule is tried as the role it must stop.
\set SHOW_CONTEXT never
-- A crash restarts every backend, this one too (psql does not reconnect in a
-- script, and pg_postmaster_start_time() survives a crash restart): the same
-- backend answering at the end shows the server stayed up.
SELECT pg_backend_pid() AS backend \gset
SELECT current_user AS extension_owner \gset

SET client_min_messages = warning;
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'regress\_sec\_%' LOOP
        EXECUTE format('DROP OWNED BY %I CASCADE', r);
        EXECUTE format('DROP ROLE %I', r);
    END LOOP;
END $$;
RESET client_min_messages;
CREATE ROLE regress_sec_mallory;     -- no grant at all
CREATE ROLE regress_sec_logreader;   -- USAGE + SELECT on a store, granted by hand
CREATE ROLE regress_sec_reader;      -- read on tenant a
CREATE ROLE regress_sec_writer;      -- write on tenant a
CREATE ROLE regress_sec_admin;       -- admin on tenant a
CREATE ROLE regress_sec_admin2;      -- admin on tenant a too, owns nothing
CREATE ROLE regress_sec_b;           -- write on tenant b
SELECT rillflow.ensure_tenant('regress_sec_a'), rillflow.ensure_tenant('regress_sec_b'),
       rillflow.ensure_tenant('regress_sec_log');
-- handlers: each owned by the role that is to register it
CREATE FUNCTION public.regress_sec_handler(e rillflow.event_envelope) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
ALTER FUNCTION public.regress_sec_handler(rillflow.event_envelope) OWNER TO regress_sec_admin;
CREATE FUNCTION public.regress_sec_evil(e rillflow.event_envelope) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
ALTER FUNCTION public.regress_sec_evil(rillflow.event_envelope) OWNER TO regress_sec_admin2;
CREATE FUNCTION public.regress_sec_reset() RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
ALTER FUNCTION public.regress_sec_reset() OWNER TO regress_sec_admin2;
CREATE FUNCTION public.regress_sec_private(e rillflow.event_envelope) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
REVOKE EXECUTE ON FUNCTION public.regress_sec_private(rillflow.event_envelope) FROM PUBLIC;

----------------------------------------------------------------------------
-- Internal functions: PUBLIC executes only those privileges.sql lists, each
-- harmless to call directly (docs/security.md says why).
SELECT p.oid::regprocedure AS public_internal
  FROM pg_proc p
 WHERE p.pronamespace = 'rillflow'::regnamespace AND p.proname LIKE '\_%'
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text COLLATE "C";
-- the SECURITY DEFINER functions, each with a comment in its source saying why
SELECT p.oid::regprocedure AS security_definer
  FROM pg_proc p
 WHERE p.pronamespace = 'rillflow'::regnamespace AND p.prosecdef
 ORDER BY p.oid::regprocedure::text COLLATE "C";
-- every function pins search_path (or is C, which qualifies every name)
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'rillflow'::regnamespace AND l.lanname NOT IN ('c', 'internal')
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
   AND p.prosqlbody IS NULL AND p.proname NOT IN ('rebuild_projection', 'run_maintenance')
 ORDER BY p.oid::regprocedure::text COLLATE "C";

----------------------------------------------------------------------------
-- The duplicated-fields trigger on a table whose columns do not match its
-- arguments: never a read of server memory or a crash (issue 8, item 2).
SET ROLE regress_sec_mallory;
CREATE TEMP TABLE sec_wrong (id uuid, data jsonb, f bigint);
CREATE TRIGGER sec_t BEFORE INSERT ON sec_wrong
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', ''); \echo SQLSTATE :SQLSTATE
SELECT rillflow._doc_field_value(NULL, '{"a": 1}', 'f', 'a', 'text', '', NULL::text); \echo SQLSTATE :SQLSTATE
RESET ROLE;
-- the extension owner (who may create the trigger) gets errors, not garbage
CREATE TEMP TABLE sec_wrong_target (id uuid, data jsonb, f bigint);
CREATE TRIGGER sec_t BEFORE INSERT ON sec_wrong_target
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', '');
INSERT INTO sec_wrong_target VALUES (gen_random_uuid(), '{"a": "hello"}') RETURNING f; \echo SQLSTATE :SQLSTATE
CREATE TEMP TABLE sec_wrong_data (id integer, data integer, f text);
CREATE TRIGGER sec_t BEFORE INSERT ON sec_wrong_data
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', '');
INSERT INTO sec_wrong_data VALUES (1, 12345) RETURNING f; \echo SQLSTATE :SQLSTATE
CREATE TEMP TABLE sec_wrong_id (id text, data jsonb, f text);
CREATE TRIGGER sec_t BEFORE INSERT ON sec_wrong_id
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', '');
INSERT INTO sec_wrong_id VALUES ('x', '{"a": "b"}') RETURNING f; \echo SQLSTATE :SQLSTATE
CREATE TEMP TABLE sec_no_data (id uuid, f text);
CREATE TRIGGER sec_t BEFORE INSERT ON sec_no_data
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', '');
INSERT INTO sec_no_data VALUES (gen_random_uuid()) RETURNING f; \echo SQLSTATE :SQLSTATE
CREATE TEMP TABLE sec_args (id uuid, data jsonb, f text);
CREATE TRIGGER sec_t3 BEFORE INSERT ON sec_args
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text');
INSERT INTO sec_args VALUES (gen_random_uuid(), '{"a": "b"}') RETURNING f; \echo SQLSTATE :SQLSTATE
DROP TRIGGER sec_t3 ON sec_args;
CREATE TRIGGER sec_type BEFORE INSERT ON sec_args
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'point', '');
INSERT INTO sec_args VALUES (gen_random_uuid(), '{"a": "b"}') RETURNING f; \echo SQLSTATE :SQLSTATE
DROP TRIGGER sec_type ON sec_args;
CREATE TRIGGER sec_col BEFORE INSERT ON sec_args
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('nope', 'a', 'text', '');
INSERT INTO sec_args VALUES (gen_random_uuid(), '{"a": "b"}') RETURNING f; \echo SQLSTATE :SQLSTATE
DROP TRIGGER sec_col ON sec_args;
CREATE TRIGGER sec_sys BEFORE INSERT ON sec_args
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('data', 'a', 'text', '');
INSERT INTO sec_args VALUES (gen_random_uuid(), '{"a": "b"}') RETURNING f; \echo SQLSTATE :SQLSTATE
DROP TRIGGER sec_sys ON sec_args;
CREATE TRIGGER sec_path BEFORE INSERT ON sec_args
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a..b', 'text', '');
INSERT INTO sec_args VALUES (gen_random_uuid(), '{"a": "b"}') RETURNING f; \echo SQLSTATE :SQLSTATE
DROP TRIGGER sec_path ON sec_args;
CREATE TRIGGER sec_tr BEFORE INSERT ON sec_args
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', 'pg_read_file({value})');
INSERT INTO sec_args VALUES (gen_random_uuid(), '{"a": "b"}') RETURNING f; \echo SQLSTATE :SQLSTATE
DROP TRIGGER sec_tr ON sec_args;
CREATE TRIGGER sec_after AFTER INSERT ON sec_args
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', '');
INSERT INTO sec_args VALUES (gen_random_uuid(), '{"a": "b"}') RETURNING f; \echo SQLSTATE :SQLSTATE
DROP TRIGGER sec_after ON sec_args;
-- the right shape still works
CREATE TRIGGER sec_ok BEFORE INSERT ON sec_args
    FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', 'upper({value})');
INSERT INTO sec_args VALUES (gen_random_uuid(), '{"a": "b"}') RETURNING f;
DROP TABLE sec_wrong_target, sec_wrong_data, sec_wrong_id, sec_no_data, sec_args;
SET ROLE regress_sec_mallory;
DROP TABLE sec_wrong;
RESET ROLE;
SELECT pg_backend_pid() = :backend AS same_backend_still_answers;

----------------------------------------------------------------------------
-- A reader needs USAGE and SELECT on the store, no write right (item 6); it
-- can neither append nor write the log. (The API's schema and the list of
-- tenants are every role's.)
GRANT USAGE ON SCHEMA rillflow_tenant_regress_sec_log TO regress_sec_logreader;
GRANT SELECT ON ALL TABLES IN SCHEMA rillflow_tenant_regress_sec_log TO regress_sec_logreader;
SET rillflow.tenant = 'regress_sec_log';
SELECT rillflow.append_event('5ec00000-0000-0000-0000-000000000001', 'Logged', '{"n": 1}');
SELECT rillflow.run_sequencer();
SELECT rillflow.append_event('5ec00000-0000-0000-0000-000000000001', 'Logged', '{"n": 2}');
SET ROLE regress_sec_logreader;
SELECT position, version, type FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.head_position(); \echo SQLSTATE :SQLSTATE
SELECT version, type, body FROM rillflow.read_stream('5ec00000-0000-0000-0000-000000000001'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.stream_version('5ec00000-0000-0000-0000-000000000001'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event('5ec00000-0000-0000-0000-000000000001', 'Forged', '{}'); \echo SQLSTATE :SQLSTATE
INSERT INTO rillflow_tenant_regress_sec_log.log_segments VALUES (99, 99, '{99}'); \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_sec_log.log_state SET head = 0; \echo SQLSTATE :SQLSTATE
DELETE FROM rillflow_tenant_regress_sec_log.log_segments; \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_sequencer() >= 0 AS may_tick; \echo SQLSTATE :SQLSTATE
-- the sequencer of a store the role may not read is not the role's to run
-- (where the refusal comes from is the sequencer's business: only the
-- SQLSTATE is pinned)
RESET rillflow.tenant;
\set VERBOSITY sqlstate
SELECT rillflow.run_sequencer(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.head_position(); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
RESET ROLE;
RESET rillflow.tenant;

----------------------------------------------------------------------------
-- grant_tenant / revoke_tenant: errors
SELECT rillflow.grant_tenant('regress_sec_nobody', 'regress_sec_reader', 'read'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_reader', 'owner'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_nobody', 'read'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.grant_tenant(NULL, 'regress_sec_reader', 'read'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.grant_tenant('regress_sec_a', NULL, 'read'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_reader', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.grant_tenant('Bad Name', 'regress_sec_reader', 'read'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.revoke_tenant('regress_sec_nobody', 'regress_sec_reader', 'read'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.revoke_tenant('regress_sec_a', 'regress_sec_reader', 'all'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.revoke_tenant('regress_sec_a', 'regress_sec_nobody', 'read'); \echo SQLSTATE :SQLSTATE

SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_reader', 'read');
SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_writer', 'write');
SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_admin', 'admin');
SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_admin2', 'admin');
SELECT rillflow.grant_tenant('regress_sec_b', 'regress_sec_b', 'write');
-- granting twice changes nothing
SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_reader', 'read');
-- what each level may do to each table of the store (r select, a insert,
-- w update, d delete, D truncate, x references, t trigger); nobody but the
-- store's owner may create in its schema
SELECT c.relname AS "table", l.role, concat(
           CASE WHEN has_table_privilege(l.role, c.oid, 'SELECT') THEN 'r' END,
           CASE WHEN has_table_privilege(l.role, c.oid, 'INSERT') THEN 'a' END,
           CASE WHEN has_table_privilege(l.role, c.oid, 'UPDATE') THEN 'w' END,
           CASE WHEN has_table_privilege(l.role, c.oid, 'DELETE') THEN 'd' END,
           CASE WHEN has_table_privilege(l.role, c.oid, 'TRUNCATE') THEN 'D' END,
           CASE WHEN has_table_privilege(l.role, c.oid, 'REFERENCES') THEN 'x' END,
           CASE WHEN has_table_privilege(l.role, c.oid, 'TRIGGER') THEN 't' END) AS may
  FROM pg_class c,
       (VALUES ('regress_sec_reader'), ('regress_sec_writer'), ('regress_sec_admin')) l (role)
 WHERE c.relnamespace = 'rillflow_tenant_regress_sec_a'::regnamespace AND c.relkind = 'r'
 ORDER BY c.relname COLLATE "C", l.role COLLATE "C" DESC;
SELECT l.role, has_schema_privilege(l.role, 'rillflow_tenant_regress_sec_a', 'CREATE') AS may_create,
       has_sequence_privilege(l.role, 'rillflow_tenant_regress_sec_a.events_seq', 'USAGE') AS events_seq,
       has_sequence_privilege(l.role, 'rillflow_tenant_regress_sec_a.projection_dlq_seq', 'USAGE') AS dlq_seq
  FROM (VALUES ('regress_sec_reader'), ('regress_sec_writer'), ('regress_sec_admin')) l (role)
 ORDER BY l.role COLLATE "C" DESC;
-- only the store's owner grants: an admin of the tenant may not (the detail
-- names the owner, which differs between clusters)
SET ROLE regress_sec_admin;
\set VERBOSITY terse
SELECT rillflow.grant_tenant('regress_sec_a', 'regress_sec_mallory', 'write'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.grant_tenant('regress_sec_b', 'regress_sec_admin', 'admin'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.revoke_tenant('regress_sec_a', 'regress_sec_reader', 'read'); \echo SQLSTATE :SQLSTATE
-- nor create tenants
SELECT rillflow.ensure_tenant('regress_sec_admins_own'); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
RESET ROLE;

-- the tenant's owner writes some history
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.append_event('5ec00000-0000-0000-0000-00000000000a', 'Opened', '{}');
SELECT rillflow.doc_put('docs', '5ec00000-0000-0000-0000-0000000000d1', '{"n": 1}');
SET rillflow.tenant = 'regress_sec_b';
SELECT rillflow.append_event('5ec00000-0000-0000-0000-00000000000b', 'SecretB', '{}');
SELECT rillflow.doc_put('docs', '5ec00000-0000-0000-0000-0000000000d2', '{"secret": true}');
RESET rillflow.tenant;

-- read: reads, never writes
SET ROLE regress_sec_reader;
SET rillflow.tenant = 'regress_sec_a';
SELECT position, type FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.head_position(); \echo SQLSTATE :SQLSTATE
SELECT version, type FROM rillflow.read_stream('5ec00000-0000-0000-0000-00000000000a'); \echo SQLSTATE :SQLSTATE
SELECT data FROM rillflow.doc_get('docs', '5ec00000-0000-0000-0000-0000000000d1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_query('docs', '{}'); \echo SQLSTATE :SQLSTATE
SELECT name FROM rillflow.list_collections(); \echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rillflow.list_projections(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event('5ec00000-0000-0000-0000-00000000000a', 'Forged', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', '5ec00000-0000-0000-0000-0000000000d1', '{"n": 2}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resolve_stream_alias('reader-made'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection('readers'); \echo SQLSTATE :SQLSTATE
-- and nothing of tenant b, however the tenant is chosen
SET rillflow.tenant = 'regress_sec_b';
\set VERBOSITY sqlstate
SELECT position, type FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.head_position(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_sequencer(); \echo SQLSTATE :SQLSTATE
SELECT version, type FROM rillflow.read_stream('5ec00000-0000-0000-0000-00000000000b'); \echo SQLSTATE :SQLSTATE
SELECT data FROM rillflow.doc_get('docs', '5ec00000-0000-0000-0000-0000000000d2'); \echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rillflow_tenant_regress_sec_b.events; \echo SQLSTATE :SQLSTATE
BEGIN;
SET LOCAL rillflow.tenant = 'regress_sec_b';
SELECT position, type FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
ROLLBACK;
\set VERBOSITY default
RESET rillflow.tenant;
RESET ROLE;

-- write: appends and writes documents, never the log tables or the registries
SET ROLE regress_sec_writer;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.append_event('5ec00000-0000-0000-0000-00000000000a', 'Written', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(rillflow.resolve_stream_alias('writer-made'), '[{"type": "Made", "body": {}}]',
                              idempotency_key => 'writer-1'); \echo SQLSTATE :SQLSTATE
SELECT position, type FROM rillflow.read_all() ORDER BY position; \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', '5ec00000-0000-0000-0000-0000000000d1', '{"n": 2}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', '5ec00000-0000-0000-0000-0000000000d1', 'm', '3'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_soft_delete('docs', '5ec00000-0000-0000-0000-0000000000d1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_restore('docs', '5ec00000-0000-0000-0000-0000000000d1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('writers_own', gen_random_uuid(), '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection('writers_own'); \echo SQLSTATE :SQLSTATE
INSERT INTO rillflow_tenant_regress_sec_a.log_segments VALUES (99, 99, '{99}'); \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_sec_a.log_state SET head = 0; \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_sec_a.events SET body = '{"forged": true}'; \echo SQLSTATE :SQLSTATE
DELETE FROM rillflow_tenant_regress_sec_a.events; \echo SQLSTATE :SQLSTATE
CREATE TABLE rillflow_tenant_regress_sec_a.doc_planted (id uuid); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('writers', 'public.regress_sec_handler(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
-- and nothing of tenant b
SET rillflow.tenant = 'regress_sec_b';
SELECT rillflow.append_event('5ec00000-0000-0000-0000-00000000000b', 'Forged', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', '5ec00000-0000-0000-0000-0000000000d2', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_delete('docs', '5ec00000-0000-0000-0000-0000000000d2'); \echo SQLSTATE :SQLSTATE
RESET rillflow.tenant;
RESET ROLE;

-- admin: collections and projections of its tenant
SET ROLE regress_sec_admin;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.create_collection('orders'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('orders', '5ec00000-0000-0000-0000-0000000000e1', '{"status": "new"}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('orders', 'status', 'status', 'text'); \echo SQLSTATE :SQLSTATE
INSERT INTO rillflow_tenant_regress_sec_a.log_segments VALUES (99, 99, '{99}'); \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_sec_a.log_state SET head = 0; \echo SQLSTATE :SQLSTATE
CREATE TABLE rillflow_tenant_regress_sec_a.doc_planted (id uuid); \echo SQLSTATE :SQLSTATE
RESET ROLE;
-- collection tables belong to the store's owner, whoever created them
SELECT c.relname, pg_get_userbyid(c.relowner) = :'extension_owner' AS owned_by_store_owner
  FROM pg_class c WHERE c.relnamespace = 'rillflow_tenant_regress_sec_a'::regnamespace AND c.relkind = 'r'
   AND c.relname LIKE 'doc\_%' ORDER BY c.relname;
-- a collection created after the grants is readable and writable at those levels
SET ROLE regress_sec_reader;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.doc_query('orders', '{}'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SET ROLE regress_sec_writer;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.doc_put('orders', '5ec00000-0000-0000-0000-0000000000e2', '{"status": "paid"}'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SET rillflow.tenant = 'regress_sec_a';
SELECT id, status FROM rillflow_tenant_regress_sec_a.doc_orders ORDER BY id;
-- the registry never names another table of the store: grant_tenant gives
-- writers DML on the tables it names
SET ROLE regress_sec_admin;
\set VERBOSITY terse
INSERT INTO rillflow_tenant_regress_sec_a.collections (name, table_name) VALUES ('sneaky', 'positions'); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
RESET ROLE;
-- dropping the field drops its column only, not one the owner added by hand
ALTER TABLE rillflow_tenant_regress_sec_a.doc_orders ADD COLUMN owners_note text;
SET ROLE regress_sec_admin;
SELECT rillflow.drop_duplicated_field('orders', 'status'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT attname FROM pg_attribute WHERE attrelid = 'rillflow_tenant_regress_sec_a.doc_orders'::regclass
   AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SET ROLE regress_sec_writer;
SELECT rillflow.add_duplicated_field('orders', 'status', 'status', 'text'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
RESET rillflow.tenant;

----------------------------------------------------------------------------
-- Projections are owned by the role that registers them (current_user).
SET ROLE regress_sec_admin;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.create_projection('admins', 'public.regress_sec_handler(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
-- a handler the registering role may not execute
SELECT rillflow.create_projection('private', 'public.regress_sec_private(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
-- the owner cannot be chosen at registration
INSERT INTO rillflow_tenant_regress_sec_a.projections (name, kind, handler, batch_size, checkpoint, owner)
VALUES ('forged', 'worker', 'public.regress_sec_handler(rillflow.event_envelope)', 10, 0, 'regress_sec_admin2'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT name, owner FROM rillflow_tenant_regress_sec_a.projections ORDER BY name;
-- another admin of the tenant may run it and pause it, not change its code or owner
SET ROLE regress_sec_admin2;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.pause_projection('admins'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resume_projection('admins'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_projection_options('admins', max_attempts => 3); \echo SQLSTATE :SQLSTATE
-- and run a daemon's projection of its own
SELECT rillflow.create_external_projection('daemons'); \echo SQLSTATE :SQLSTATE
SELECT token, checkpoint FROM rillflow.projection_acquire('daemons', 'regress-node', '1 minute'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_projection_reset_function('admins', 'public.regress_sec_reset()'); \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_sec_a.projections
   SET handler = 'public.regress_sec_evil(rillflow.event_envelope)' WHERE name = 'admins'; \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_sec_a.projections SET owner = 'regress_sec_admin2' WHERE name = 'admins'; \echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_sec_a.projections SET reset_function = 'public.regress_sec_reset()'
 WHERE name = 'admins'; \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_projection('admins'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT name, owner, handler, reset_function, max_attempts FROM rillflow_tenant_regress_sec_a.projections ORDER BY name;
-- the owner may
SET ROLE regress_sec_admin;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.set_projection_reset_function('admins', NULL); \echo SQLSTATE :SQLSTATE
RESET ROLE;
-- a reset function runs as the projection's owner only: rebuild_projection by
-- another role (a superuser too) is refused, not run with the caller's rights
SET rillflow.tenant = 'regress_sec_a';
UPDATE rillflow_tenant_regress_sec_a.projections SET reset_function = 'public.regress_sec_reset()' WHERE name = 'admins';
SELECT rillflow.rebuild_projection('admins'); \echo SQLSTATE :SQLSTATE
SET ROLE regress_sec_admin;
SELECT rillflow.rebuild_projection('admins'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
-- a projection registered by a superuser is the superuser's and runs
CREATE FUNCTION public.regress_sec_count(e rillflow.event_envelope) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
SELECT rillflow.create_projection('supers', 'public.regress_sec_count(rillflow.event_envelope)');
SELECT owner = current_user::regrole AS superuser_owned FROM rillflow_tenant_regress_sec_a.projections
 WHERE name = 'supers';
SELECT rillflow.run_projection('supers') >= 0 AS runs;
RESET rillflow.tenant;

-- A handler that switches tenants reaches nothing its owner may not: it runs
-- as its owner (an admin of a), whoever runs the projection.
CREATE TABLE public.regress_sec_seen (who name, tenant text, what text);
GRANT INSERT ON public.regress_sec_seen TO regress_sec_admin;
CREATE FUNCTION public.regress_sec_hop(e rillflow.event_envelope) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.regress_sec_seen VALUES (current_user, current_setting('rillflow.tenant'), 'start');
    PERFORM set_config('rillflow.tenant', 'regress_sec_b', true);
    INSERT INTO public.regress_sec_seen
        SELECT current_user, 'regress_sec_b', r.type FROM rillflow.read_all() r;
    PERFORM rillflow.append_event('5ec00000-0000-0000-0000-00000000000b', 'Hopped', '{}');
END $$;
ALTER FUNCTION public.regress_sec_hop(rillflow.event_envelope) OWNER TO regress_sec_admin;
SET ROLE regress_sec_admin;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.create_projection('hopper', 'public.regress_sec_hop(rillflow.event_envelope)');
SELECT rillflow.set_projection_options('hopper', max_attempts => 1);
RESET ROLE;
SET rillflow.tenant = 'regress_sec_a';
SELECT rillflow.run_projection('hopper', 10) >= 0 AS ran;
SELECT events_processed, events_dead_lettered, last_error->>'sqlstate' AS sqlstate
  FROM rillflow.projection_status('hopper');
SELECT who, tenant, what FROM public.regress_sec_seen ORDER BY what;
SET rillflow.tenant = 'regress_sec_b';
SELECT type FROM rillflow.read_all() ORDER BY position;
RESET rillflow.tenant;

----------------------------------------------------------------------------
-- The catalog: tenants.schema_name follows the name rule, and only the
-- extension's owner writes it.
\set VERBOSITY terse
UPDATE rillflow.tenants SET schema_name = 'pg_catalog' WHERE name = 'regress_sec_a'; \echo SQLSTATE :SQLSTATE
UPDATE rillflow.tenants SET schema_name = 'rillflow_tenant_regress_sec_b' WHERE name = 'regress_sec_a'; \echo SQLSTATE :SQLSTATE
INSERT INTO rillflow.tenants (name, schema_name) VALUES ('regress_sec_x', 'public'); \echo SQLSTATE :SQLSTATE
INSERT INTO rillflow.tenants (name, schema_name) VALUES ('Bad', 'rillflow_tenant_Bad'); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SET ROLE regress_sec_admin;
UPDATE rillflow.tenants SET created_at = now() WHERE name = 'regress_sec_a'; \echo SQLSTATE :SQLSTATE
DELETE FROM rillflow.tenants WHERE name = 'regress_sec_b'; \echo SQLSTATE :SQLSTATE
RESET ROLE;

-- A collection table someone else created first is never adopted.
GRANT USAGE, CREATE ON SCHEMA rillflow_tenant_regress_sec_a TO regress_sec_mallory;
SET ROLE regress_sec_mallory;
CREATE TABLE rillflow_tenant_regress_sec_a.doc_planted (
    id uuid PRIMARY KEY, data jsonb NOT NULL, version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz);
GRANT ALL ON rillflow_tenant_regress_sec_a.doc_planted TO PUBLIC;
RESET ROLE;
REVOKE USAGE, CREATE ON SCHEMA rillflow_tenant_regress_sec_a FROM regress_sec_mallory;
SET rillflow.tenant = 'regress_sec_a';
\set VERBOSITY terse
SELECT rillflow.doc_put('planted', gen_random_uuid(), '{"card": "4111"}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection('planted'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_get('planted', gen_random_uuid()); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS nothing_written FROM rillflow_tenant_regress_sec_a.doc_planted;
-- a view in its place is not a collection either
DROP TABLE rillflow_tenant_regress_sec_a.doc_planted;
CREATE VIEW rillflow_tenant_regress_sec_a.doc_viewed AS
    SELECT gen_random_uuid() AS id, '{}'::jsonb AS data, 1::bigint AS version, now() AS created_at,
           now() AS updated_at, NULL::timestamptz AS deleted_at;
SELECT * FROM rillflow.doc_get('viewed', gen_random_uuid()); \echo SQLSTATE :SQLSTATE
DROP VIEW rillflow_tenant_regress_sec_a.doc_viewed;
\set VERBOSITY default
RESET rillflow.tenant;

----------------------------------------------------------------------------
-- revoke_tenant takes the level and those above it away; the levels below stay
SELECT rillflow.revoke_tenant('regress_sec_a', 'regress_sec_writer', 'write');
SET ROLE regress_sec_writer;
SET rillflow.tenant = 'regress_sec_a';
SELECT count(*) > 0 AS still_reads FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event('5ec00000-0000-0000-0000-00000000000a', 'Late', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('orders', gen_random_uuid(), '{}'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT rillflow.revoke_tenant('regress_sec_a', 'regress_sec_reader', 'read');
SET ROLE regress_sec_reader;
\set VERBOSITY sqlstate
SELECT position FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_query('orders', '{}'); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
RESET ROLE;
-- revoking what was never granted changes nothing
SELECT rillflow.revoke_tenant('regress_sec_b', 'regress_sec_reader', 'admin');
RESET rillflow.tenant;

-- the default store is the tenant ''
CREATE ROLE regress_sec_default;
SELECT rillflow.grant_tenant('', 'regress_sec_default', 'write');
SET ROLE regress_sec_default;
SELECT rillflow.append_event('5ec00000-0000-0000-0000-0000000000ff', 'InDefault', '{}') AS version;
SELECT count(*) > 0 AS reads_default FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
SET rillflow.tenant = 'regress_sec_a';
\set VERBOSITY sqlstate
SELECT count(*) FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
RESET rillflow.tenant;
RESET ROLE;
SELECT rillflow.revoke_tenant('', 'regress_sec_default', 'read');
SET ROLE regress_sec_default;
\set VERBOSITY sqlstate
SELECT rillflow.stream_version('5ec00000-0000-0000-0000-0000000000ff'); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
RESET ROLE;
SET client_min_messages = warning;
DROP OWNED BY regress_sec_default;
RESET client_min_messages;
DROP ROLE regress_sec_default;

----------------------------------------------------------------------------
-- Creating tenants is the extension owner's, and whom it grants it to; the
-- store belongs to the extension owner either way.
GRANT EXECUTE ON FUNCTION rillflow.ensure_tenant(text) TO regress_sec_admin;
SET ROLE regress_sec_admin;
SELECT rillflow.ensure_tenant('regress_sec_made'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT pg_get_userbyid(nspowner) = :'extension_owner' AS store_owned_by_extension_owner
  FROM pg_namespace WHERE nspname = 'rillflow_tenant_regress_sec_made';
REVOKE EXECUTE ON FUNCTION rillflow.ensure_tenant(text) FROM regress_sec_admin;

SELECT pg_backend_pid() = :backend AS same_backend_still_answers;

-- clean up
RESET rillflow.tenant;
DROP TABLE public.regress_sec_seen;
DROP FUNCTION public.regress_sec_hop(rillflow.event_envelope), public.regress_sec_count(rillflow.event_envelope),
    public.regress_sec_handler(rillflow.event_envelope), public.regress_sec_evil(rillflow.event_envelope),
    public.regress_sec_reset(), public.regress_sec_private(rillflow.event_envelope);
SET client_min_messages = warning;
SELECT rillflow._drop_store(t) FROM unnest(ARRAY['regress_sec_a', 'regress_sec_b', 'regress_sec_log',
                                                 'regress_sec_made']) t;
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'regress\_sec\_%' LOOP
        EXECUTE format('DROP OWNED BY %I CASCADE', r);
        EXECUTE format('DROP ROLE %I', r);
    END LOOP;
END $$;
RESET client_min_messages;
