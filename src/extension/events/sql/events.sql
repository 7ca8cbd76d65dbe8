-- Events: append (C, append.c), reads (C, reads.c), aliases.
--
-- The C functions set no search_path: a SET clause would cost a settings save
-- and restore on every call, and the C code schema-qualifies every name and
-- operator it uses.

CREATE OR REPLACE FUNCTION rillflow.append_events(
    stream_id uuid,
    events jsonb,
    expected_version bigint DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    causation_id uuid DEFAULT NULL,
    correlation_id uuid DEFAULT NULL,
    category text DEFAULT NULL
) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_append_events'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.append_events(uuid, jsonb, bigint, text, jsonb, uuid, uuid, text)
    IS 'Append events to a stream; returns the stream''s new version';

CREATE OR REPLACE FUNCTION rillflow.append_event(
    stream_id uuid,
    type text,
    body jsonb,
    expected_version bigint DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    causation_id uuid DEFAULT NULL,
    correlation_id uuid DEFAULT NULL,
    event_version integer DEFAULT NULL,
    event_id uuid DEFAULT NULL,
    category text DEFAULT NULL
) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_append_event'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.append_event(uuid, text, jsonb, bigint, text, jsonb, uuid, uuid, integer, uuid, text)
    IS 'Append one event to a stream; returns the stream''s new version';

CREATE OR REPLACE FUNCTION rillflow.read_stream(
    stream_id uuid,
    from_version bigint DEFAULT 1,
    max_count integer DEFAULT NULL,
    raw boolean DEFAULT false,
    include_archived boolean DEFAULT NULL
) RETURNS SETOF rillflow.event_envelope
    AS 'MODULE_PATHNAME', 'rillflow_read_stream'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rillflow.read_stream(uuid, bigint, integer, boolean, boolean)
    IS 'A stream''s events in version order, upcast unless raw; archived ones when include_archived (NULL: rillflow.include_archived_by_default)';

CREATE OR REPLACE FUNCTION rillflow.read_all(
    after_position bigint DEFAULT 0,
    max_count integer DEFAULT 1000,
    event_types text[] DEFAULT NULL,
    categories text[] DEFAULT NULL,
    raw boolean DEFAULT false,
    include_archived boolean DEFAULT NULL
) RETURNS SETOF rillflow.event_envelope
    AS 'MODULE_PATHNAME', 'rillflow_read_all'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.read_all(bigint, integer, text[], text[], boolean, boolean)
    IS 'The global log after a position: every committed event once, in position order, upcast unless raw; archived ones when include_archived (NULL: rillflow.include_archived_by_default)';

CREATE OR REPLACE FUNCTION rillflow.stream_version(stream_id uuid) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_stream_version'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rillflow.stream_version(uuid) IS 'A stream''s current version, NULL when it does not exist';

CREATE OR REPLACE FUNCTION rillflow.resolve_stream_alias(alias text) RETURNS uuid
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
        ELSIF strpos(alias, ':') > 1 THEN
            -- the new stream's category: the prefix before ':' (subscriptions/categories.c)
            EXECUTE format('INSERT INTO %I.stream_categories (stream_id, category) VALUES ($1, $2)
                            ON CONFLICT (stream_id) DO NOTHING', store)
                USING id, split_part(alias, ':', 1);
        END IF;
    END IF;
    RETURN id;
END
$fn$;
COMMENT ON FUNCTION rillflow.resolve_stream_alias(text) IS 'The stream id for an alias, created on first use';
