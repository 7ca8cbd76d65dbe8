-- Projections: the rules of their arguments (name, event types, batch size,
-- lease TTL, handler) and the lookups every projection function starts with.
-- Each rule is written here once; the C runtime and the C++ daemon use these.

-- Raise 22004/22023 unless name is a valid projection name. Names are only
-- ever bound as values, but they show up in logs, metrics labels and CLI
-- output, so they are kept to a plain identifier-like form.
CREATE FUNCTION rillflow._check_projection_name(name text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'projection name must not be null' USING ERRCODE = '22004';
    END IF;
    IF name !~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid projection name %', quote_literal(left(name, 64))
            USING ERRCODE = '22023',
                  HINT = 'A projection name is 1 to 63 characters of letters, digits, _ and -, starting with a letter.';
    END IF;
END
$fn$;

CREATE FUNCTION rillflow._projection_not_found(name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'projection "%" does not exist in store "%"', name, rillflow.current_store()
        USING ERRCODE = 'RF004',
              HINT = 'rillflow.list_projections() lists the projections of the current store; rillflow.tenant selects the store.';
END
$fn$;

CREATE FUNCTION rillflow._projection_exists(store name, name text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found_it boolean;
BEGIN
    EXECUTE format('SELECT true FROM %I.projections WHERE name = $1', store) INTO found_it USING name;
    RETURN found_it IS NOT NULL;
END
$fn$;

-- Lock the projection's row FOR UPDATE (waits for a running batch); RF004
-- when there is none.
CREATE FUNCTION rillflow._projection_lock(store name, name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found_it boolean;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    EXECUTE format('SELECT true FROM %I.projections WHERE name = $1 FOR UPDATE', store) INTO found_it USING name;
    IF found_it IS NULL THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;

-- Raise 22023 unless event_types is NULL or a non-empty array of non-empty
-- type names.
CREATE FUNCTION rillflow._check_event_types(event_types text[]) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF event_types IS NULL THEN
        RETURN;
    END IF;
    IF cardinality(event_types) = 0 THEN
        RAISE EXCEPTION 'event_types must not be empty'
            USING ERRCODE = '22023', HINT = 'Pass NULL for every event type.';
    END IF;
    IF array_ndims(event_types) > 1 THEN
        RAISE EXCEPTION 'event_types must be a one-dimensional array' USING ERRCODE = '22023';
    END IF;
    IF array_position(event_types, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'event_types must not contain NULL'
            USING ERRCODE = '22004', HINT = 'Pass NULL instead of the array for every event type.';
    END IF;
    IF EXISTS (SELECT FROM unnest(event_types) t WHERE t = '') THEN
        RAISE EXCEPTION 'event_types must not contain an empty type name' USING ERRCODE = '22023';
    END IF;
END
$fn$;

-- The lease rule of every daemon lease (projection_acquire, cluster_heartbeat,
-- and the C++ daemon through check_daemon_settings): from 100 milliseconds to
-- 1 day. A shorter lease expires before a daemon's next round trip.
CREATE FUNCTION rillflow._check_lease_ttl(lease_ttl interval) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF lease_ttl IS NULL THEN
        RAISE EXCEPTION 'lease_ttl must not be null' USING ERRCODE = '22004';
    END IF;
    IF lease_ttl < interval '100 milliseconds' OR lease_ttl > interval '1 day' THEN
        RAISE EXCEPTION 'invalid lease_ttl %', lease_ttl
            USING ERRCODE = '22023', DETAIL = 'The lease lasts from 100 milliseconds to 1 day.';
    END IF;
END
$fn$;

CREATE FUNCTION rillflow._check_batch_size(batch_size integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'batch_size must be from 1 to 100000, not %', coalesce(batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
END
$fn$;

-- Raise 22023 unless fn is a plain function taking exactly one
-- rillflow.event_envelope (a per-event handler) or one
-- rillflow.event_envelope[] (a batch handler).
CREATE FUNCTION rillflow._check_handler(fn regprocedure) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    p record;
BEGIN
    IF fn IS NULL THEN
        RAISE EXCEPTION 'handler must not be null' USING ERRCODE = '22004',
            HINT = 'Use rillflow.create_external_projection() for a projection run by a daemon.';
    END IF;
    SELECT prokind, pronargs, proargtypes, proretset INTO p FROM pg_proc WHERE oid = fn;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'handler function with OID % does not exist', fn::oid USING ERRCODE = '42883';
    END IF;
    IF p.prokind <> 'f' OR p.pronargs <> 1
       OR p.proargtypes[0] NOT IN ('rillflow.event_envelope'::regtype, 'rillflow.event_envelope[]'::regtype)
       OR p.proretset THEN
        RAISE EXCEPTION 'handler % must be a function taking exactly one rillflow.event_envelope or one rillflow.event_envelope[]', fn
            USING ERRCODE = '22023',
                  DETAIL = CASE WHEN p.prokind = 'p' THEN 'It is a procedure.'
                                WHEN p.prokind <> 'f' THEN 'It is an aggregate or window function.'
                                WHEN p.proretset THEN 'It returns a set.'
                                ELSE format('It takes (%s).', pg_get_function_identity_arguments(fn)) END,
                  HINT = 'Declare it as CREATE FUNCTION handler(e rillflow.event_envelope) RETURNS void ..., '
                         'or as handler(events rillflow.event_envelope[]) for a batch handler.';
    END IF;
END
$fn$;
