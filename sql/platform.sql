-- Running where users run PostgreSQL (docs/managed-postgresql.md,
-- docs/scaling.md, docs/operations.md): {} as a filter, reads in READ ONLY
-- transactions (as on a hot standby) and writes refused there with 25006,
-- function references that pg_upgrade accepts, and run_maintenance. The
-- whole suite also runs on a server without shared_preload_libraries
-- (tests/shell/no_preload.sh), so nothing here depends on the mode.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_platform');
SET rillflow.tenant = 'regress_platform';

-- {} as the filter means every document, in doc_query and doc_count
SELECT count(rillflow.doc_put('things', ('00000000-0000-0000-0000-00000000000' || i)::uuid, jsonb_build_object('n', i)))
    AS put FROM generate_series(1, 3) i;
SELECT count(*) AS all_three FROM rillflow.doc_query('things', '{"filter": {}}');
SELECT count(*) AS all_three_limited FROM rillflow.doc_query('things', '{"filter": {}, "limit": 2}');
SELECT rillflow.doc_count('things', '{}') AS all_three;
SELECT rillflow.doc_soft_delete('things', '00000000-0000-0000-0000-000000000001') AS deleted_version;
SELECT rillflow.doc_count('things', '{}') AS two_live, rillflow.doc_count('things', '{}', true) AS three_with_deleted;

-- reads in a READ ONLY transaction: the default collection docs, registered
-- but without its table in this new store, reads as empty (the primary's
-- answer after it creates the table); a collection that does not exist is
-- RF004 as in a read-write transaction
SELECT to_regclass('rillflow_tenant_regress_platform.doc_docs') IS NULL AS docs_has_no_table_yet;
SELECT * FROM rillflow.doc_get('nosuch', gen_random_uuid()); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event('00000000-0000-0000-0000-0000000000aa', 'Opened', '{"n": 1}') AS version;
SELECT rillflow.resolve_stream_alias('platform-alias') IS NOT NULL AS alias_made;
SELECT rillflow.compile_query('platform_q', 'things', '{"filter": {"gte": ["n", "$min"]}}');
BEGIN READ ONLY;
SELECT count(*) AS none FROM rillflow.doc_get('docs', gen_random_uuid());
SELECT count(*) AS none FROM rillflow.doc_query('docs', '{}');
SELECT rillflow.doc_count('docs', '{"eq": ["a", 1]}') AS none;
SELECT count(*) AS none FROM rillflow.doc_get_many('docs', ARRAY[gen_random_uuid()]);
SELECT rillflow.doc_query_sql('docs', '{}') LIKE '%_empty_collection%' AS reads_the_stand_in;
SELECT count(*) AS one_advice FROM rillflow.index_advisor('docs', 'a');
SELECT count(*) AS none FROM rillflow.list_duplicated_fields('docs');
SELECT data FROM rillflow.doc_get('things', '00000000-0000-0000-0000-000000000002');
SELECT count(*) AS two FROM rillflow.doc_query('things', '{"filter": {"gte": ["n", 2]}}');
SELECT count(*) AS two FROM rillflow.run_query('platform_q', '{"min": 2}');
SELECT name FROM rillflow.list_collections() ORDER BY 1;
SELECT count(*) AS one FROM rillflow.list_queries();
SELECT type, body FROM rillflow.read_stream('00000000-0000-0000-0000-0000000000aa');
SELECT count(*) >= 1 AS has_events FROM rillflow.read_all();
SELECT rillflow.head_position() >= 1 AS has_head;
SELECT rillflow.stream_version('00000000-0000-0000-0000-0000000000aa') AS version;
SELECT rillflow.resolve_stream_alias('platform-alias') IS NOT NULL AS existing_alias;
SELECT count(*) AS none FROM rillflow.list_projections();
SELECT count(*) AS tenants FROM rillflow.list_tenants() WHERE name = 'regress_platform';
SELECT * FROM rillflow.doc_get('nosuch', gen_random_uuid());
\echo SQLSTATE :SQLSTATE
ROLLBACK;
-- every write fails with PostgreSQL's own 25006
\set VERBOSITY terse
BEGIN READ ONLY;
SAVEPOINT s;
SELECT rillflow.append_event(gen_random_uuid(), 'Opened', '{}');
\echo SQLSTATE :SQLSTATE
ROLLBACK TO s;
SELECT rillflow.doc_put('docs', gen_random_uuid(), '{}');
\echo SQLSTATE :SQLSTATE
ROLLBACK TO s;
SELECT rillflow.doc_put('things', gen_random_uuid(), '{}');
\echo SQLSTATE :SQLSTATE
ROLLBACK TO s;
SELECT rillflow.doc_delete('things', '00000000-0000-0000-0000-000000000002');
\echo SQLSTATE :SQLSTATE
ROLLBACK TO s;
SELECT rillflow.resolve_stream_alias('platform-new-alias');
\echo SQLSTATE :SQLSTATE
ROLLBACK TO s;
SELECT rillflow.ensure_tenant('regress_platform_ro');
\echo SQLSTATE :SQLSTATE
ROLLBACK TO s;
SELECT rillflow.create_collection('ro');
\echo SQLSTATE :SQLSTATE
ROLLBACK TO s;
SELECT * FROM rillflow.run_maintenance();
\echo SQLSTATE :SQLSTATE
ROLLBACK;
\set VERBOSITY default
SELECT to_regclass('rillflow_tenant_regress_platform.doc_docs') IS NULL AS still_no_table;
-- nobody writes the stand-in
\set VERBOSITY terse
INSERT INTO rillflow._empty_collection (id, data, version) VALUES (gen_random_uuid(), '{}', 1); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default

