-- Projections: the registry (create, drop, options). See docs/projections.md.

CREATE OR REPLACE FUNCTION rillflow._create_projection(
    kind text, name text, handler regprocedure, event_types text[], batch_size integer, start_from bigint)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    r record;
    inserted integer;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF kind = 'worker' THEN
        PERFORM rillflow._check_handler(handler);
        -- it runs as the registering role, which must be able to call it
        IF NOT has_function_privilege(handler, 'EXECUTE') THEN
            RAISE EXCEPTION 'permission denied for handler %', handler
                USING ERRCODE = '42501',
                      DETAIL = 'A projection''s handler runs as the role that registers it, which must have EXECUTE on it.';
        END IF;
    END IF;
    PERFORM rillflow._check_event_types(event_types);
    PERFORM rillflow._check_batch_size(batch_size);
    IF start_from IS NULL OR start_from < 0 THEN
        RAISE EXCEPTION 'start_from must be 0 or a position, not %', coalesce(start_from::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass 0 to project the whole log.';
    END IF;
    -- Concurrent creators queue on the primary key; the loser compares.
    EXECUTE format($q$
        INSERT INTO %I.projections (name, kind, handler, owner, event_types, batch_size, start_from, checkpoint)
        VALUES ($1, $2, $3, current_user::regrole, $4, $5, $6, $6) ON CONFLICT (name) DO NOTHING$q$, store)
        USING name, kind, rillflow._function_ref_text(handler, 'handler'), event_types, batch_size, start_from;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 1 THEN
        PERFORM rillflow._wake_worker();   -- a worker projection starts at once, not after a naptime
        RETURN true;
    END IF;
    EXECUTE format('SELECT kind, handler, event_types, batch_size, start_from FROM %I.projections WHERE name = $1',
                   store) INTO r USING name;
    IF r.kind IS DISTINCT FROM kind OR r.handler IS DISTINCT FROM handler::text
       OR r.event_types IS DISTINCT FROM event_types OR r.batch_size IS DISTINCT FROM batch_size
       OR r.start_from IS DISTINCT FROM start_from THEN
        RAISE EXCEPTION 'projection "%" already exists with another definition', name
            USING ERRCODE = '42710',
                  DETAIL = format('It is a %s projection with handler %s, event_types %s, batch_size %s, start_from %s.',
                                  r.kind, coalesce(r.handler::text, 'none'), coalesce(r.event_types::text, 'NULL'),
                                  r.batch_size, r.start_from),
                  HINT = 'Drop it with rillflow.drop_projection() first, or change the batch size with rillflow.set_projection_options().';
    END IF;
    RETURN false;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.create_projection(
    name text,
    handler regprocedure,
    event_types text[] DEFAULT NULL,
    batch_size integer DEFAULT 500,
    start_from bigint DEFAULT 0
) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
RETURN rillflow._create_projection('worker', name, handler, event_types, batch_size, start_from);
COMMENT ON FUNCTION rillflow.create_projection(text, regprocedure, text[], integer, bigint)
    IS 'Register a projection run in the database; true when created now, false when it already exists as given';

CREATE OR REPLACE FUNCTION rillflow.create_external_projection(
    name text,
    event_types text[] DEFAULT NULL,
    batch_size integer DEFAULT 500,
    start_from bigint DEFAULT 0
) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
RETURN rillflow._create_projection('external', name, NULL, event_types, batch_size, start_from);
COMMENT ON FUNCTION rillflow.create_external_projection(text, text[], integer, bigint)
    IS 'Register a projection run by an external daemon; true when created now';

CREATE OR REPLACE FUNCTION rillflow.drop_projection(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    dropped integer;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    EXECUTE format('DELETE FROM %I.projections WHERE name = $1', store) USING name;
    GET DIAGNOSTICS dropped = ROW_COUNT;
    IF dropped = 0 THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_projection(text) IS 'Remove a projection, its checkpoint and its dead letters';

CREATE OR REPLACE FUNCTION rillflow.set_projection_options(
    name text,
    max_attempts integer DEFAULT NULL,
    backoff_base interval DEFAULT NULL,
    batch_size integer DEFAULT NULL
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    IF max_attempts IS NOT NULL AND max_attempts NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_attempts must be from 1 to 1000, not %', max_attempts USING ERRCODE = '22023',
            HINT = '1 sends a failing event to the dead-letter queue at its first failure.';
    END IF;
    IF backoff_base IS NOT NULL AND (backoff_base < interval '0' OR backoff_base > interval '1 day') THEN
        RAISE EXCEPTION 'backoff_base must be from 0 to 1 day, not %', backoff_base USING ERRCODE = '22023';
    END IF;
    IF batch_size IS NOT NULL THEN
        PERFORM rillflow._check_batch_size(batch_size);
    END IF;
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format($q$
        UPDATE %I.projections
           SET max_attempts = coalesce($2, max_attempts), backoff_base = coalesce($3, backoff_base),
               batch_size = coalesce($4, batch_size), updated_at = now()
         WHERE name = $1$q$, store) USING name, max_attempts, backoff_base, batch_size;
END
$fn$;
COMMENT ON FUNCTION rillflow.set_projection_options(text, integer, interval, integer)
    IS 'Change a projection''s retry attempts, backoff base delay or batch size (NULL keeps a value)';

CREATE OR REPLACE FUNCTION rillflow.set_projection_reset_function(name text, fn regprocedure) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    p record;
BEGIN
    IF fn IS NOT NULL THEN
        SELECT prokind, pronargs, proargtypes INTO p FROM pg_proc WHERE oid = fn;
        IF NOT FOUND OR p.prokind <> 'f' OR p.pronargs > 1
           OR (p.pronargs = 1 AND p.proargtypes[0] <> 'text'::regtype) THEN
            RAISE EXCEPTION 'reset function % must be a function taking no argument or one text argument', fn
                USING ERRCODE = '22023',
                      HINT = 'It is called by rebuild_projection with the projection''s name when it takes a text.';
        END IF;
        IF NOT has_function_privilege(fn, 'EXECUTE') THEN
            RAISE EXCEPTION 'permission denied for reset function %', fn
                USING ERRCODE = '42501',
                      DETAIL = 'A reset function runs as the projection''s owner, which must have EXECUTE on it.';
        END IF;
    END IF;
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format('UPDATE %I.projections SET reset_function = $2, updated_at = now() WHERE name = $1', store)
        USING name, rillflow._function_ref_text(fn, 'reset function');
END
$fn$;
COMMENT ON FUNCTION rillflow.set_projection_reset_function(text, regprocedure)
    IS 'Register the function rebuild_projection calls to clear the read model (NULL: none)';
