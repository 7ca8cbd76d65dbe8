-- The sequencer: gives committed events their dense positions in the global
-- log, in the order they became visible. The tick is C (sequencer.c); see
-- docs/global-log.md for how it works.

-- Whether a reader may tick here (C, sequencer.c: only a short,
-- single-statement READ COMMITTED transaction may).
CREATE FUNCTION rillflow._may_sequence() RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_may_sequence'
    LANGUAGE C VOLATILE PARALLEL SAFE;

-- This cluster's system identifier: the log state records which cluster wrote
-- it, so a tick can tell data restored from another cluster.
CREATE FUNCTION rillflow._system_identifier() RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_system_identifier'
    LANGUAGE C STABLE PARALLEL SAFE;

-- One tick on data restored from another cluster (called by the C tick, which
-- holds the sequencer lock), where the recorded
-- transaction ids mean nothing: with every writer locked out for a moment,
-- stamp every event that has no position yet in provisional order, and mark
-- all rows as long committed so no later tick looks at them again. Runs once
-- after such a restore; returns 0 (try again later) while writers are busy.
CREATE FUNCTION rillflow._sequence_restored(store name, head bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cur pg_snapshot;
    stamped bigint;
BEGIN
    BEGIN
        EXECUTE format('LOCK TABLE %I.events IN EXCLUSIVE MODE NOWAIT', store);
    EXCEPTION WHEN lock_not_available THEN
        RETURN 0;
    END;
    cur := pg_current_snapshot();
    EXECUTE format($q$UPDATE %I.events SET tx = '1'::xid8 WHERE tx <> '1'::xid8$q$, store);
    EXECUTE format($q$
        WITH fresh AS (
            SELECT e.seq FROM %1$I.events e
             WHERE NOT EXISTS (SELECT FROM %1$I.positions p WHERE p.seq = e.seq)),
        stamped AS (
            INSERT INTO %1$I.positions (position, seq)
            SELECT $1 + row_number() OVER (ORDER BY seq), seq FROM fresh
            RETURNING 1)
        SELECT count(*) FROM stamped$q$, store)
        INTO stamped USING head;
    EXECUTE format($q$
        UPDATE %I.log_state
           SET head = $1, last_snapshot = $2, system_identifier = $3, updated_at = now()$q$, store)
        USING head + stamped, cur, rillflow._system_identifier();
    RAISE LOG 'rillflow: sequenced % events of store % restored from another cluster', stamped, store;
    RETURN stamped;
END
$fn$;

-- One tick of the store's sequencer (C, events/sequencer.c). Returns
-- how many events got positions; 0 when another session is ticking.
CREATE FUNCTION rillflow._sequence(store name) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_sequence'
    LANGUAGE C VOLATILE STRICT;

-- _sequence refuses anything but READ COMMITTED (25000).
CREATE FUNCTION rillflow.run_sequencer() RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
RETURN rillflow._sequence(rillflow.current_store());
COMMENT ON FUNCTION rillflow.run_sequencer() IS 'Give positions to the events committed since the last tick';

-- The highest position a store's log has given, 0 for an empty log, as the
-- positions table has it now (no tick): what projections measure lag against.
CREATE FUNCTION rillflow._log_head(store name) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    head bigint;
BEGIN
    EXECUTE format('SELECT coalesce(max(position), 0) FROM %I.positions', store) INTO head;
    RETURN head;
END
$fn$;

CREATE FUNCTION rillflow.head_position() RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    head bigint;
BEGIN
    IF rillflow._may_sequence() THEN
        PERFORM rillflow._sequence(store);
    END IF;
    EXECUTE format('SELECT head FROM %I.log_state', store) INTO head;
    RETURN coalesce(head, 0);
END
$fn$;
COMMENT ON FUNCTION rillflow.head_position() IS 'The highest position in the global log';
