-- Stores: the default store, tenants, and the setting that picks one.
\set SHOW_CONTEXT never
SELECT rillflow.current_store();
SELECT rillflow.ensure_tenant('regress_acme') AS created, rillflow.ensure_tenant('regress_acme') AS created_again;
SELECT rillflow.ensure_tenant('regress_globex');
SELECT name, schema_name FROM rillflow.list_tenants() WHERE name LIKE 'regress_%' ORDER BY name;
-- a tenant's store has the default store's tables (collection tables aside)
SELECT (SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables
         WHERE schemaname = 'rillflow_tenant_regress_acme' AND tablename NOT LIKE 'doc\_%')
     = (SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables
         WHERE schemaname = 'rillflow_default' AND tablename NOT LIKE 'doc\_%') AS same_tables,
       (SELECT count(*) FROM pg_tables WHERE schemaname = 'rillflow_tenant_regress_acme'
           AND tablename IN ('streams', 'events', 'log_segments', 'log_state', 'idempotency_keys',
                             'stream_aliases')) AS event_tables;

-- each store has its own streams, versions and log
SET rillflow.tenant = 'regress_acme';
SELECT rillflow.current_store();
SELECT rillflow.append_event('71000000-0000-0000-0000-000000000001', 'InAcme', '{}', expected_version => 0);
SET rillflow.tenant = 'regress_globex';
SELECT rillflow.stream_version('71000000-0000-0000-0000-000000000001') IS NULL AS not_in_globex;
SELECT rillflow.append_event('71000000-0000-0000-0000-000000000001', 'InGlobex', '{}', expected_version => 0);
SELECT rillflow.append_event('71000000-0000-0000-0000-000000000001', 'InGlobex', '{}', expected_version => 1);
SELECT position, version, type FROM rillflow.read_all();
SET rillflow.tenant = 'regress_acme';
SELECT position, version, type FROM rillflow.read_all();
SELECT rillflow.resolve_stream_alias('shared-name') AS acme_alias \gset
SET rillflow.tenant = 'regress_globex';
SELECT rillflow.resolve_stream_alias('shared-name') <> :'acme_alias' AS aliases_per_store;
RESET rillflow.tenant;
SELECT rillflow.stream_version('71000000-0000-0000-0000-000000000001') IS NULL AS not_in_default;

-- SET LOCAL switches a store for one transaction
BEGIN;
SET LOCAL rillflow.tenant = 'regress_acme';
SELECT rillflow.stream_version('71000000-0000-0000-0000-000000000001') AS acme_version;
COMMIT;
SELECT rillflow.current_store();

-- an unknown tenant is an error, never the default store
SET rillflow.tenant = 'regress_nobody'; \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event('71000000-0000-0000-0000-000000000002', 'Lost', '{}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_all(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.current_store(); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resolve_stream_alias('x'); \echo SQLSTATE :SQLSTATE
RESET rillflow.tenant; \echo SQLSTATE :SQLSTATE

-- malformed names are refused by ensure_tenant and by the setting
SELECT rillflow.ensure_tenant(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.ensure_tenant(''); \echo SQLSTATE :SQLSTATE
SELECT rillflow.ensure_tenant('Acme'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.ensure_tenant('1acme'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.ensure_tenant('acme-corp'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.ensure_tenant($$x"; DROP SCHEMA rillflow CASCADE; --$$); \echo SQLSTATE :SQLSTATE
SELECT rillflow.ensure_tenant(repeat('a', 41)); \echo SQLSTATE :SQLSTATE
SET rillflow.tenant = 'Bad Name'; \echo SQLSTATE :SQLSTATE
SET rillflow.tenant = $$x'; DROP SCHEMA rillflow; --$$; \echo SQLSTATE :SQLSTATE
SELECT rillflow.ensure_tenant(repeat('a', 40)) AS longest_name_ok;
SELECT count(*) AS no_stray_schemas FROM pg_namespace WHERE nspname LIKE 'rillflow_tenant_%' AND nspname NOT IN (SELECT schema_name FROM rillflow.tenants);

-- a tenant whose schema was dropped under it says so
SET rillflow.tenant = 'regress_globex';
SELECT rillflow.current_store();
RESET rillflow.tenant;
SET client_min_messages = warning;
DROP SCHEMA rillflow_tenant_regress_globex CASCADE;
RESET client_min_messages;
SET rillflow.tenant = 'regress_globex';
SELECT rillflow.stream_version('71000000-0000-0000-0000-000000000001'); \echo SQLSTATE :SQLSTATE
RESET rillflow.tenant;
SELECT rillflow._drop_store('regress_globex');   -- its schema is gone already: the row goes

-- _drop_store (the tests' teardown) drops a tenant's schema and row; internal
SELECT rillflow.ensure_tenant('regress_dropme');
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_dropme');
RESET client_min_messages;
SELECT (SELECT count(*) FROM rillflow.tenants WHERE name = 'regress_dropme') AS tenant_rows,
       (SELECT count(*) FROM pg_namespace WHERE nspname = 'rillflow_tenant_regress_dropme') AS schemas;
SELECT rillflow._drop_store('regress_dropme'); \echo SQLSTATE :SQLSTATE
SELECT rillflow._drop_store(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow._drop_store('Bad Name'); \echo SQLSTATE :SQLSTATE
SELECT has_function_privilege('public', 'rillflow._drop_store(text)', 'EXECUTE') AS public_may_drop;

-- stores are created by ensure_tenant only while their names are free
CREATE SCHEMA rillflow_tenant_regress_squatter;
SELECT rillflow.ensure_tenant('regress_squatter');
SELECT count(*) AS not_registered FROM rillflow.tenants WHERE name = 'regress_squatter';
DROP SCHEMA rillflow_tenant_regress_squatter;
