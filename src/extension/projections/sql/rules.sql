-- Projections: the rules of their arguments (name, event types, batch size,
-- lease TTL, handler) and the lookups every projection function starts with.
-- Each rule is written here once; the C runtime and the C++ daemon use these.

-- Raise 22004/22023 unless name is a valid projection name; the rule and its
-- message are the C runtime's (projections/names.c).
CREATE OR REPLACE FUNCTION rillflow._check_projection_name(name text) RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_check_projection_name'
    LANGUAGE C IMMUTABLE;

-- RF004 for a projection the current store lacks (C, as the runtime raises it).
CREATE OR REPLACE FUNCTION rillflow._projection_not_found(name text) RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_projection_not_found'
    LANGUAGE C;

CREATE OR REPLACE FUNCTION rillflow._projection_exists(store name, name text) RETURNS boolean
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
CREATE OR REPLACE FUNCTION rillflow._projection_lock(store name, name text) RETURNS void
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
CREATE OR REPLACE FUNCTION rillflow._check_event_types(event_types text[]) RETURNS void
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
CREATE OR REPLACE FUNCTION rillflow._check_lease_ttl(lease_ttl interval) RETURNS void
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

-- The largest batch a projection takes: the bound of _check_batch_size and of
-- the projections table's CHECK constraint (store.sql).
CREATE OR REPLACE FUNCTION rillflow._max_batch_size() RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 100000;

-- Raise 22023 unless batch_size is from 1 to _max_batch_size() (the C++
-- daemon checks its own through check_daemon_settings).
CREATE OR REPLACE FUNCTION rillflow._check_batch_size(batch_size integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND rillflow._max_batch_size() THEN
        RAISE EXCEPTION 'batch_size must be from 1 to %, not %', rillflow._max_batch_size(),
                        coalesce(batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
END
$fn$;

-- Raise 22023 unless fn is a plain function taking exactly one
-- rillflow.event_envelope (a per-event handler) or one
-- rillflow.event_envelope[] (a batch handler).
CREATE OR REPLACE FUNCTION rillflow._check_handler(fn regprocedure) RETURNS void
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
