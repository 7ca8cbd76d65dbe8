-- Projections: their state, lag and counters. The lag is measured against
-- the head of the log (_log_head, the last segment), as it stands, without a tick.

CREATE OR REPLACE FUNCTION rillflow.list_projections()
    RETURNS TABLE (name text, kind text, handler regprocedure, event_types text[], batch_size integer,
                   status text, checkpoint bigint, head bigint, lag bigint, events_processed bigint,
                   events_dead_lettered bigint, last_run_at timestamptz, owner regrole)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT p.name, p.kind, rillflow._function_ref(p.handler), p.event_types, p.batch_size, p.status, p.checkpoint, $1,
               greatest($1 - p.checkpoint, 0), p.events_processed, p.events_dead_lettered, p.last_run_at,
               p.owner
          FROM %I.projections p ORDER BY p.name$q$, store) USING rillflow._log_head(store);
END
$fn$;
COMMENT ON FUNCTION rillflow.list_projections() IS 'The projections of the current store';

CREATE OR REPLACE FUNCTION rillflow.projection_status(name text)
    RETURNS TABLE (kind text, handler regprocedure, event_types text[], batch_size integer,
                   status text, checkpoint bigint, head bigint, lag bigint,
                   lease_owner text, lease_expires_at timestamptz, lease_token bigint,
                   last_error jsonb, retry_position bigint, retry_attempts integer, retry_at timestamptz,
                   max_attempts integer, backoff_base interval, events_processed bigint,
                   events_dead_lettered bigint, last_run_at timestamptz, reset_function regprocedure,
                   owner regrole)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    RETURN QUERY EXECUTE format($q$
        SELECT p.kind, rillflow._function_ref(p.handler), p.event_types, p.batch_size, p.status, p.checkpoint, $2,
               greatest($2 - p.checkpoint, 0), p.lease_owner, p.lease_expires_at, p.lease_token,
               p.last_error, p.retry_position, p.retry_attempts, p.retry_at, p.max_attempts, p.backoff_base,
               p.events_processed, p.events_dead_lettered, p.last_run_at, rillflow._function_ref(p.reset_function), p.owner
          FROM %I.projections p WHERE p.name = $1$q$, store) USING name, rillflow._log_head(store);
    IF NOT FOUND THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_status(text) IS 'A projection''s state: status, checkpoint, lag, lease, retry state, counters';

CREATE OR REPLACE FUNCTION rillflow.projection_metrics(name text)
    RETURNS TABLE (status text, checkpoint bigint, head bigint, lag bigint,
                   events_processed bigint, events_dead_lettered bigint, dlq_size bigint, batches bigint,
                   last_batch_events integer, last_batch_ms double precision,
                   avg_ms_per_event double precision, last_run_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    RETURN QUERY EXECUTE format($q$
        SELECT p.status, p.checkpoint, $2, greatest($2 - p.checkpoint, 0),
               p.events_processed, p.events_dead_lettered,
               (SELECT count(*) FROM %1$I.projection_dlq d WHERE d.projection = p.name),
               p.batches, p.last_batch_events, p.last_batch_ms,
               CASE WHEN p.events_processed > 0 THEN p.busy_ms / p.events_processed END,
               p.last_run_at
          FROM %1$I.projections p WHERE p.name = $1$q$, store) USING name, rillflow._log_head(store);
    IF NOT FOUND THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_metrics(text) IS 'A projection''s counters, DLQ size, lag and batch timings';
