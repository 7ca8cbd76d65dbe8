-- Projections: registry, runtime, leases, dead-letter queue, admin.
-- See docs/projections.md. The batch loop is C (projection_runtime.c); the
-- registry, the lease primitives and the admin functions are here.

-- The projection tables of one store; called by rillflow._create_store.
CREATE FUNCTION rillflow._create_store_projections(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format($ddl$
        -- One row per projection. For worker projections the row lock of a
        -- batch's transaction is the lease; external daemons hold the lease
        -- columns across transactions, fenced by lease_token.
        CREATE TABLE %1$I.projections (
            name                text PRIMARY KEY,
            kind                text NOT NULL CHECK (kind IN ('worker', 'external')),
            handler             regprocedure,
            event_types         text[],
            batch_size          integer NOT NULL CHECK (batch_size BETWEEN 1 AND 100000),
            start_from          bigint NOT NULL DEFAULT 0 CHECK (start_from >= 0),
            status              text NOT NULL DEFAULT 'running'
                                CHECK (status IN ('running', 'paused', 'failed')),
            checkpoint          bigint NOT NULL CHECK (checkpoint >= 0),
            lease_owner         text,
            lease_expires_at    timestamptz,
            lease_token         bigint NOT NULL DEFAULT 0,
            retry_position      bigint,
            retry_attempts      integer NOT NULL DEFAULT 0,
            retry_at            timestamptz,
            max_attempts        integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 1000),
            backoff_base        interval NOT NULL DEFAULT '100 milliseconds',
            events_processed    bigint NOT NULL DEFAULT 0,
            events_dead_lettered bigint NOT NULL DEFAULT 0,
            batches             bigint NOT NULL DEFAULT 0,
            busy_ms             double precision NOT NULL DEFAULT 0,
            last_batch_events   integer,
            last_batch_ms       double precision,
            last_error          jsonb,
            last_run_at         timestamptz,
            reset_function      regprocedure,
            created_at          timestamptz NOT NULL DEFAULT now(),
            updated_at          timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT projections_handler_kind CHECK ((kind = 'worker') = (handler IS NOT NULL))
        );

        CREATE SEQUENCE %1$I.projection_dlq_seq;
        -- Events a projection gave up on. The event stays in the log; the
        -- envelope is copied here so the row is readable on its own.
        CREATE TABLE %1$I.projection_dlq (
            id          bigint PRIMARY KEY DEFAULT nextval(%2$L::regclass),
            projection  text NOT NULL REFERENCES %1$I.projections (name) ON DELETE CASCADE,
            position    bigint NOT NULL,
            event       jsonb NOT NULL,
            sqlstate    text,
            message     text,
            detail      text,
            context     text,
            attempts    integer NOT NULL,
            failed_at   timestamptz NOT NULL DEFAULT now(),
            requeued_at timestamptz,
            CONSTRAINT projection_dlq_event_key UNIQUE (projection, position)
        );
        ALTER SEQUENCE %1$I.projection_dlq_seq OWNED BY %1$I.projection_dlq.id;
    $ddl$, store, format('%I.projection_dlq_seq', store));
END
$fn$;

----------------------------------------------------------------------------
-- Internal helpers

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

-- Count a failed attempt at position (the caller holds the row lock or the
-- lease). Returns 'retry' (retry_at set by exponential backoff) or
-- 'dead_lettered' (the DLQ row is written and the checkpoint moves to the
-- event). position NULL means the next event after the checkpoint (a batch
-- cancelled mid-way, with no event to blame).
CREATE FUNCTION rillflow._projection_record_failure(
    store name, name text, at_position bigint, sqlstate text, message text, detail text, context text)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
    pos bigint := at_position;
    attempts integer;
    envelope jsonb;
    err jsonb;
