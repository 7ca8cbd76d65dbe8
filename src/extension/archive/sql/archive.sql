-- Hot and cold events (archive.c, README.md): archiving and reactivating
-- streams, and the archive's metrics. (An append reactivates the archived
-- stream it finds in C, events/append.c.)

CREATE OR REPLACE FUNCTION rillflow.archive_stream(stream_id uuid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_archive_stream'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.archive_stream(uuid)
    IS 'Move a stream''s events to the archive now; false when it was archived already';

CREATE OR REPLACE FUNCTION rillflow.reactivate_stream(stream_id uuid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_reactivate_stream'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.reactivate_stream(uuid)
    IS 'Move an archived stream''s events back to the hot table; false when it was not archived';

CREATE OR REPLACE FUNCTION rillflow.archive_streams(idle_for interval, max_streams integer DEFAULT 1000)
    RETURNS integer
    AS 'MODULE_PATHNAME', 'rillflow_archive_streams'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.archive_streams(interval, integer)
    IS 'Archive up to max_streams streams with no append for idle_for, in one batch; returns how many';

-- The relation that holds a store's hot events: events itself on the
-- dual_table backend, its partition events_hot on the partitioned one.
CREATE OR REPLACE FUNCTION rillflow._archive_hot_relation(store name) RETURNS regclass
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN (SELECT c.relkind FROM pg_class c
                   WHERE c.oid = to_regclass(format('%I.events', store))) = 'p'
            THEN to_regclass(format('%I.events_hot', store))
            ELSE to_regclass(format('%I.events', store)) END;

-- A store's backend, read from its catalog.
CREATE OR REPLACE FUNCTION rillflow._archive_backend(store name) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN CASE (SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(format('%I.events', store)))
            WHEN 'p' THEN 'partitioned' WHEN 'r' THEN 'dual_table' END;

CREATE OR REPLACE FUNCTION rillflow.archive_backend() RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN rillflow._archive_backend(rillflow.current_store());
COMMENT ON FUNCTION rillflow.archive_backend() IS 'The current store''s archive backend: dual_table or partitioned';

-- One store's archive metrics, the names the seed gives them. The counters
-- need SELECT on archive_counters; the hot size needs nothing.
CREATE OR REPLACE FUNCTION rillflow._archive_metrics(store name)
    RETURNS TABLE (name text, value double precision, help text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    hot regclass := rillflow._archive_hot_relation(store);
BEGIN
    IF hot IS NULL OR to_regclass(format('%I.archive_counters', store)) IS NULL THEN
        RETURN;   -- a store not yet at the archive step (0011_archive)
    END IF;
    IF has_table_privilege(format('%I.archive_counters', store), 'SELECT') THEN
        RETURN QUERY EXECUTE format($q$
            SELECT m.name, m.value, m.help
              FROM (SELECT coalesce(sum(c.streams_marked), 0) AS streams_marked,
                           coalesce(sum(c.streams_reactivated), 0) AS streams_reactivated,
                           coalesce(sum(c.events_moved), 0) AS events_moved,
                           coalesce(sum(c.move_batches), 0) AS move_batches,
                           coalesce(sum(c.move_seconds), 0) AS move_seconds
                      FROM %I.archive_counters c) a
             CROSS JOIN LATERAL (VALUES
                 ('archive_streams_marked_total', a.streams_marked::float8, 'Streams archived'),
                 ('archive_streams_reactivated_total', a.streams_reactivated::float8,
                  'Archived streams made hot again (reactivate_stream, or an append)'),
                 ('archive_events_moved_total', a.events_moved::float8, 'Events moved to the archive'),
                 ('archive_move_batches_total', a.move_batches::float8, 'Moves to the archive (one per archive_stream or archive_streams call that archived)'),
                 ('archive_move_duration_seconds', a.move_seconds, 'Seconds spent moving events to the archive, in total')
             ) AS m(name, value, help)$q$, store);
    END IF;
    name := 'archive_events_hot_bytes';
    value := pg_total_relation_size(hot);
    help := 'Bytes of the hot events table, its indexes and TOAST';
    RETURN NEXT;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.archive_metrics()
    RETURNS TABLE (name text, value double precision, help text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT m.name, m.value, m.help FROM rillflow._archive_metrics(rillflow.current_store()) m;
END;
COMMENT ON FUNCTION rillflow.archive_metrics() IS 'The current store''s six archive metrics';
