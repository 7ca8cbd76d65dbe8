-- Upcasters: the registry of a store's upcasting steps (see
-- docs/event-evolution.md). The chains are resolved and run in C
-- (evolution/upcast.c) by every read path.

CREATE OR REPLACE FUNCTION rillflow._upcasters_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rillflow_upcasters_changed'
    LANGUAGE C;

-- The event version rule of the registry: versions start at 1 (22004, 22023).
CREATE OR REPLACE FUNCTION rillflow._check_event_version(what text, v integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF v IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004';
    END IF;
    IF v < 1 THEN
        RAISE EXCEPTION '% must be at least 1, not %', what, v
            USING ERRCODE = '22023', HINT = 'Event versions start at 1.';
    END IF;
END
$fn$;

-- An event type as the registry takes it: the append's rule (not empty, at
-- most 255 characters).
CREATE OR REPLACE FUNCTION rillflow._check_event_type(what text, t text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004';
    END IF;
    IF length(t) NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION '% must be 1 to 255 characters long, not %', what, length(t) USING ERRCODE = '22023';
    END IF;
END
$fn$;

-- An upcaster takes jsonb (the body) or rillflow.event_envelope and returns
-- jsonb (22004, 42883, 22023). Returns whether it takes the envelope.
CREATE OR REPLACE FUNCTION rillflow._check_upcaster_function(fn regprocedure) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    p record;
BEGIN
    IF fn IS NULL THEN
        RAISE EXCEPTION 'fn must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT prokind, pronargs, proargtypes, proretset, prorettype INTO p FROM pg_proc WHERE oid = fn;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'upcaster function with OID % does not exist', fn::oid USING ERRCODE = '42883';
    END IF;
    IF p.prokind <> 'f' OR p.pronargs <> 1 OR p.proretset OR p.prorettype <> 'jsonb'::regtype
       OR p.proargtypes[0] NOT IN ('jsonb'::regtype, 'rillflow.event_envelope'::regtype) THEN
        RAISE EXCEPTION 'upcaster % must be a function taking one jsonb or one rillflow.event_envelope and returning jsonb', fn
            USING ERRCODE = '22023',
                  DETAIL = format('It takes (%s) and returns %s%s.', pg_get_function_identity_arguments(fn),
                                  CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END, p.prorettype::regtype),
                  HINT = 'Declare it as CREATE FUNCTION f(body jsonb) RETURNS jsonb ..., or f(e rillflow.event_envelope) RETURNS jsonb.';
    END IF;
    RETURN p.proargtypes[0] = 'rillflow.event_envelope'::regtype;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.register_upcaster(
    event_type text,
    from_version integer,
    to_version integer,
    fn regprocedure,
    to_type text DEFAULT NULL
) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    takes_envelope boolean;
    r record;
    inserted integer;
BEGIN
    PERFORM rillflow._check_event_type('event_type', event_type);
    PERFORM rillflow._check_event_version('from_version', from_version);
    PERFORM rillflow._check_event_version('to_version', to_version);
    IF to_type IS NOT NULL THEN
        PERFORM rillflow._check_event_type('to_type', to_type);
    END IF;
    IF to_version <= from_version THEN
        RAISE EXCEPTION 'to_version must be above from_version, not % -> %', from_version, to_version
            USING ERRCODE = '22023',
                  HINT = 'An upcaster moves an event to a newer version; a rename (to_type) moves the version up too.';
    END IF;
    takes_envelope := rillflow._check_upcaster_function(fn);
    -- it runs as the registering role, which must be able to call it
    IF NOT has_function_privilege(fn, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for upcaster function %', fn
            USING ERRCODE = '42501',
                  DETAIL = 'An upcaster runs as the role that registers it, which must have EXECUTE on it.';
    END IF;
    EXECUTE format($q$
        INSERT INTO %I.upcasters (event_type, from_version, to_version, to_type, fn, takes_envelope, owner)
        VALUES ($1, $2, $3, $4, $5, $6, current_user::regrole)
        ON CONFLICT (event_type, from_version) DO NOTHING$q$, store)
        USING event_type, from_version, to_version, coalesce(to_type, event_type),
              rillflow._function_ref_text(fn, 'upcaster'), takes_envelope;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 1 THEN
        RETURN true;
    END IF;
    EXECUTE format('SELECT to_version, to_type, fn FROM %I.upcasters WHERE event_type = $1 AND from_version = $2',
                   store) INTO r USING event_type, from_version;
    IF (r.to_version, r.to_type, r.fn)
       IS DISTINCT FROM (to_version, coalesce(to_type, event_type), rillflow._function_ref_text(fn, 'upcaster')) THEN
        RAISE EXCEPTION 'an upcaster from % v% exists already', event_type, from_version
            USING ERRCODE = '42710',
                  DETAIL = format('It upcasts to %s v%s with %s.', r.to_type, r.to_version, r.fn),
                  HINT = 'One upcaster leaves each (type, version): drop it with rillflow.drop_upcaster() first.';
    END IF;
    RETURN false;
END
$fn$;
COMMENT ON FUNCTION rillflow.register_upcaster(text, integer, integer, regprocedure, text)
    IS 'Register an upcasting step; true when registered now, false when it exists as given';

CREATE OR REPLACE FUNCTION rillflow.drop_upcaster(event_type text, from_version integer) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    deleted integer;
BEGIN
    PERFORM rillflow._check_event_type('event_type', event_type);
    PERFORM rillflow._check_event_version('from_version', from_version);
    EXECUTE format('DELETE FROM %I.upcasters WHERE event_type = $1 AND from_version = $2', store)
        USING event_type, from_version;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    IF deleted = 0 THEN
        RAISE EXCEPTION 'no upcaster from % v%', event_type, from_version
            USING ERRCODE = 'RF004', HINT = 'rillflow.list_upcasters() shows the registered steps.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_upcaster(text, integer) IS 'Drop the upcasting step that leaves (type, version)';

CREATE OR REPLACE FUNCTION rillflow.list_upcasters()
    RETURNS TABLE (event_type text, from_version integer, to_type text, to_version integer,
                   fn regprocedure, owner regrole, created_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT event_type, from_version, to_type, to_version, rillflow._function_ref(fn), owner, created_at FROM %I.upcasters '
        'ORDER BY event_type, from_version', rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.list_upcasters() IS 'The store''s upcasting steps';

CREATE OR REPLACE FUNCTION rillflow.upcaster_path(
    from_type text, from_version integer, to_type text, to_version integer)
    RETURNS TABLE (step integer, event_type text, from_version integer, to_type text, to_version integer,
                   fn regprocedure)
    AS 'MODULE_PATHNAME', 'rillflow_upcaster_path'
    LANGUAGE C STABLE;
COMMENT ON FUNCTION rillflow.upcaster_path(text, integer, text, integer)
    IS 'The upcasting steps from one (type, version) to another; RF004 when there is no path';

-- One event upcast by the store's chains: for the read paths written in SQL
-- (subscription polls). The upcasters run as their owners, restricted.
CREATE OR REPLACE FUNCTION rillflow._upcast_envelope(store name, e rillflow.event_envelope)
    RETURNS rillflow.event_envelope
    AS 'MODULE_PATHNAME', 'rillflow_upcast_envelope'
    LANGUAGE C VOLATILE;

-- Whether an event stored as (event_type, event_version) has, as read, one of
-- types: the type at the end of its chain in the current store, or its own
-- when no chain starts there. The subscription filter (subscriptions/poll.c).
CREATE OR REPLACE FUNCTION rillflow._upcast_type_in(event_type text, event_version integer, types text[])
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_upcast_type_in'
    LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
