-- Snapshots: an aggregate's state at a stream version, per store (see
-- docs/aggregates.md). A snapshot never claims a version its stream does not
-- have: snapshot_save checks it under a share lock on the stream's row (an
-- append in flight holds that row: the save waits for it), and
-- snapshot_load reads only snapshots at or below the stream's version.

-- The aggregate name rule (22004, 22023): as for projections, a plain
-- identifier-like name, since it shows up in logs, metrics and CLI output.
CREATE OR REPLACE FUNCTION rillflow._check_aggregate_name(name text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'aggregate name must not be null' USING ERRCODE = '22004';
    END IF;
    IF name !~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid aggregate name %', quote_literal(left(name, 64))
            USING ERRCODE = '22023',
                  HINT = 'An aggregate name is 1 to 63 characters of letters, digits, _ and -, starting with a letter.';
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.snapshot_save(
    stream_id uuid,
    aggregate text,
    version bigint,
    state jsonb,
    state_version integer DEFAULT 1
) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    stream_version bigint;
    saved integer;
BEGIN
    IF stream_id IS NULL THEN
        RAISE EXCEPTION 'stream_id must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._check_aggregate_name(aggregate);
    IF version IS NULL OR version < 1 THEN
        RAISE EXCEPTION 'version must be at least 1, not %', coalesce(version::text, 'NULL')
            USING ERRCODE = CASE WHEN version IS NULL THEN '22004' ELSE '22023' END,
                  HINT = 'A snapshot is the state after the event at that stream version.';
    END IF;
    IF state IS NULL THEN
        RAISE EXCEPTION 'state must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._check_event_version('state_version', state_version);
    -- An append in flight holds the stream's row: wait for it, so the
    -- version compared is a committed one.
    EXECUTE format('SELECT version FROM %I.streams WHERE stream_id = $1 FOR SHARE', store)
        INTO stream_version USING stream_id;
    IF stream_version IS NULL THEN
        RAISE EXCEPTION 'stream % does not exist', stream_id USING ERRCODE = 'RF004';
    END IF;
    IF version > stream_version THEN
        RAISE EXCEPTION 'snapshot version % is ahead of stream % at version %', version, stream_id, stream_version
            USING ERRCODE = 'RF001',
                  DETAIL = 'A snapshot never claims a version its stream does not have.';
    END IF;
    EXECUTE format($q$
        INSERT INTO %1$I.snapshots AS s (stream_id, aggregate, state_version, version, state)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (stream_id, aggregate, state_version) DO UPDATE
            SET version = excluded.version, state = excluded.state, created_at = now()
            WHERE s.version <= excluded.version$q$, store)
        USING stream_id, aggregate, state_version, version, state;
    GET DIAGNOSTICS saved = ROW_COUNT;
    EXECUTE format('INSERT INTO %I.aggregate_streams (aggregate, stream_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
                   store) USING aggregate, stream_id;
    RETURN saved = 1;
END
$fn$;
COMMENT ON FUNCTION rillflow.snapshot_save(uuid, text, bigint, jsonb, integer)
    IS 'Save an aggregate''s state at a stream version; false when a newer snapshot is kept';

CREATE OR REPLACE FUNCTION rillflow.snapshot_load(
    stream_id uuid,
    aggregate text,
    state_version integer DEFAULT 1
) RETURNS TABLE (version bigint, state jsonb)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF stream_id IS NULL THEN
        RAISE EXCEPTION 'stream_id must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._check_aggregate_name(aggregate);
    PERFORM rillflow._check_event_version('state_version', state_version);
    RETURN QUERY EXECUTE format($q$
        SELECT sn.version, sn.state FROM %1$I.snapshots sn JOIN %1$I.streams st ON st.stream_id = sn.stream_id
         WHERE sn.stream_id = $1 AND sn.aggregate = $2 AND sn.state_version = $3 AND sn.version <= st.version$q$,
        rillflow.current_store()) USING stream_id, aggregate, state_version;
END
$fn$;
COMMENT ON FUNCTION rillflow.snapshot_load(uuid, text, integer)
    IS 'The newest snapshot of an aggregate at or below its stream''s version; no row when there is none';

CREATE OR REPLACE FUNCTION rillflow.snapshot_delete(
    stream_id uuid,
    aggregate text,
    state_version integer DEFAULT NULL
) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    deleted integer;
BEGIN
    IF stream_id IS NULL THEN
        RAISE EXCEPTION 'stream_id must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._check_aggregate_name(aggregate);
    IF state_version IS NOT NULL THEN
        PERFORM rillflow._check_event_version('state_version', state_version);
    END IF;
    EXECUTE format('DELETE FROM %I.snapshots WHERE stream_id = $1 AND aggregate = $2 '
                   'AND ($3::integer IS NULL OR state_version = $3)', rillflow.current_store())
        USING stream_id, aggregate, state_version;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$fn$;
COMMENT ON FUNCTION rillflow.snapshot_delete(uuid, text, integer)
    IS 'Delete an aggregate''s snapshots of a stream (every state_version when NULL); returns how many';

CREATE OR REPLACE FUNCTION rillflow.aggregate_track(aggregate text, stream_id uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM rillflow._check_aggregate_name(aggregate);
    IF stream_id IS NULL THEN
        RAISE EXCEPTION 'stream_id must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('INSERT INTO %I.aggregate_streams (aggregate, stream_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
                   rillflow.current_store()) USING aggregate, stream_id;
END
$fn$;
COMMENT ON FUNCTION rillflow.aggregate_track(text, uuid)
    IS 'Keep a stream as an instance of an aggregate, for the snapshotter (aggregate_commit does it itself)';

-- The streams of an aggregate with at least `threshold` events since their
-- newest snapshot (of state_version), at most `batch`, locked for the
-- caller's transaction; streams another snapshotter holds are skipped, so
-- two snapshotters never work on the same stream.
CREATE OR REPLACE FUNCTION rillflow.snapshot_candidates(
    aggregate text,
    threshold integer DEFAULT 200,
    batch integer DEFAULT 200,
    state_version integer DEFAULT 1
) RETURNS TABLE (stream_id uuid, version bigint, snapshot_version bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM rillflow._check_aggregate_name(aggregate);
    IF threshold IS NULL OR threshold < 1 THEN
        RAISE EXCEPTION 'threshold must be at least 1, not %', coalesce(threshold::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
        RAISE EXCEPTION 'batch must be from 1 to 100000, not %', coalesce(batch::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    PERFORM rillflow._check_event_version('state_version', state_version);
    RETURN QUERY EXECUTE format($q$
        SELECT m.stream_id, st.version, coalesce(sn.version, 0)
          FROM %1$I.aggregate_streams m
          JOIN %1$I.streams st ON st.stream_id = m.stream_id
          LEFT JOIN %1$I.snapshots sn
            ON sn.stream_id = m.stream_id AND sn.aggregate = m.aggregate AND sn.state_version = $4
         WHERE m.aggregate = $1 AND st.version - coalesce(sn.version, 0) >= $2
         ORDER BY m.stream_id
         LIMIT $3
           FOR UPDATE OF m SKIP LOCKED$q$, rillflow.current_store())
        USING aggregate, threshold, batch, state_version;
END
$fn$;
COMMENT ON FUNCTION rillflow.snapshot_candidates(text, integer, integer, integer)
    IS 'Streams of an aggregate due a snapshot, locked for the caller''s transaction (the snapshotter''s work list)';
