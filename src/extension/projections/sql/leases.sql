-- Projections: the lease primitives for external daemons (and the rules the
-- worker follows). A daemon holds a lease across transactions, fenced by the
-- lease token.

CREATE OR REPLACE FUNCTION rillflow._lease_lost(name text, token bigint, why text) RETURNS void
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
CREATE OR REPLACE FUNCTION rillflow.projection_acquire(name text, owner text, lease_ttl interval)
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
    -- A daemon acquires in a statement of its own, before each batch: the
    -- batch then reads every event committed before, as read_all would
    -- (events/log_sync.c), without a round trip of its own.
    PERFORM rillflow._sync_log();
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
CREATE OR REPLACE FUNCTION rillflow._projection_check_lease(store name, name text, token bigint) RETURNS bigint
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

CREATE OR REPLACE FUNCTION rillflow.projection_commit(name text, token bigint, checkpoint bigint, processed integer)
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

CREATE OR REPLACE FUNCTION rillflow.projection_fail(
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

CREATE OR REPLACE FUNCTION rillflow.projection_release(name text, token bigint) RETURNS void
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
