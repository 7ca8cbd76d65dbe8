-- Projections: failed events. An attempt at an event fails: it is retried
-- after a backoff, then dead-lettered, and the projection goes on; the
-- dead-letter queue keeps the event for an admin.

-- Count a failed attempt at position (the caller holds the row lock or the
-- lease). Returns 'retry' (retry_at set by exponential backoff) or
-- 'dead_lettered' (the DLQ row is written and the checkpoint moves to the
-- event). position NULL means the next event after the checkpoint (a batch
-- cancelled mid-way, with no event to blame).
CREATE OR REPLACE FUNCTION rillflow._projection_record_failure(
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
            SELECT g.last_position - cardinality(g.seqs) + u.o
              FROM %1$I.log_segments g CROSS JOIN LATERAL unnest(g.seqs) WITH ORDINALITY AS u(seq, o)
              JOIN %1$I.events e ON e.seq = u.seq
             WHERE g.last_position > $1 AND g.last_position - cardinality(g.seqs) + u.o > $1
               AND ($2::text[] IS NULL OR e.type = ANY ($2))
             ORDER BY g.last_position, u.o LIMIT 1$q$, store)
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
            SELECT $1 AS position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers,
                   e.event_id, e.causation_id, e.correlation_id, e.created_at
              FROM (SELECT g.seqs[(cardinality(g.seqs) - (g.last_position - $1))::int4] AS seq
                      FROM %1$I.log_segments g WHERE g.last_position >= $1 AND $1 > 0
                     ORDER BY g.last_position LIMIT 1) p
              JOIN %1$I.events e ON e.seq = p.seq) x$q$, store)
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

CREATE OR REPLACE FUNCTION rillflow.dlq_list(name text, "limit" integer DEFAULT 100)
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

CREATE OR REPLACE FUNCTION rillflow._dlq_entry(store name, name text, id bigint) RETURNS text
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

CREATE OR REPLACE FUNCTION rillflow.dlq_requeue(name text, id bigint) RETURNS void
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

CREATE OR REPLACE FUNCTION rillflow.dlq_delete(name text, id bigint) RETURNS void
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
