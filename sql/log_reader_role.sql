-- Readers of the log need only SELECT (issue 8, item 6). The log tables
-- (positions, log_state) are written only by the sequencer, as the owner of
-- the store's schema: a role with USAGE on the store and SELECT on its tables
-- reads the log, and reads its own writes, without any right to write the
-- log or to hold the sequencer still. Each rule is tried as the reader.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_rf_log_owner;
DROP ROLE IF EXISTS regress_rf_log_reader;
RESET client_min_messages;
CREATE ROLE regress_rf_log_owner;
CREATE ROLE regress_rf_log_reader;
SELECT rillflow.ensure_tenant('regress_reader');

-- The store belongs to an ordinary role, which records who writes its
-- positions (a trigger only the owner may create).
CREATE TABLE public.regress_log_writers (who name, n bigint);
GRANT INSERT ON public.regress_log_writers TO regress_rf_log_owner;
DO $$
DECLARE
    r record;
BEGIN
    EXECUTE 'ALTER SCHEMA rillflow_tenant_regress_reader OWNER TO regress_rf_log_owner';
    FOR r IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'rillflow_tenant_regress_reader'::regnamespace
                AND c.relkind = 'r'
    LOOP
        EXECUTE format('ALTER TABLE rillflow_tenant_regress_reader.%I OWNER TO regress_rf_log_owner', r.relname);
    END LOOP;
END $$;
CREATE FUNCTION public.regress_note_log_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.regress_log_writers SELECT current_user, sum(cardinality(seqs)) FROM new_rows;
    RETURN NULL;
END $$;
ALTER FUNCTION public.regress_note_log_writer() OWNER TO regress_rf_log_owner;
SET ROLE regress_rf_log_owner;
CREATE TRIGGER note_writer AFTER INSERT ON rillflow_tenant_regress_reader.log_segments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.regress_note_log_writer();
RESET ROLE;

GRANT USAGE ON SCHEMA rillflow, rillflow_tenant_regress_reader TO regress_rf_log_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA rillflow_tenant_regress_reader TO regress_rf_log_reader;

SET rillflow.tenant = 'regress_reader';
SELECT rillflow.append_event('5e000000-0000-0000-0000-0000000000e1', 'A', '{}');

-- the reader reads the log, which includes the event committed before
SET ROLE regress_rf_log_reader;
SELECT position, version, type FROM rillflow.read_all(0);
RESET ROLE;
SELECT rillflow.append_event('5e000000-0000-0000-0000-0000000000e1', 'B', '{}');
SET ROLE regress_rf_log_reader;
SELECT rillflow.head_position();
RESET ROLE;
SELECT rillflow.append_event('5e000000-0000-0000-0000-0000000000e1', 'C', '{}');
SET ROLE regress_rf_log_reader;
SELECT rillflow.run_sequencer() AS gained;
SELECT version, position FROM rillflow.read_stream('5e000000-0000-0000-0000-0000000000e1');

-- the reader may not write the log, nor append, nor lock the log's tables
INSERT INTO rillflow_tenant_regress_reader.log_segments VALUES (100, 100, '{100}');
\echo SQLSTATE :SQLSTATE
UPDATE rillflow_tenant_regress_reader.log_state SET head = 0;
\echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event('5e000000-0000-0000-0000-0000000000e1', 'FromReader', '{}');
\echo SQLSTATE :SQLSTATE
BEGIN;
LOCK TABLE rillflow_tenant_regress_reader.log_segments IN SHARE MODE;
\echo SQLSTATE :SQLSTATE
ROLLBACK;
RESET ROLE;

-- every position was written by the store's owner, never by the reader or
-- by a superuser
SELECT who, sum(n) AS positions_written FROM public.regress_log_writers GROUP BY who ORDER BY who;
SELECT count(*) AS events, max(position) AS head FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_tenant_regress_reader.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions;

RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_reader');
RESET client_min_messages;
REVOKE USAGE ON SCHEMA rillflow FROM regress_rf_log_reader;
DROP TABLE public.regress_log_writers;
DROP FUNCTION public.regress_note_log_writer();
DROP ROLE regress_rf_log_reader;
DROP ROLE regress_rf_log_owner;
