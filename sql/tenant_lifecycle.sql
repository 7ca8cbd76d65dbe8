-- The tenant lifecycle: tenant_status, list_tenants, drop_tenant, the setting
-- rillflow.tenant_required, and taking back a restored store
-- (_register_restored_store). Each rule is tried as the role it must stop.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_tl_reader;      -- read on regress_tl_full
CREATE ROLE regress_tl_admin;       -- admin on regress_tl_full, and EXECUTE on drop_tenant
CREATE ROLE regress_tl_outsider;    -- no grant at all
RESET client_min_messages;
CREATE FUNCTION regress_tl_handler(e rillflow.event_envelope) RETURNS void LANGUAGE sql AS 'SELECT';

-- tenant_status: an empty tenant, one holding data, one that does not exist, the default store
SELECT rillflow.ensure_tenant('regress_tl_empty');
SELECT rillflow.ensure_tenant('regress_tl_full');
SET rillflow.tenant = 'regress_tl_full';
SELECT rillflow.append_events('7a000000-0000-0000-0000-000000000001',
                              '[{"type": "A", "body": {}}, {"type": "B", "body": {}}]');
SELECT rillflow.append_event('7a000000-0000-0000-0000-000000000002', 'A', '{}');
SELECT rillflow.doc_put('docs', '7a000000-0000-0000-0000-0000000000d1', '{"n": 1}');
SELECT rillflow.create_collection('orders');
SELECT rillflow.doc_put('orders', '7a000000-0000-0000-0000-0000000000d2', '{"n": 2}');
SELECT rillflow.doc_put('orders', '7a000000-0000-0000-0000-0000000000d3', '{"n": 3}');
SELECT rillflow.doc_soft_delete('orders', '7a000000-0000-0000-0000-0000000000d3');
SELECT rillflow.create_projection('p1', 'regress_tl_handler(rillflow.event_envelope)');
RESET rillflow.tenant;
SELECT "exists", schema_name, created_at IS NOT NULL AS has_created_at,
       schema_version = rillflow._store_steps_version() AS current_version, drift,
       streams, events, documents, projections, size_bytes > 0 AS has_size
  FROM rillflow.tenant_status('regress_tl_full');
SELECT "exists", schema_name, streams, events, documents, projections, size_bytes > 0 AS has_size
  FROM rillflow.tenant_status('regress_tl_empty');
