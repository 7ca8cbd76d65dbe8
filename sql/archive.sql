-- Hot and cold events (src/extension/archive/): archive_stream,
-- archive_streams, reactivate_stream, include_archived and its setting,
-- rillflow.archive_redirect, the metrics, rights and every error, on both
-- backends (the same cases, sql/archive_cases.inc, in a tenant each), then
-- a switch of backend with data in place, both ways.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_archive_reader;
CREATE ROLE regress_archive_writer;
DROP SCHEMA IF EXISTS regress_archive CASCADE;
RESET client_min_messages;
CREATE SCHEMA regress_archive;
CREATE TABLE regress_archive.seen_rows (store name, position bigint, type text);
CREATE FUNCTION regress_archive.seen(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO regress_archive.seen_rows VALUES (rillflow.current_store(), e.position, e.type) $$;
CREATE FUNCTION regress_archive.count_fold(state jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT jsonb_build_object('events', (state->>'events')::int + 1) $$;

-- the default store stays on dual_table: pg_dump leaves its tables'
-- definitions to CREATE EXTENSION
SELECT rillflow.set_archive_backend('partitioned'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_archive_backend('dual_table') AS changed;

-- dual_table: the default of a new store
SELECT rillflow.ensure_tenant('regress_arch_dual');
SELECT rillflow.grant_tenant('regress_arch_dual', 'regress_archive_reader', 'read');
SELECT rillflow.grant_tenant('regress_arch_dual', 'regress_archive_writer', 'write');
SET rillflow.tenant = 'regress_arch_dual';
\set tenant regress_arch_dual
SELECT rillflow.create_aggregate('arch_count', 'regress_archive.count_fold(jsonb,rillflow.event_envelope)', '{"events": 0}') AS created;
SELECT rillflow.set_archive_backend('dual_table') AS changed;
\i sql/archive_cases.inc

-- partitioned
SELECT rillflow.ensure_tenant('regress_arch_part');
SELECT rillflow.grant_tenant('regress_arch_part', 'regress_archive_reader', 'read');
SELECT rillflow.grant_tenant('regress_arch_part', 'regress_archive_writer', 'write');
SET rillflow.tenant = 'regress_arch_part';
\set tenant regress_arch_part
SELECT rillflow.create_aggregate('arch_count', 'regress_archive.count_fold(jsonb,rillflow.event_envelope)', '{"events": 0}') AS created;
SELECT rillflow.set_archive_backend('partitioned') AS changed;
SELECT rillflow.set_archive_backend('partitioned') AS changed_again;
SELECT c.relname, c.relkind, c.relispartition FROM pg_class c
 WHERE c.relnamespace = 'rillflow_tenant_regress_arch_part'::regnamespace
   AND c.relname IN ('events', 'events_hot', 'events_archive') ORDER BY 1;
\i sql/archive_cases.inc

-- a switch with events in place, hot and archived, both ways: every read
-- the same before and after, the store healthy, appends and moves go on
SET rillflow.tenant = 'regress_arch_dual';
SELECT rillflow.reactivate_stream('a1000000-0000-0000-0000-000000000002') AS was_archived;
CREATE TEMP TABLE before_switch AS
    SELECT position, stream_id, version, type, body FROM rillflow.read_all(include_archived => true);
SELECT count(*) AS hot_before FROM rillflow.read_all();
SELECT rillflow.set_archive_backend('partitioned') AS changed;
SELECT rillflow.archive_backend();
SELECT count(*) AS differences FROM (
    (SELECT position, stream_id, version, type, body FROM rillflow.read_all(include_archived => true)
     EXCEPT SELECT * FROM before_switch)
    UNION ALL
    (SELECT * FROM before_switch
     EXCEPT SELECT position, stream_id, version, type, body FROM rillflow.read_all(include_archived => true))) d;
SELECT count(*) AS hot_after FROM rillflow.read_all();
SELECT store, status FROM rillflow.schema_health('regress_arch_dual');
-- the parent keeps the hot table's rights: the writer appends, the reader reads
SET ROLE regress_archive_writer;
SELECT rillflow.append_event('a1000000-0000-0000-0000-000000000002', 'Reopened', '{}') AS appended;
SET ROLE regress_archive_reader;
SELECT count(*) AS reader_reads FROM rillflow.read_all(include_archived => true);
RESET ROLE;
SELECT rillflow.run_sequencer() >= 0 AS sequenced;
SELECT rillflow.archive_streams('0 seconds') AS archived;
SELECT rillflow.set_archive_backend('dual_table') AS changed_back;
SELECT count(*) AS all_events, count(*) FILTER (WHERE position IS NOT NULL) AS positioned
  FROM rillflow.read_all(include_archived => true);
SELECT count(*) AS hot_events FROM rillflow.read_all();
SELECT store, status FROM rillflow.schema_health('regress_arch_dual');
SELECT rillflow.reactivate_stream('a1000000-0000-0000-0000-000000000001') AS reactivated;
SELECT version, type FROM rillflow.read_stream('a1000000-0000-0000-0000-000000000001');

RESET rillflow.tenant;
SELECT rillflow.drop_tenant('regress_arch_dual', force => true);
SELECT rillflow.drop_tenant('regress_arch_part', force => true);
DROP SCHEMA regress_archive CASCADE;
DROP ROLE regress_archive_reader;
DROP ROLE regress_archive_writer;
