-- rillflow.metrics(): the one list of rillflow's metrics (docs/observability.md).
-- The daemon's /metrics, postgres_exporter and anything else that scrapes
-- PostgreSQL read the same names from here.

-- One store's rows: the log and its projections. Called for each store the
-- caller may read.
CREATE OR REPLACE FUNCTION rillflow._store_metrics(store name, tenant text)
    RETURNS TABLE (name text, labels jsonb, value double precision, help text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    base jsonb := jsonb_build_object('store', store, 'tenant', coalesce(tenant, ''));
    head bigint := rillflow._log_head(store);
BEGIN
    name := 'rillflow_log_head'; labels := base; value := head;
    help := 'The highest position of the store''s global log';
    RETURN NEXT;
    -- events appended after the highest one the log has placed: the
    -- sequencer's backlog (an index range scan, whatever the log's size)
    EXECUTE format('SELECT count(*) FROM %1$I.events e
                     WHERE e.seq > coalesce((SELECT max(g.max_seq) FROM %1$I.log_segments g), 0)', store)
        INTO value;
    name := 'rillflow_log_unsequenced'; labels := base;
    help := 'Events committed or in flight that the global log has not placed yet';
    RETURN NEXT;
    RETURN QUERY EXECUTE format($q$
        SELECT m.name, $1 || jsonb_build_object('projection', p.name, 'kind', p.kind), m.value, m.help
          FROM %I.projections p
         CROSS JOIN LATERAL (VALUES
             ('rillflow_projection_checkpoint', p.checkpoint::float8, 'The last position the projection applied'),
             ('rillflow_projection_lag', greatest($2 - p.checkpoint, 0)::float8, 'Positions between the log head and the checkpoint'),
             ('rillflow_projection_running', (p.status = 'running')::int::float8, '1 while the projection runs, 0 when paused or failed'),
             ('rillflow_projection_failed', (p.status = 'failed')::int::float8, '1 when the projection stopped on an error'),
             ('rillflow_projection_events_processed', p.events_processed::float8, 'Events the projection applied'),
             ('rillflow_projection_dead_letters', p.events_dead_lettered::float8, 'Events the projection dead-lettered')
         ) AS m(name, value, help)
         ORDER BY p.name, m.name$q$, store) USING base, head;
    -- each subscription and consumer group (group '' is the single consumer),
    -- where the caller may read the subscription tables
    IF has_table_privilege(format('%I.subscriptions', store), 'SELECT')
       AND has_table_privilege(format('%I.subscription_groups', store), 'SELECT')
       AND has_table_privilege(format('%I.subscription_outstanding', store), 'SELECT') THEN
        RETURN QUERY
        SELECT m.name, base || jsonb_build_object('subscription', l.subscription, 'group', coalesce(l.group_name, '')),
               m.value, m.help
          FROM rillflow._subscription_lag_of(store) l
         CROSS JOIN LATERAL (VALUES
             ('rillflow_subscription_checkpoint', l.checkpoint::float8, 'The highest position with everything at or below it acked'),
             ('rillflow_subscription_lag', l.lag::float8, 'Positions between the log head and the checkpoint'),
             ('rillflow_subscription_in_flight', l.in_flight::float8, 'Events delivered and not yet acked, under a live lease'),
             ('rillflow_subscription_dead_letters', l.dead_lettered::float8, 'Events dead-lettered after max_deliveries')
         ) AS m(name, value, help)
         ORDER BY l.subscription, l.group_name NULLS FIRST, m.name;
    END IF;
    -- the archive's six (archive/sql/archive.sql)
    RETURN QUERY SELECT 'rillflow_' || a.name, base, a.value, a.help FROM rillflow._archive_metrics(store) a;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.metrics()
    RETURNS TABLE (name text, labels jsonb, value double precision, help text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
BEGIN
    -- every store the caller may read (a monitoring role gets read on the ones it watches)
    FOR s IN SELECT st.schema_name, st.tenant FROM rillflow.stores st
              WHERE to_regnamespace(quote_ident(st.schema_name)) IS NOT NULL
                AND has_schema_privilege(st.schema_name, 'USAGE')
                AND has_table_privilege(format('%I.projections', st.schema_name), 'SELECT')
                AND has_table_privilege(format('%I.log_segments', st.schema_name), 'SELECT')
                AND has_table_privilege(format('%I.events', st.schema_name), 'SELECT')
              ORDER BY st.tenant NULLS FIRST LOOP
        RETURN QUERY SELECT * FROM rillflow._store_metrics(s.schema_name, s.tenant);
    END LOOP;
    -- the background worker of this database, and the launcher
    RETURN QUERY
    SELECT m.name, jsonb_build_object('process', w.process, 'database', coalesce(w.database::text, '')),
           m.value, m.help
      FROM rillflow.worker_status() w
     CROSS JOIN LATERAL (VALUES
         ('rillflow_worker_up', (w.state IS DISTINCT FROM 'stopped')::int::float8, '1 while the process runs'),
         ('rillflow_worker_passes', coalesce(w.passes, 0)::float8, 'Passes over the database''s stores'),
         ('rillflow_worker_events_sequenced', coalesce(w.events_sequenced, 0)::float8, 'Events the worker gave positions'),
         ('rillflow_worker_events_projected', coalesce(w.events_projected, 0)::float8, 'Events the worker''s projections applied'),
         ('rillflow_worker_errors', coalesce(w.errors, 0)::float8, 'Errors the worker logged')
     ) AS m(name, value, help)
     WHERE w.database IS NULL OR w.database = current_database()
     ORDER BY w.process, m.name;
END
$fn$;
COMMENT ON FUNCTION rillflow.metrics() IS 'Every rillflow metric of this database: name, labels, value, help';