BEGIN
    EXECUTE format('SELECT * FROM %I.projections WHERE name = $1', store) INTO r USING name;
    IF pos IS NULL THEN
        EXECUTE format($q$
            SELECT p.position FROM %1$I.positions p JOIN %1$I.events e ON e.seq = p.seq
             WHERE p.position > $1 AND ($2::text[] IS NULL OR e.type = ANY ($2))
             ORDER BY p.position LIMIT 1$q$, store)
            INTO pos USING r.checkpoint, r.event_types;
    END IF;
    err := jsonb_build_object('position', pos, 'sqlstate', sqlstate, 'message', message,
                              'detail', detail, 'context', context, 'at', clock_timestamp());
    IF pos IS NULL THEN
        -- Nothing to blame and nothing to retry: stop until an admin looks.
        EXECUTE format($q$UPDATE %I.projections SET status = 'failed', last_error = $2, updated_at = now()
                           WHERE name = $1$q$, store) USING name, err;
        RETURN 'failed';
    END IF;
    attempts := CASE WHEN r.retry_position = pos THEN r.retry_attempts + 1 ELSE 1 END;
    IF attempts < r.max_attempts THEN
        EXECUTE format($q$
            UPDATE %I.projections
               SET retry_position = $2, retry_attempts = $3,
                   retry_at = clock_timestamp() + backoff_base * power(2, least($3 - 1, 30)),
                   last_error = $4, updated_at = now()
             WHERE name = $1$q$, store) USING name, pos, attempts, err;
        RETURN 'retry';
    END IF;
    EXECUTE format($q$
        SELECT to_jsonb(x) FROM (
            SELECT p.position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers,
                   e.event_id, e.causation_id, e.correlation_id, e.created_at
              FROM %1$I.positions p JOIN %1$I.events e ON e.seq = p.seq WHERE p.position = $1) x$q$, store)
        INTO envelope USING pos;
    EXECUTE format($q$
        INSERT INTO %I.projection_dlq AS d
               (projection, position, event, sqlstate, message, detail, context, attempts)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT ON CONSTRAINT projection_dlq_event_key DO UPDATE
           SET event = EXCLUDED.event, sqlstate = EXCLUDED.sqlstate, message = EXCLUDED.message,
               detail = EXCLUDED.detail, context = EXCLUDED.context,
               attempts = d.attempts + EXCLUDED.attempts, failed_at = now(), requeued_at = NULL$q$, store)
        USING name, pos, coalesce(envelope, jsonb_build_object('position', pos)),
              sqlstate, message, detail, context, attempts;
    EXECUTE format($q$
        UPDATE %I.projections
           SET checkpoint = greatest(checkpoint, $2), retry_position = NULL, retry_attempts = 0,
               retry_at = NULL, events_dead_lettered = events_dead_lettered + 1,
               last_error = $3, updated_at = now()
         WHERE name = $1$q$, store) USING name, pos, err;
    RETURN 'dead_lettered';
END
$fn$;

-- Tell waiters (wait_for_projection) that a checkpoint moved; C, so the
-- worker's shared-memory wake-up can be wired in one place.
CREATE FUNCTION rillflow._note_checkpoint_advance() RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_note_checkpoint_advance'
    LANGUAGE C VOLATILE;

----------------------------------------------------------------------------
-- Registry