SELECT * FROM rillflow.tenant_status('regress_tl_nobody');
SELECT "exists", schema_name, created_at FROM rillflow.tenant_status('');
SELECT * FROM rillflow.tenant_status(NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.tenant_status('Bad Name'); \echo SQLSTATE :SQLSTATE
-- list_tenants: the same columns, one row per tenant
SELECT name, schema_name, schema_version = rillflow._store_steps_version() AS current_version, drift,
       streams, events, documents, projections, size_bytes > 0 AS has_size
  FROM rillflow.list_tenants() WHERE name LIKE 'regress_tl_%';
-- counts are NULL for a role that may not read the store; its size is anyone's to see
SELECT rillflow.grant_tenant('regress_tl_full', 'regress_tl_reader', 'read');
SET ROLE regress_tl_outsider;
SELECT "exists", streams, events, documents, projections, size_bytes > 0 AS has_size
  FROM rillflow.tenant_status('regress_tl_full');
SELECT name, streams, events FROM rillflow.list_tenants() WHERE name = 'regress_tl_full';
SET ROLE regress_tl_reader;
SELECT streams, events, documents, projections FROM rillflow.tenant_status('regress_tl_full');
RESET ROLE;

-- drop_tenant: only with force while the store holds events, documents or projections (RF007)
SELECT rillflow.drop_tenant('regress_tl_full'); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS still_there FROM rillflow.tenants WHERE name = 'regress_tl_full';
SELECT rillflow.ensure_tenant('regress_tl_docs');
SET rillflow.tenant = 'regress_tl_docs';
SELECT rillflow.doc_put('docs', '7a000000-0000-0000-0000-0000000000d4', '{}');
SELECT rillflow.doc_soft_delete('docs', '7a000000-0000-0000-0000-0000000000d4');
RESET rillflow.tenant;
SELECT rillflow.drop_tenant('regress_tl_docs'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.ensure_tenant('regress_tl_proj');
SET rillflow.tenant = 'regress_tl_proj';
SELECT rillflow.create_projection('p1', 'regress_tl_handler(rillflow.event_envelope)');
RESET rillflow.tenant;
SELECT rillflow.drop_tenant('regress_tl_proj'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_tenant('regress_tl_proj', force => NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_tenant('regress_tl_proj', force => true);
SELECT rillflow.drop_tenant('regress_tl_docs', true);
-- an empty store goes without force
SELECT rillflow.drop_tenant('regress_tl_empty');
SELECT rillflow.drop_tenant('regress_tl_empty'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_tenant(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_tenant('Bad Name'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_tenant(''); \echo SQLSTATE :SQLSTATE

-- who may drop: not PUBLIC, and not a tenant's admin even with EXECUTE (42501)
SELECT has_function_privilege('public', 'rillflow.drop_tenant(text, boolean)', 'EXECUTE') AS public_may_drop;
SET ROLE regress_tl_outsider;
SELECT rillflow.drop_tenant('regress_tl_full', true); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT rillflow.grant_tenant('regress_tl_full', 'regress_tl_admin', 'admin');
GRANT EXECUTE ON FUNCTION rillflow.drop_tenant(text, boolean) TO regress_tl_admin;
SET ROLE regress_tl_admin;
SELECT rillflow.drop_tenant('regress_tl_full', true); \echo SQLSTATE :SQLSTATE
SELECT rillflow._drop_store('regress_tl_full'); \echo SQLSTATE :SQLSTATE
SELECT rillflow._lock_store('rillflow_tenant_regress_tl_full'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT count(*) AS still_there FROM rillflow.tenants WHERE name = 'regress_tl_full';

-- never drops anything outside the store (2BP01), even forced
CREATE VIEW regress_tl_view AS SELECT type FROM rillflow_tenant_regress_tl_full.events;
SELECT rillflow.drop_tenant('regress_tl_full', true); \echo SQLSTATE :SQLSTATE
DROP VIEW regress_tl_view;

-- forced: nothing of the tenant is left, grants and default privileges included
SELECT 'rillflow_tenant_regress_tl_full'::regnamespace::oid AS full_nsp \gset
SELECT count(*) > 0 AS had_default_acl FROM pg_default_acl WHERE defaclnamespace = :full_nsp;
SELECT rillflow.drop_tenant('regress_tl_full', force => true);
SELECT (SELECT count(*) FROM rillflow.tenants WHERE name = 'regress_tl_full') AS tenant_rows,
       (SELECT count(*) FROM rillflow.stores WHERE tenant = 'regress_tl_full') AS store_rows,
       (SELECT count(*) FROM pg_namespace WHERE nspname = 'rillflow_tenant_regress_tl_full') AS schemas,
       (SELECT count(*) FROM pg_class WHERE relnamespace = :full_nsp) AS relations,
       (SELECT count(*) FROM pg_default_acl WHERE defaclnamespace = :full_nsp) AS default_acls,
       (SELECT count(*) FROM pg_shdepend d JOIN pg_class c ON c.oid = d.objid
         WHERE d.refobjid = 'regress_tl_reader'::regrole) AS grants_left;
SELECT "exists" FROM rillflow.tenant_status('regress_tl_full');
SET rillflow.tenant = 'regress_tl_full';
SELECT rillflow.stream_version('7a000000-0000-0000-0000-000000000001'); \echo SQLSTATE :SQLSTATE
RESET rillflow.tenant;
-- and the name can be used again, for a new and empty store
SELECT rillflow.ensure_tenant('regress_tl_full');
SELECT streams, events, documents, projections FROM rillflow.tenant_status('regress_tl_full');
SELECT rillflow.drop_tenant('regress_tl_full');

-- a tenant whose schema was dropped by hand: its row goes
SELECT rillflow.ensure_tenant('regress_tl_orphan');
SET client_min_messages = warning;
DROP SCHEMA rillflow_tenant_regress_tl_orphan CASCADE;
RESET client_min_messages;
SELECT "exists", streams, size_bytes FROM rillflow.tenant_status('regress_tl_orphan');
SELECT rillflow.drop_tenant('regress_tl_orphan');
SELECT "exists" FROM rillflow.tenant_status('regress_tl_orphan');

-- rillflow.tenant_required: no call falls back to the default store (RF005)
SHOW rillflow.tenant_required;
SET rillflow.tenant_required = on;
SELECT rillflow.append_event('7a000000-0000-0000-0000-000000000009', 'A', '{}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.stream_version('7a000000-0000-0000-0000-000000000009'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.current_store(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.head_position(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resolve_stream_alias('x'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', '7a000000-0000-0000-0000-0000000000d9', '{}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_get('docs', '7a000000-0000-0000-0000-0000000000d9'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('docs', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection('c'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.list_projections(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_projection('p1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.projection_acquire('p1', 'node', '1 minute'); \echo SQLSTATE :SQLSTATE
-- with a tenant it works; the other tenant-free functions too
SELECT rillflow.ensure_tenant('regress_tl_req');
SET rillflow.tenant = 'regress_tl_req';
SELECT rillflow.current_store();
SELECT rillflow.append_event('7a000000-0000-0000-0000-000000000009', 'A', '{}');
RESET rillflow.tenant;
SELECT events FROM rillflow.tenant_status('regress_tl_req');
-- SET LOCAL turns it off for one transaction, on purpose
BEGIN;
SET LOCAL rillflow.tenant_required = off;
SELECT rillflow.current_store();
COMMIT;
SELECT rillflow.current_store(); \echo SQLSTATE :SQLSTATE
-- every role may set it (USERSET), and it binds that role too
SET ROLE regress_tl_outsider;
SET rillflow.tenant_required = on;
SELECT rillflow.current_store(); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SET rillflow.tenant_required = 'maybe'; \echo SQLSTATE :SQLSTATE
RESET rillflow.tenant_required;
SELECT rillflow.current_store();
SELECT rillflow.drop_tenant('regress_tl_req', true);

-- _register_restored_store: the only way a schema rillflow did not create
-- becomes a store, so it checks everything, and is not PUBLIC's
SELECT has_function_privilege('public', 'rillflow._register_restored_store(text, timestamptz, integer)', 'EXECUTE')
    AS public_may_register;
SELECT rillflow._store_steps_version() AS steps \gset
SET ROLE regress_tl_outsider;
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
-- a store detached from the catalog (as pg_restore of an archive leaves one) is taken back, data intact
SELECT rillflow.ensure_tenant('regress_tl_back');
SET rillflow.tenant = 'regress_tl_back';
SELECT rillflow.append_event('7a000000-0000-0000-0000-000000000010', 'A', '{}');
SELECT rillflow.create_collection('things');
SELECT rillflow.add_duplicated_field('things', 'sku', 'sku', 'text');
SELECT rillflow.doc_put('things', '7a000000-0000-0000-0000-0000000000da', '{"sku": "x"}');
RESET rillflow.tenant;
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
-- detach it: no tenant row, no stores row
DELETE FROM rillflow.tenants WHERE name = 'regress_tl_back';
DELETE FROM rillflow.stores WHERE tenant = 'regress_tl_back';
\set VERBOSITY sqlstate
SELECT rillflow._register_restored_store('regress_tl_back', '2020-01-01 00:00:00+00', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow._register_restored_store('regress_tl_back', '2020-01-01 00:00:00+00', :steps + 1); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT rillflow._register_restored_store('regress_tl_back', '2020-01-01 00:00:00+00', :steps);
SELECT s.tenant, s.schema_version = :steps AS current_version FROM rillflow.stores s WHERE s.tenant = 'regress_tl_back';
SELECT drift FROM rillflow.tenant_status('regress_tl_back');
SELECT "exists", created_at, streams, events, documents FROM rillflow.tenant_status('regress_tl_back');
SET rillflow.tenant = 'regress_tl_back';
SELECT rillflow.append_event('7a000000-0000-0000-0000-000000000010', 'A', '{}', expected_version => 1);
RESET rillflow.tenant;
-- a schema that is not a store's shape, or holds something of its own, is refused (42P06)
DELETE FROM rillflow.tenants WHERE name = 'regress_tl_back';
DELETE FROM rillflow.stores WHERE tenant = 'regress_tl_back';
CREATE FUNCTION rillflow_tenant_regress_tl_back.planted() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
DROP FUNCTION rillflow_tenant_regress_tl_back.planted();
CREATE FUNCTION public.regress_tl_planted() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER planted BEFORE INSERT ON rillflow_tenant_regress_tl_back.events
    FOR EACH ROW EXECUTE FUNCTION public.regress_tl_planted();
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
DROP TRIGGER planted ON rillflow_tenant_regress_tl_back.events;
DROP FUNCTION public.regress_tl_planted();
ALTER TABLE rillflow_tenant_regress_tl_back.streams OWNER TO regress_tl_outsider;
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
ALTER TABLE rillflow_tenant_regress_tl_back.streams OWNER TO CURRENT_USER;
ALTER TABLE rillflow_tenant_regress_tl_back.events ADD COLUMN extra int;
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
ALTER TABLE rillflow_tenant_regress_tl_back.events DROP COLUMN extra;
CREATE TABLE rillflow_tenant_regress_tl_back.doc_stray (id uuid);
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
DROP TABLE rillflow_tenant_regress_tl_back.doc_stray;
ALTER TABLE rillflow_tenant_regress_tl_back.doc_things ADD COLUMN stray int;
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
ALTER TABLE rillflow_tenant_regress_tl_back.doc_things DROP COLUMN stray;
DROP INDEX rillflow_tenant_regress_tl_back.events_tx_idx;
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS not_registered FROM rillflow.stores WHERE tenant = 'regress_tl_back';
DROP TABLE rillflow_tenant_regress_tl_back.log_segments;
SELECT rillflow._register_restored_store('regress_tl_back', NULL, :steps); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS not_registered FROM rillflow.tenants WHERE name = 'regress_tl_back';
SET client_min_messages = warning;
DROP SCHEMA rillflow_tenant_regress_tl_back CASCADE;
RESET client_min_messages;

SELECT count(*) AS no_stray_schemas FROM pg_namespace
 WHERE nspname LIKE 'rillflow_tenant_regress_tl%';
DROP FUNCTION regress_tl_handler(rillflow.event_envelope);
REVOKE EXECUTE ON FUNCTION rillflow.drop_tenant(text, boolean) FROM regress_tl_admin;
DROP ROLE regress_tl_reader;
DROP ROLE regress_tl_admin;
DROP ROLE regress_tl_outsider;
