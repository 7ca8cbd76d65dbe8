-- Maintenance without the background worker (docs/managed-postgresql.md): on
-- a server that did not preload the library, readers still tick the log
-- (events/log_sync.c starts a ticker), and everything else the worker does
-- runs from this one call, which pg_cron or `rillflow maintenance run` runs on
-- a schedule. It is harmless where the worker runs: batches skip the
-- projections the worker holds.
--
-- Today that is the projections of every store (each runs up to max_batches
-- batches, so one call is bounded); housekeeping added later joins here.
-- Each store runs in a subtransaction: one that fails (a caller without
-- rights there, say) is reported in its row and the others go on. The
-- projections run with rillflow.tenant set to the store's tenant, their
-- handlers as each projection's owner (projections/projection_runtime.c).
CREATE OR REPLACE FUNCTION rillflow.run_maintenance(max_batches integer DEFAULT 10)
    RETURNS TABLE (tenant text, projections integer, events_applied bigint, error text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    saved text := current_setting('rillflow.tenant', true);
    s record;
    p text;
BEGIN
    -- a write like any other: on a hot standby or in a READ ONLY
    -- transaction it fails as a whole, with PostgreSQL's own 25006
    IF current_setting('transaction_read_only')::boolean THEN
        RAISE EXCEPTION 'cannot execute rillflow.run_maintenance() in a read-only transaction'
            USING ERRCODE = '25006',
                  HINT = CASE WHEN pg_is_in_recovery() THEN 'Run it on the primary.'
                              ELSE 'Run it in a read-write transaction.' END;
    END IF;
    IF max_batches IS NULL OR max_batches < 1 THEN
        RAISE EXCEPTION 'max_batches must be at least 1, not %', coalesce(max_batches::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    FOR s IN SELECT NULL::text AS name, 'rillflow_default'::name AS schema_name
             UNION ALL
             SELECT * FROM (SELECT t.name, t.schema_name FROM rillflow.tenants t ORDER BY t.name) t LOOP
        tenant := s.name;
        projections := 0;
        events_applied := 0;
        error := NULL;
        BEGIN
            PERFORM set_config('rillflow.tenant', coalesce(s.name, ''), true);
            FOR p IN EXECUTE format($q$SELECT name FROM %I.projections
                                        WHERE kind = 'worker' AND status = 'running' ORDER BY name$q$,
                                    s.schema_name) LOOP
                events_applied := events_applied + rillflow.run_projection(p, max_batches);
                projections := projections + 1;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            error := format('%s: %s', SQLSTATE, SQLERRM);
        END;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('rillflow.tenant', coalesce(saved, ''), true);
END
$fn$;
COMMENT ON FUNCTION rillflow.run_maintenance(integer)
    IS 'Run what the background worker runs (every store''s projections, up to max_batches batches each), for servers without it';
