-- Maintenance without the background worker (docs/managed-postgresql.md): on
-- a server that did not preload the library, readers still tick the log
-- (events/log_sync.c starts a ticker), and everything else the worker does
-- runs from this one call, which pg_cron or `rillflow maintenance run` runs on
-- a schedule. It is harmless where the worker runs: batches skip the
-- projections the worker holds.
--
-- That is the projections of every store (each runs up to max_batches
-- batches, so one call is bounded) and, when rillflow.snapshot_threshold is
-- above 0, the snapshotter (rillflow.snapshot_batch streams per store), as
-- the worker runs it. Subscriptions need nothing here: a poll takes back the
-- events whose leases expired.
-- Each store runs in a subtransaction: one that fails (a caller without
-- rights there, say) is reported in its row and the others go on. The
-- projections run with rillflow.tenant set to the store's tenant, their
-- handlers as each projection's owner (projections/projection_runtime.c).
-- No SET search_path here, on purpose (security.sql lists it): the handlers run_projection calls see
-- the caller's search_path, as they do when the worker runs them (a handler
-- that names its tables without a schema must work from pg_cron as from the
-- worker; docs/projections.md asks handlers to pin their own). Every name
-- below is schema-qualified instead, operators included (search_path.sql).
CREATE OR REPLACE FUNCTION rillflow.run_maintenance(max_batches integer DEFAULT 10)
    RETURNS TABLE (tenant text, projections integer, events_applied bigint, snapshots integer, error text)
    LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    saved pg_catalog.text := pg_catalog.current_setting('rillflow.tenant', true);
    -- settings of the worker's: absent (NULL) until the library has loaded
    threshold pg_catalog.int4 := COALESCE(pg_catalog.current_setting('rillflow.snapshot_threshold', true), '0')::pg_catalog.int4;
    snapshot_batch pg_catalog.int4 := COALESCE(pg_catalog.current_setting('rillflow.snapshot_batch', true), '200')::pg_catalog.int4;
    s record;
    p pg_catalog.text;
BEGIN
    -- a write like any other: on a hot standby or in a READ ONLY
    -- transaction it fails as a whole, with PostgreSQL's own 25006
    IF pg_catalog.current_setting('transaction_read_only')::pg_catalog.bool THEN
        RAISE EXCEPTION 'cannot execute rillflow.run_maintenance() in a read-only transaction'
            USING ERRCODE = '25006',
                  HINT = CASE WHEN pg_catalog.pg_is_in_recovery() THEN 'Run it on the primary.'
                              ELSE 'Run it in a read-write transaction.' END;
    END IF;
    IF max_batches IS NULL OR max_batches OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'max_batches must be at least 1, not %', COALESCE(max_batches::pg_catalog.text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    FOR s IN SELECT NULL::pg_catalog.text AS name, 'rillflow_default'::pg_catalog.name AS schema_name
             UNION ALL
             SELECT * FROM (SELECT t.name, t.schema_name FROM rillflow.tenants t ORDER BY t.name) t LOOP
        tenant := s.name;
        projections := 0;
        events_applied := 0;
        snapshots := 0;
        error := NULL;
        BEGIN
            PERFORM pg_catalog.set_config('rillflow.tenant', COALESCE(s.name, ''), true);
            FOR p IN EXECUTE pg_catalog.format(
                         $q$SELECT name FROM %I.projections
                             WHERE kind OPERATOR(pg_catalog.=) 'worker' AND status OPERATOR(pg_catalog.=) 'running'
                             ORDER BY name$q$, s.schema_name) LOOP
                events_applied := events_applied OPERATOR(pg_catalog.+) rillflow.run_projection(p, max_batches);
                projections := projections OPERATOR(pg_catalog.+) 1;
            END LOOP;
            IF threshold OPERATOR(pg_catalog.>) 0 THEN
                snapshots := rillflow.run_snapshotter(threshold, snapshot_batch);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            error := pg_catalog.format('%s: %s', SQLSTATE, SQLERRM);
        END;
        RETURN NEXT;
    END LOOP;
    PERFORM pg_catalog.set_config('rillflow.tenant', COALESCE(saved, ''), true);
END
$fn$;
COMMENT ON FUNCTION rillflow.run_maintenance(integer)
    IS 'Run what the background worker runs (every store''s projections, up to max_batches batches each, and the snapshotter), for servers without it';
