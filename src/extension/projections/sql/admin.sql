-- Projections: admin. Each one that moves the checkpoint or stops a
-- projection also revokes a daemon's lease (new token), so a daemon mid-batch
-- cannot commit over it (RF006).

CREATE OR REPLACE FUNCTION rillflow.pause_projection(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format($q$
        UPDATE %I.projections
           SET status = 'paused', lease_owner = NULL, lease_expires_at = NULL,
               lease_token = lease_token + 1, updated_at = now()
         WHERE name = $1$q$, store) USING name;
END
$fn$;
COMMENT ON FUNCTION rillflow.pause_projection(text) IS 'Stop running a projection until resume_projection';

CREATE OR REPLACE FUNCTION rillflow.resume_projection(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format($q$
        UPDATE %I.projections SET status = 'running', retry_at = NULL, updated_at = now()
         WHERE name = $1$q$, store) USING name;
END
$fn$;
COMMENT ON FUNCTION rillflow.resume_projection(text)
    IS 'Run a paused or failed projection again (a pending retry becomes due now)';

CREATE OR REPLACE FUNCTION rillflow.reset_projection(name text, "position" bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    head bigint;
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    head := rillflow._log_head(store);
    IF position IS NULL OR position < 0 OR position > head THEN
        RAISE EXCEPTION 'position must be from 0 to the head of the log (%), not %', head,
                        coalesce(position::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'The projection applies the events after this position next.';
    END IF;
    EXECUTE format($q$
        UPDATE %I.projections
           SET checkpoint = $2, retry_position = NULL, retry_attempts = 0, retry_at = NULL,
               lease_owner = NULL, lease_expires_at = NULL, lease_token = lease_token + 1, updated_at = now()
         WHERE name = $1$q$, store) USING name, position;
END
$fn$;
COMMENT ON FUNCTION rillflow.reset_projection(text, bigint)
    IS 'Move a projection''s checkpoint: it applies the events after position next';

-- Lock the projection for a rebuild; returns the call of its reset
-- function ('' when it has none).
CREATE OR REPLACE FUNCTION rillflow._rebuild_begin(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    fn regprocedure;
    fn_owner regrole;
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format('SELECT rillflow._function_ref(reset_function), owner FROM %I.projections WHERE name = $1', store)
        INTO fn, fn_owner USING name;
    IF fn IS NULL OR NOT EXISTS (SELECT FROM pg_proc WHERE oid = fn) THEN
        RETURN '';
    END IF;
    -- The reset function is the owner's code: it runs with the owner's rights
    -- only, never with those of another caller (a superuser included).
    IF fn_owner IS DISTINCT FROM current_user::regrole THEN
        RAISE EXCEPTION 'permission denied to run the reset function of projection "%"', name
            USING ERRCODE = '42501',
                  DETAIL = format('Its reset function %s runs as the projection''s owner, role %s, and only as it.',
                                  fn, fn_owner),
                  HINT = format('SET ROLE %s, then call rillflow.rebuild_projection again.', fn_owner);
    END IF;
    -- Schema-qualified, so the caller's search_path cannot redirect the call.
    RETURN format('SELECT %I.%I(%s)', (SELECT nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                                        WHERE p.oid = fn),
                  (SELECT proname FROM pg_proc WHERE oid = fn),
                  CASE WHEN (SELECT pronargs FROM pg_proc WHERE oid = fn) = 1 THEN '$1::pg_catalog.text' ELSE '' END);
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow._rebuild_finish(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    EXECUTE format('DELETE FROM %I.projection_dlq WHERE projection = $1', store) USING name;
    EXECUTE format($q$
        UPDATE %I.projections
           SET checkpoint = start_from, status = CASE WHEN status = 'failed' THEN 'running' ELSE status END,
               retry_position = NULL, retry_attempts = 0, retry_at = NULL,
               lease_owner = NULL, lease_expires_at = NULL, lease_token = lease_token + 1,
               events_processed = 0, events_dead_lettered = 0, batches = 0, busy_ms = 0,
               last_batch_events = NULL, last_batch_ms = NULL, last_error = NULL, updated_at = now()
         WHERE name = $1$q$, store) USING name;
END
$fn$;

-- No SET search_path here, on purpose: the reset function, like a handler,
-- runs with the caller's search_path (it clears the caller's read model).
-- Every name below is schema-qualified instead. It locks the projection's
-- row only: appends go on while the read model is cleared and replayed.
CREATE OR REPLACE FUNCTION rillflow.rebuild_projection(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    reset_call text;
BEGIN
    reset_call := rillflow._rebuild_begin(name);
    IF reset_call OPERATOR(pg_catalog.<>) '' THEN
        EXECUTE reset_call USING name;
    END IF;
    PERFORM rillflow._rebuild_finish(name);
END
$fn$;
COMMENT ON FUNCTION rillflow.rebuild_projection(text)
    IS 'Clear the read model (the registered reset function) and replay the projection from its start';
