-- The sequencer: gives committed events their dense positions in the global
-- log, in the order they became visible. See docs/global-log.md.
--
-- An append writes its events with a provisional number (seq) and its
-- transaction id (tx). A tick takes the store's sequencer lock, takes a
-- snapshot, and stamps the events whose transaction is visible in that
-- snapshot but was not in the previous tick's: exactly the transactions that
-- committed in between, however out of order they committed. Aborted appends
-- leave no rows to wait on, and an open transaction holds back only its own
-- events.

-- The sequencer lock of a store, held to the end of the transaction (C: a
-- transaction-scoped advisory lock; PREPARE is refused after it is taken).
CREATE FUNCTION rillflow._try_sequencer_lock(store name) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_try_sequencer_lock'
    LANGUAGE C VOLATILE STRICT;

-- One tick on data restored from another cluster, where the recorded
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

-- One tick of the store's sequencer. Returns how many events got positions;
-- 0 when another session holds the sequencer lock right now.
CREATE FUNCTION rillflow._sequence(store name) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    state record;
    prev pg_snapshot;
    cur pg_snapshot;
    stamped bigint;
BEGIN
    IF NOT rillflow._try_sequencer_lock(store) THEN
        RETURN 0;
    END IF;
    -- Under READ COMMITTED each statement below sees what earlier ticks
    -- committed before we got the lock.
    EXECUTE format('SELECT head, last_snapshot, system_identifier FROM %I.log_state', store) INTO state;
    IF state.head IS NOT NULL AND state.system_identifier <> rillflow._system_identifier() THEN
        RETURN rillflow._sequence_restored(store, state.head);
    END IF;
    -- Before the first tick nothing has been stamped: a snapshot in which no
    -- transaction is visible.
    prev := coalesce(state.last_snapshot, '1:1:'::pg_snapshot);
    cur := pg_current_snapshot();
    EXECUTE format($q$
        WITH fresh AS (
            SELECT seq FROM %1$I.events
             WHERE tx >= $1
               AND pg_visible_in_snapshot(tx, $2)
               AND NOT pg_visible_in_snapshot(tx, $3)),
        stamped AS (
            INSERT INTO %1$I.positions (position, seq)
            SELECT $4 + row_number() OVER (ORDER BY seq), seq FROM fresh
            RETURNING 1)
        SELECT count(*) FROM stamped$q$, store)
        INTO stamped USING pg_snapshot_xmin(prev), cur, prev, coalesce(state.head, 0);
    -- An idle tick writes nothing: keeping the older snapshot is still exact,
    -- since nothing became visible between it and this one.
    IF stamped > 0 OR state.head IS NULL THEN
        EXECUTE format($q$
            INSERT INTO %I.log_state AS l (id, head, last_snapshot, system_identifier)
            VALUES (true, $1, $2, $3)
            ON CONFLICT (id) DO UPDATE
               SET head = excluded.head, last_snapshot = excluded.last_snapshot,
                   system_identifier = excluded.system_identifier, updated_at = now()$q$, store)
            USING coalesce(state.head, 0) + stamped, cur, rillflow._system_identifier();
    END IF;
    RETURN stamped;
END
$fn$;

CREATE FUNCTION rillflow.run_sequencer() RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'run_sequencer() needs READ COMMITTED, not %', current_setting('transaction_isolation')
            USING ERRCODE = '25000',
                  HINT = 'Call it in its own transaction at the default isolation level.';
    END IF;
    RETURN rillflow._sequence(rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.run_sequencer() IS 'Give positions to the events committed since the last tick';

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
