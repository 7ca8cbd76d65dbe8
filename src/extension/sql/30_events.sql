-- Events: append (C, src/extension/append.c), read, versions, aliases.

CREATE FUNCTION rillflow.append_events(
    stream_id uuid,
    events jsonb,
    expected_version bigint DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    causation_id uuid DEFAULT NULL,
    correlation_id uuid DEFAULT NULL
) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_append_events'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
-- No SET search_path here: it would cost a settings save and restore on every
-- append, and the C code schema-qualifies every name and operator it uses.
COMMENT ON FUNCTION rillflow.append_events(uuid, jsonb, bigint, text, jsonb, uuid, uuid)
    IS 'Append events to a stream; returns the stream''s new version';

CREATE FUNCTION rillflow.append_event(
    stream_id uuid,
    type text,
    body jsonb,
    expected_version bigint DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    causation_id uuid DEFAULT NULL,
    correlation_id uuid DEFAULT NULL,
    event_version integer DEFAULT NULL,
    event_id uuid DEFAULT NULL
) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_append_event'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.append_event(uuid, text, jsonb, bigint, text, jsonb, uuid, uuid, integer, uuid)
    IS 'Append one event to a stream; returns the stream''s new version';

CREATE FUNCTION rillflow.read_stream(
    stream_id uuid,
    from_version bigint DEFAULT 1,
    max_count integer DEFAULT NULL
) RETURNS SETOF rillflow.event_envelope
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF stream_id IS NULL THEN
        RAISE EXCEPTION 'stream_id must not be null'
            USING ERRCODE = '22004',
                  HINT = 'Use rillflow.resolve_stream_alias() to get an id for a name.';
    END IF;
    IF from_version IS NULL OR from_version < 1 THEN
        RAISE EXCEPTION 'from_version must be at least 1, not %', coalesce(from_version::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Versions start at 1.';
    END IF;
    IF max_count < 1 THEN
        RAISE EXCEPTION 'max_count must be positive or NULL, not %', max_count
            USING ERRCODE = '22023', HINT = 'Pass NULL to read the whole stream.';
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT p.position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers,
               e.event_id, e.causation_id, e.correlation_id, e.created_at
          FROM %1$I.events e
          LEFT JOIN %1$I.positions p ON p.seq = e.seq
         WHERE e.stream_id = $1 AND e.version >= $2
         ORDER BY e.version
         LIMIT $3$q$, rillflow.current_store())
        USING stream_id, from_version, max_count;
END
$fn$;
COMMENT ON FUNCTION rillflow.read_stream(uuid, bigint, integer) IS 'A stream''s events in version order';

CREATE FUNCTION rillflow.read_all(
    after_position bigint DEFAULT 0,
    max_count integer DEFAULT 1000,
    event_types text[] DEFAULT NULL
) RETURNS SETOF rillflow.event_envelope
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    query text;
BEGIN
    IF after_position IS NULL OR after_position < 0 THEN
        RAISE EXCEPTION 'after_position must be 0 or a position, not %', coalesce(after_position::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass 0 to read from the start of the log.';
    END IF;
    IF max_count IS NULL OR max_count < 1 OR max_count > 100000 THEN
        RAISE EXCEPTION 'max_count must be from 1 to 100000, not %', coalesce(max_count::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF event_types IS NOT NULL AND array_position(event_types, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'event_types must not contain NULL'
            USING ERRCODE = '22004', HINT = 'Pass NULL instead of the array to read every type.';
    END IF;
    IF rillflow._may_sequence() THEN
        PERFORM rillflow._sequence(store);
    END IF;
    query := format($q$
        SELECT p.position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers,
               e.event_id, e.causation_id, e.correlation_id, e.created_at
          FROM %1$I.positions p
          JOIN %1$I.events e ON e.seq = p.seq
         WHERE p.position > $1 %2$s
         ORDER BY p.position
         LIMIT $2$q$, store, CASE WHEN event_types IS NULL THEN '' ELSE 'AND e.type = ANY ($3)' END);
    RETURN QUERY EXECUTE query USING after_position, max_count, event_types;
END
$fn$;
COMMENT ON FUNCTION rillflow.read_all(bigint, integer, text[])
    IS 'The global log after a position: every committed event once, in position order';

CREATE FUNCTION rillflow.stream_version(stream_id uuid) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    IF stream_id IS NULL THEN
        RAISE EXCEPTION 'stream_id must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('SELECT version FROM %I.streams WHERE stream_id = $1', rillflow.current_store())
        INTO v USING stream_id;
    RETURN v;
END
$fn$;
COMMENT ON FUNCTION rillflow.stream_version(uuid) IS 'A stream''s current version, NULL when it does not exist';

CREATE FUNCTION rillflow.resolve_stream_alias(alias text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    id uuid;
BEGIN
    IF alias IS NULL THEN
        RAISE EXCEPTION 'alias must not be null' USING ERRCODE = '22004';
    END IF;
    IF length(alias) NOT BETWEEN 1 AND 512 THEN
        RAISE EXCEPTION 'alias must be 1 to 512 characters long, not %', length(alias)
            USING ERRCODE = '22023';
    END IF;
    IF alias ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'alias must not contain control characters'
            USING ERRCODE = '22023', DETAIL = format('Got %L.', left(alias, 64));
    END IF;
    EXECUTE format('SELECT stream_id FROM %I.stream_aliases WHERE alias = $1', store) INTO id USING alias;
    IF id IS NULL THEN
        -- Of two first callers, the second waits on the primary key, finds the
        -- first's row and reads it in the next statement.
        EXECUTE format($q$
            INSERT INTO %I.stream_aliases (alias, stream_id) VALUES ($1, gen_random_uuid())
            ON CONFLICT (alias) DO NOTHING RETURNING stream_id$q$, store)
            INTO id USING alias;
        IF id IS NULL THEN
            EXECUTE format('SELECT stream_id FROM %I.stream_aliases WHERE alias = $1', store)
                INTO id USING alias;
        END IF;
    END IF;
    RETURN id;
END
$fn$;
COMMENT ON FUNCTION rillflow.resolve_stream_alias(text) IS 'The stream id for an alias, created on first use';
