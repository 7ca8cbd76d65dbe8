-- The background worker (worker/*.c, docs/worker.md): the worker's state,
-- and the launcher's wake-up at CREATE EXTENSION.

CREATE OR REPLACE FUNCTION rillflow._worker_slots(
    OUT process text, OUT datid oid, OUT pid integer, OUT state text,
    OUT started_at timestamptz, OUT last_pass_at timestamptz, OUT passes bigint,
    OUT events_sequenced bigint, OUT events_projected bigint, OUT errors bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'rillflow_worker_slots'
    LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION rillflow.worker_status()
    RETURNS TABLE (process text, database name, pid integer, state text,
                   started_at timestamptz, last_pass_at timestamptz, passes bigint,
                   events_sequenced bigint, events_projected bigint, errors bigint)
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT s.process, d.datname, s.pid, s.state, s.started_at, s.last_pass_at, s.passes,
           s.events_sequenced, s.events_projected, s.errors
      FROM rillflow._worker_slots() s
      LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.datid
     ORDER BY s.process, d.datname;
END;
COMMENT ON FUNCTION rillflow.worker_status() IS 'The launcher and the database workers of the cluster';

CREATE OR REPLACE FUNCTION rillflow._worker_extension_created() RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_worker_extension_created'
    LANGUAGE C VOLATILE;

-- Tell the launcher (at commit) that this database now has the extension.
SELECT rillflow._worker_extension_created();