-- function references: no column of a type pg_upgrade refuses, in the
-- catalog or any store
SELECT n.nspname, c.relname, a.attname, a.atttypid::regtype
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE (n.nspname = 'rillflow' OR n.nspname LIKE 'rillflow\_%') AND a.attnum > 0 AND NOT a.attisdropped
   AND c.relkind IN ('r', 'p', 'm')
   AND a.atttypid IN ('regproc'::regtype, 'regprocedure'::regtype, 'regoper'::regtype, 'regoperator'::regtype,
                      'regconfig'::regtype, 'regdictionary'::regtype, 'regnamespace'::regtype,
                      'regcollation'::regtype);
CREATE SCHEMA regress_platform_fns;
CREATE TABLE regress_platform_seen (position bigint, who text);
CREATE FUNCTION regress_platform_fns.h(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO public.regress_platform_seen VALUES (e.position, 'first') $$;
CREATE FUNCTION regress_platform_fns.reset() RETURNS void LANGUAGE sql AS $$ SELECT $$;
SET search_path = regress_platform_fns, public;
SELECT rillflow.create_projection('platform_p', 'h(rillflow.event_envelope)');
SELECT rillflow.set_projection_reset_function('platform_p', 'reset()');
RESET search_path;
-- stored as the schema-qualified signature, shown as the function
SELECT handler, reset_function, pg_typeof(handler) FROM rillflow_tenant_regress_platform.projections;
SELECT handler, reset_function FROM rillflow.projection_status('platform_p');
SELECT handler FROM rillflow.list_projections();
SELECT rillflow.run_projection('platform_p') AS applied;
-- the same signature made again is another function: the cached reference
-- follows it
DROP FUNCTION regress_platform_fns.h(rillflow.event_envelope);
CREATE FUNCTION regress_platform_fns.h(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO public.regress_platform_seen VALUES (e.position, 'second') $$;
SELECT rillflow.append_event('00000000-0000-0000-0000-0000000000aa', 'Closed', '{}', 1) AS version;
SELECT rillflow.run_projection('platform_p') AS applied;
SELECT who, count(*) FROM regress_platform_seen GROUP BY who ORDER BY who;
-- a renamed handler no longer resolves: the projection fails, saying so
ALTER FUNCTION regress_platform_fns.h(rillflow.event_envelope) RENAME TO h2;
SELECT rillflow.append_event('00000000-0000-0000-0000-0000000000aa', 'Reopened', '{}', 2) AS version;
SELECT rillflow.run_projection('platform_p') AS applied;
SELECT status, handler, last_error->>'sqlstate' AS sqlstate, last_error->>'message' AS message
  FROM rillflow.projection_status('platform_p');
ALTER FUNCTION regress_platform_fns.h2(rillflow.event_envelope) RENAME TO h;
SELECT rillflow.resume_projection('platform_p');
-- an upcaster's function and an aggregate's fold are kept the same way
CREATE FUNCTION regress_platform_fns.up(b jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT b || '{"up": 1}' $$;
CREATE FUNCTION regress_platform_fns.f(s jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1) $$;
SET search_path = regress_platform_fns, public;
SELECT rillflow.register_upcaster('PlatformUp', 1, 2, 'up(jsonb)');
SELECT rillflow.create_aggregate('platform_agg', 'f(jsonb, rillflow.event_envelope)');
RESET search_path;
SELECT fn, pg_typeof(fn) FROM rillflow_tenant_regress_platform.upcasters;
SELECT fold, pg_typeof(fold) FROM rillflow_tenant_regress_platform.aggregates;
SELECT fn, pg_typeof(fn) FROM rillflow.list_upcasters();
SELECT fold, pg_typeof(fold) FROM rillflow.list_aggregates();
-- registered again as given: the same, not a conflict
SELECT rillflow.register_upcaster('PlatformUp', 1, 2, 'regress_platform_fns.up(jsonb)');
SELECT rillflow.create_aggregate('platform_agg', 'regress_platform_fns.f(jsonb, rillflow.event_envelope)');
SELECT rillflow.append_event('00000000-0000-0000-0000-0000000000bb', 'PlatformUp', '{}', 0) AS version;
SELECT body FROM rillflow.read_stream('00000000-0000-0000-0000-0000000000bb');
SELECT state, version FROM rillflow.aggregate_load('platform_agg', '00000000-0000-0000-0000-0000000000bb');
-- renamed away: reads that need them fail with 42883, saying so; renamed
-- back: they work again
ALTER FUNCTION regress_platform_fns.up(jsonb) RENAME TO up2;
ALTER FUNCTION regress_platform_fns.f(jsonb, rillflow.event_envelope) RENAME TO f2;
SELECT body FROM rillflow.read_stream('00000000-0000-0000-0000-0000000000bb'); \echo SQLSTATE :SQLSTATE
SELECT state FROM rillflow.aggregate_load('platform_agg', '00000000-0000-0000-0000-0000000000bb'); \echo SQLSTATE :SQLSTATE
ALTER FUNCTION regress_platform_fns.up2(jsonb) RENAME TO up;
ALTER FUNCTION regress_platform_fns.f2(jsonb, rillflow.event_envelope) RENAME TO f;
SELECT body FROM rillflow.read_stream('00000000-0000-0000-0000-0000000000bb');
SELECT state, version FROM rillflow.aggregate_load('platform_agg', '00000000-0000-0000-0000-0000000000bb');
SELECT rillflow.drop_upcaster('PlatformUp', 1);
SELECT rillflow.drop_aggregate('platform_agg');

-- run_maintenance: every store's projections, from one call
RESET rillflow.tenant;
CREATE TABLE regress_platform_default_seen (position bigint);
-- the handler names its table without a schema: it sees the caller's
-- search_path, as under the worker (run_maintenance pins none)
CREATE FUNCTION regress_platform_fns.hd(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO regress_platform_default_seen VALUES (e.position) $$;
SELECT rillflow.create_projection('platform_default', 'regress_platform_fns.hd(rillflow.event_envelope)',
                                  start_from => rillflow.head_position());
SELECT rillflow.append_event(gen_random_uuid(), 'Maintained', '{}') FROM generate_series(1, 3);
SET rillflow.tenant = 'regress_platform';
SELECT rillflow.append_event('00000000-0000-0000-0000-0000000000aa', 'Maintained', '{}', 3) AS version;
SELECT tenant, projections, events_applied, error FROM rillflow.run_maintenance()
 WHERE tenant IS NULL OR tenant = 'regress_platform';
SHOW rillflow.tenant;
SELECT lag FROM rillflow.projection_status('platform_p');
RESET rillflow.tenant;
SELECT lag FROM rillflow.projection_status('platform_default');
SELECT count(*) AS three FROM regress_platform_default_seen;
SELECT tenant, projections, events_applied, error FROM rillflow.run_maintenance()
 WHERE tenant IS NULL OR tenant = 'regress_platform';
SELECT * FROM rillflow.run_maintenance(0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_projection('platform_default');
SET rillflow.tenant = 'regress_platform';
SELECT rillflow.drop_projection('platform_p');
RESET rillflow.tenant;
DROP TABLE regress_platform_seen, regress_platform_default_seen;
DROP SCHEMA regress_platform_fns CASCADE;