CREATE FUNCTION rillflow._create_projection(
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
    END IF;
    PERFORM rillflow._check_event_types(event_types);
    PERFORM rillflow._check_batch_size(batch_size);
    IF start_from IS NULL OR start_from < 0 THEN
        RAISE EXCEPTION 'start_from must be 0 or a position, not %', coalesce(start_from::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass 0 to project the whole log.';
    END IF;
    -- Concurrent creators queue on the primary key; the loser compares.
    EXECUTE format($q$
        INSERT INTO %I.projections (name, kind, handler, event_types, batch_size, start_from, checkpoint)
        VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name) DO NOTHING$q$, store)
        USING name, kind, handler, event_types, batch_size, start_from;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 1 THEN
        RETURN true;
    END IF;
    EXECUTE format('SELECT kind, handler, event_types, batch_size, start_from FROM %I.projections WHERE name = $1',
                   store) INTO r USING name;
    IF r.kind IS DISTINCT FROM kind OR r.handler IS DISTINCT FROM handler
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

CREATE FUNCTION rillflow.create_projection(
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

CREATE FUNCTION rillflow.create_external_projection(
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

CREATE FUNCTION rillflow.drop_projection(name text) RETURNS void
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

CREATE FUNCTION rillflow.set_projection_options(
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

CREATE FUNCTION rillflow.set_projection_reset_function(name text, fn regprocedure) RETURNS void
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
    END IF;
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format('UPDATE %I.projections SET reset_function = $2, updated_at = now() WHERE name = $1', store)
        USING name, fn;
END
$fn$;
COMMENT ON FUNCTION rillflow.set_projection_reset_function(text, regprocedure)
    IS 'Register the function rebuild_projection calls to clear the read model (NULL: none)';

CREATE FUNCTION rillflow.list_projections()
    RETURNS TABLE (name text, kind text, handler regprocedure, event_types text[], batch_size integer,
                   status text, checkpoint bigint, head bigint, lag bigint, events_processed bigint,
                   events_dead_lettered bigint, last_run_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH h AS (SELECT coalesce(max(position), 0) AS head FROM %1$I.positions)
        SELECT p.name, p.kind, p.handler, p.event_types, p.batch_size, p.status, p.checkpoint, h.head,
               greatest(h.head - p.checkpoint, 0), p.events_processed, p.events_dead_lettered, p.last_run_at
          FROM %1$I.projections p, h ORDER BY p.name$q$, store);
END
$fn$;
COMMENT ON FUNCTION rillflow.list_projections() IS 'The projections of the current store';

CREATE FUNCTION rillflow.projection_status(name text)
    RETURNS TABLE (kind text, handler regprocedure, event_types text[], batch_size integer,
                   status text, checkpoint bigint, head bigint, lag bigint,
                   lease_owner text, lease_expires_at timestamptz, lease_token bigint,
                   last_error jsonb, retry_position bigint, retry_attempts integer, retry_at timestamptz,
                   max_attempts integer, backoff_base interval, events_processed bigint,
                   events_dead_lettered bigint, last_run_at timestamptz, reset_function regprocedure)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    RETURN QUERY EXECUTE format($q$
        WITH h AS (SELECT coalesce(max(position), 0) AS head FROM %1$I.positions)
        SELECT p.kind, p.handler, p.event_types, p.batch_size, p.status, p.checkpoint, h.head,
               greatest(h.head - p.checkpoint, 0), p.lease_owner, p.lease_expires_at, p.lease_token,
               p.last_error, p.retry_position, p.retry_attempts, p.retry_at, p.max_attempts, p.backoff_base,
               p.events_processed, p.events_dead_lettered, p.last_run_at, p.reset_function
          FROM %1$I.projections p, h WHERE p.name = $1$q$, store) USING name;
    IF NOT FOUND THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_status(text) IS 'A projection''s state: status, checkpoint, lag, lease, retry state, counters';

CREATE FUNCTION rillflow.projection_metrics(name text)
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
        WITH h AS (SELECT coalesce(max(position), 0) AS head FROM %1$I.positions)
        SELECT p.status, p.checkpoint, h.head, greatest(h.head - p.checkpoint, 0),
               p.events_processed, p.events_dead_lettered,
               (SELECT count(*) FROM %1$I.projection_dlq d WHERE d.projection = p.name),
               p.batches, p.last_batch_events, p.last_batch_ms,
               CASE WHEN p.events_processed > 0 THEN p.busy_ms / p.events_processed END,
               p.last_run_at
          FROM %1$I.projections p, h WHERE p.name = $1$q$, store) USING name;
    IF NOT FOUND THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_metrics(text) IS 'A projection''s counters, DLQ size, lag and batch timings';

----------------------------------------------------------------------------
-- Lease primitives for external daemons (and the rules the worker follows)

CREATE FUNCTION rillflow._lease_lost(name text, token bigint, why text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'lease on projection "%" lost: %', name, why
        USING ERRCODE = 'RF006',
              DETAIL = format('The caller presented fencing token %s.', coalesce(token::text, 'NULL')),
              HINT = 'Roll back this transaction and acquire the lease again with rillflow.projection_acquire().';
END
$fn$;

-- Take or renew the lease. Zero rows when another owner holds an unexpired
-- lease, a batch holds the row right now, the projection is paused or failed,
-- or a retry is not yet due. Never waits.
CREATE FUNCTION rillflow.projection_acquire(name text, owner text, lease_ttl interval)
    RETURNS TABLE (token bigint, checkpoint bigint, batch_size integer, event_types text[])
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    r record;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF owner IS NULL OR owner = '' OR length(owner) > 200 THEN
        RAISE EXCEPTION 'owner must be 1 to 200 characters, not %', coalesce(quote_literal(left(owner, 64)), 'NULL')
            USING ERRCODE = '22023', HINT = 'Use a name unique to the process, such as host:pid.';
    END IF;
    PERFORM rillflow._check_lease_ttl(lease_ttl);
    -- A daemon acquires in a statement of its own, before each batch: that is
    -- where to sequence what was appended since the last tick (with no worker
    -- running, nobody else may), without a round trip of its own.
    IF rillflow._may_sequence() THEN
        PERFORM rillflow._sequence(store);
    END IF;
    EXECUTE format('SELECT * FROM %I.projections WHERE name = $1 FOR UPDATE SKIP LOCKED', store)
        INTO r USING name;
    IF r IS NULL THEN
        EXECUTE format('SELECT * FROM %I.projections WHERE name = $1', store) INTO r USING name;
        IF r IS NULL THEN
            PERFORM rillflow._projection_not_found(name);
        END IF;
        RETURN;     -- a batch or another acquirer holds the row right now
    END IF;
    IF r.kind <> 'external' THEN
        RAISE EXCEPTION 'projection "%" is run by the database, not by a daemon', name
            USING ERRCODE = '55000',
                  HINT = 'Register projections for daemons with rillflow.create_external_projection().';
    END IF;
    IF r.status <> 'running'
       OR (r.retry_at IS NOT NULL AND r.retry_at > clock_timestamp())
       OR (r.lease_owner IS DISTINCT FROM owner AND r.lease_expires_at > clock_timestamp()) THEN
        RETURN;
    END IF;
    EXECUTE format($q$
        UPDATE %I.projections
           SET lease_token = CASE WHEN lease_owner = $2 THEN lease_token ELSE lease_token + 1 END,
               lease_owner = $2, lease_expires_at = clock_timestamp() + $3, updated_at = now()
         WHERE name = $1
     RETURNING lease_token, checkpoint, batch_size, event_types$q$, store)
        INTO token, checkpoint, batch_size, event_types USING name, owner, lease_ttl;
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_acquire(text, text, interval)
    IS 'Take or renew a daemon''s lease on a projection; no row when it is not available now';

-- Check the fencing token and the lease of the caller; the row stays locked
-- until the caller's transaction ends, so no one can take the lease over
-- between this check and the caller's commit.
CREATE FUNCTION rillflow._projection_check_lease(store name, name text, token bigint) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF token IS NULL THEN
        RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004',
            HINT = 'Pass the token rillflow.projection_acquire() returned.';
    END IF;
    EXECUTE format('SELECT * FROM %I.projections WHERE name = $1 FOR UPDATE', store) INTO r USING name;
    IF r IS NULL THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
    IF r.lease_token <> token OR r.lease_owner IS NULL THEN
        PERFORM rillflow._lease_lost(name, token,
            format('the current fencing token is %s%s', r.lease_token,
                   CASE WHEN r.lease_owner IS NULL THEN ' and no one holds the lease'
                        ELSE format(', held by %L', r.lease_owner) END));
    END IF;
    IF r.lease_expires_at <= clock_timestamp() THEN
        PERFORM rillflow._lease_lost(name, token, 'the lease expired');
    END IF;
    RETURN r.checkpoint;
END
$fn$;

CREATE FUNCTION rillflow.projection_commit(name text, token bigint, checkpoint bigint, processed integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    current bigint;
BEGIN
    current := rillflow._projection_check_lease(store, name, token);
    IF checkpoint IS NULL OR checkpoint < current THEN
        RAISE EXCEPTION 'checkpoint must not move back from % to %', current, coalesce(checkpoint::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Use rillflow.reset_projection() to move a checkpoint back.';
    END IF;
    IF processed IS NULL OR processed < 0 THEN
        RAISE EXCEPTION 'processed must be 0 or more, not %', coalesce(processed::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    EXECUTE format($q$
        UPDATE %I.projections
           SET checkpoint = $2, events_processed = events_processed + $3,
               batches = batches + 1, last_batch_events = $3, last_run_at = now(), updated_at = now(),
               retry_position = CASE WHEN retry_position <= $2 THEN NULL ELSE retry_position END,
               retry_attempts = CASE WHEN retry_position <= $2 THEN 0 ELSE retry_attempts END,
               retry_at = CASE WHEN retry_position <= $2 THEN NULL ELSE retry_at END
         WHERE name = $1$q$, store) USING name, checkpoint, processed;
    IF checkpoint > current THEN
        PERFORM rillflow._note_checkpoint_advance();
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_commit(text, bigint, bigint, integer)
    IS 'Record a daemon''s new checkpoint in its read-model transaction; RF006 when its lease is lost';

CREATE FUNCTION rillflow.projection_fail(
    name text, token bigint, "position" bigint, sqlstate text, message text, detail text DEFAULT NULL,
    context text DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    k text;
    current bigint;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    EXECUTE format('SELECT kind FROM %I.projections WHERE name = $1', store) INTO k USING name;
    IF k IS NULL THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
    -- Worker projections have no lease between transactions: the worker
    -- reports a batch it had to cancel with token NULL.
    IF token IS NULL AND k = 'worker' THEN
        PERFORM rillflow._projection_lock(store, name);
        EXECUTE format('SELECT checkpoint FROM %I.projections WHERE name = $1', store) INTO current USING name;
    ELSE
        current := rillflow._projection_check_lease(store, name, token);
    END IF;
    IF position IS NOT NULL AND position <= current THEN
        RAISE EXCEPTION 'position % is not after the checkpoint %', position, current
            USING ERRCODE = '22023', HINT = 'Report the position of the event that failed.';
    END IF;
    RETURN rillflow._projection_record_failure(store, name, position, sqlstate, message, detail, context);
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_fail(text, bigint, bigint, text, text, text, text)
    IS 'Count a failed attempt at an event: ''retry'' (backoff) or ''dead_lettered'' (checkpoint moved past it)';

CREATE FUNCTION rillflow.projection_release(name text, token bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF token IS NULL THEN
        RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._projection_lock(store, name);
    -- Releasing a lease one no longer holds changes nothing.
    EXECUTE format($q$
        UPDATE %I.projections SET lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE name = $1 AND lease_token = $2$q$, store) USING name, token;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_release(text, bigint) IS 'Give a daemon''s lease back';

----------------------------------------------------------------------------
-- Running (C, projection_runtime.c)

CREATE FUNCTION rillflow.run_projection(name text, max_batches integer DEFAULT 1) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_run_projection'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_projection(text, integer)
    IS 'Apply up to max_batches batches of a projection now; returns the events applied';

CREATE FUNCTION rillflow.run_projections_until_idle(name text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_run_projections_until_idle'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_projections_until_idle(text)
    IS 'Run one projection (or every running one of the store) until it has nothing left to do';

----------------------------------------------------------------------------
-- Admin. Each one that moves the checkpoint or stops a projection also
-- revokes a daemon's lease (new token), so a daemon mid-batch cannot commit
-- over it (RF006).

CREATE FUNCTION rillflow.pause_projection(name text) RETURNS void
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

CREATE FUNCTION rillflow.resume_projection(name text) RETURNS void
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

CREATE FUNCTION rillflow.reset_projection(name text, "position" bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    head bigint;
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format('SELECT coalesce(max(position), 0) FROM %I.positions', store) INTO head;
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
CREATE FUNCTION rillflow._rebuild_begin(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    fn regprocedure;
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format('SELECT reset_function FROM %I.projections WHERE name = $1', store) INTO fn USING name;
    IF fn IS NULL OR NOT EXISTS (SELECT FROM pg_proc WHERE oid = fn) THEN
        RETURN '';
    END IF;
    -- Schema-qualified, so the caller's search_path cannot redirect the call.
    RETURN format('SELECT %I.%I(%s)', (SELECT nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                                        WHERE p.oid = fn),
                  (SELECT proname FROM pg_proc WHERE oid = fn),
                  CASE WHEN (SELECT pronargs FROM pg_proc WHERE oid = fn) = 1 THEN '$1::pg_catalog.text' ELSE '' END);
END
$fn$;

CREATE FUNCTION rillflow._rebuild_finish(name text) RETURNS void
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
CREATE FUNCTION rillflow.rebuild_projection(name text) RETURNS void
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

CREATE FUNCTION rillflow.dlq_list(name text, "limit" integer DEFAULT 100)
    RETURNS TABLE (id bigint, "position" bigint, event jsonb, sqlstate text, message text, detail text,
                   context text, attempts integer, failed_at timestamptz, requeued_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF "limit" IS NULL OR "limit" NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'limit must be from 1 to 100000, not %', coalesce("limit"::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF NOT rillflow._projection_exists(store, name) THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT d.id, d.position, d.event, d.sqlstate, d.message, d.detail, d.context, d.attempts,
               d.failed_at, d.requeued_at
          FROM %I.projection_dlq d WHERE d.projection = $1 ORDER BY d.id LIMIT $2$q$, store)
        USING name, "limit";
END
$fn$;
COMMENT ON FUNCTION rillflow.dlq_list(text, integer) IS 'A projection''s dead letters, oldest first';

CREATE FUNCTION rillflow._dlq_entry(store name, name text, id bigint) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
    k text;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('SELECT kind FROM %I.projections WHERE name = $1', store) INTO r USING name;
    IF r IS NULL THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
    EXECUTE format('SELECT $3::text FROM %I.projection_dlq d WHERE d.projection = $1 AND d.id = $2 FOR UPDATE',
                   store) INTO k USING name, id, r.kind;
    IF k IS NULL THEN
        RAISE EXCEPTION 'dead letter % of projection "%" does not exist', id, name
            USING ERRCODE = 'RF004', HINT = 'rillflow.dlq_list() lists a projection''s dead letters.';
    END IF;
    RETURN k;
END
$fn$;

CREATE FUNCTION rillflow.dlq_requeue(name text, id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF rillflow._dlq_entry(store, name, id) <> 'worker' THEN
        RAISE EXCEPTION 'dead letters of external projection "%" cannot be requeued in the database', name
            USING ERRCODE = '0A000',
                  HINT = 'Apply the event from dlq_list() in the daemon, then remove it with rillflow.dlq_delete().';
    END IF;
    EXECUTE format('UPDATE %I.projection_dlq SET requeued_at = now() WHERE id = $1', store) USING id;
END
$fn$;
COMMENT ON FUNCTION rillflow.dlq_requeue(text, bigint)
    IS 'Apply a dead letter again on the projection''s next run, before new events; removed when it succeeds';

CREATE FUNCTION rillflow.dlq_delete(name text, id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    PERFORM rillflow._dlq_entry(store, name, id);
    EXECUTE format('DELETE FROM %I.projection_dlq WHERE id = $1', store) USING id;
END
$fn$;
COMMENT ON FUNCTION rillflow.dlq_delete(text, bigint) IS 'Remove a dead letter';
