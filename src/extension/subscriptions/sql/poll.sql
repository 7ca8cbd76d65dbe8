-- Subscriptions: poll, ack, nack. How a group hands out events is in this
-- folder's README; the invariants in short:
-- - a poll holds its group's row (FOR NO KEY UPDATE) only while it runs, and
--   takes outstanding rows FOR UPDATE SKIP LOCKED: it never waits on an ack,
--   and waits on another poll of the same group at most a few milliseconds;
-- - an ack deletes its rows in the caller's transaction and never touches the
--   group's row, so acks of competing consumers do not serialise;
-- - the frontier moves only over positions at or below the committed head, read
--   after the wait read_all makes, so no committed event is skipped.

-- The lease rule of polls: from 100 milliseconds to 1 day.
CREATE OR REPLACE FUNCTION rillflow._check_subscription_lease(lease interval) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF lease IS NULL THEN
        RAISE EXCEPTION 'lease must not be null' USING ERRCODE = '22004';
    END IF;
    IF lease < interval '100 milliseconds' OR lease > interval '1 day' THEN
        RAISE EXCEPTION 'invalid lease %', lease
            USING ERRCODE = '22023', DETAIL = 'A lease lasts from 100 milliseconds to 1 day.';
    END IF;
END
$fn$;

-- The largest max_count of a poll.
CREATE OR REPLACE FUNCTION rillflow._subscription_max_batch() RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 10000;

-- Hand out up to room deliverable events of the group to consumer me: never
-- delivered, nacked and due, or whose lease ran out (delivered again,
-- deliveries + 1), oldest first; in an ordered group only a stream's lowest
-- outstanding event, so a stream has one event in flight at a time. Rows
-- another transaction holds (a poll handing them out, an ack in progress) are
-- skipped, never waited for. Safe without the group's row: two polls never
-- lock the same row, and the ordered rule reads only row existence.
--
-- Planner notes: the outstanding rows are a small, fast-changing table that
-- autovacuum has often not analysed yet, so every plan must be right without
-- statistics. ORDER BY the whole primary key makes its index the cheapest
-- ordered path (the scan stops after room rows instead of sorting all of the
-- group's rows), and the rows just locked are updated by ctid (a TID scan:
-- they cannot move while this statement holds them).
CREATE OR REPLACE FUNCTION rillflow._subscription_deliver(store name, name text, grp text, me text,
    now_ts timestamptz, max_deliveries integer, ordered boolean, room integer, lease interval)
    RETURNS SETOF rillflow.event_envelope
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH cand AS (
            SELECT o.ctid AS row_id
              FROM %1$I.subscription_outstanding o
             WHERE o.subscription = $1 AND o.group_name = $2
               AND o.deliveries < $5
               AND (o.consumer IS NULL OR o.lease_expires_at <= $3)
               AND (o.available_at IS NULL OR o.available_at <= $3)
               AND (NOT $6 OR NOT EXISTS (
                     SELECT FROM %1$I.subscription_outstanding x
                      WHERE x.subscription = o.subscription AND x.group_name = o.group_name
                        AND x.stream_id = o.stream_id AND x.position < o.position))
             ORDER BY o.subscription, o.group_name, o.position
             LIMIT $7
               FOR UPDATE OF o SKIP LOCKED),
        d AS (
            UPDATE %1$I.subscription_outstanding o
               SET consumer = $4, deliveries = o.deliveries + 1, lease_expires_at = $3 + $8, available_at = NULL
             WHERE o.ctid = ANY ((SELECT array_agg(cand.row_id) FROM cand)::tid[])
            RETURNING o.position)
        -- delivered as read: upcast by the store's chains (docs/event-evolution.md)
        SELECT u.*
          FROM (SELECT p.position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers,
                       e.event_id, e.causation_id, e.correlation_id, e.created_at
                  FROM d JOIN %1$I.positions p ON p.position = d.position JOIN %1$I.events e ON e.seq = p.seq
               ) x
         CROSS JOIN LATERAL rillflow._upcast_envelope($9, ROW(x.*)::rillflow.event_envelope) u
         ORDER BY u.position$q$, store)
        USING name, grp, now_ts, me, max_deliveries, ordered, room, lease, store;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.subscription_poll(
    name text,
    max_count integer DEFAULT 100,
    group_name text DEFAULT NULL,
    consumer text DEFAULT NULL,
    lease interval DEFAULT '30 seconds'
) RETURNS SETOF rillflow.event_envelope
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    grp text := rillflow._subscription_group_key(group_name);      -- 22023
    me text := rillflow._subscription_consumer(consumer);          -- 22023
    sub record;
    g_frontier bigint;
    g_ordered boolean;
    g_max_deliveries integer;
    g_max_in_flight integer;
    g_lease_owner text;
    g_lease_expires_at timestamptz;
    now_ts timestamptz;
    log_head bigint;
    n_out bigint;
    n_live bigint;
    n_due_dead bigint;
    n_dead bigint;
    cap integer;
    fill integer;
    window_end bigint;
    filled bigint;
    last_pos bigint;
    room integer;
    delivered bigint;
    tries integer := 0;
BEGIN
    IF max_count IS NULL OR max_count NOT BETWEEN 1 AND rillflow._subscription_max_batch() THEN
        RAISE EXCEPTION 'max_count must be from 1 to %, not %', rillflow._subscription_max_batch(),
                        coalesce(max_count::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    PERFORM rillflow._check_subscription_lease(lease);
    sub := rillflow._subscription_get(store, name);                 -- RF004

    -- The group's row, held until this poll's transaction ends: who holds it
    -- moves the frontier. When another poll of a group holds it, this one
    -- hands out what is outstanding already (unless the group bounds what is
    -- in flight), and tries again for a few milliseconds when that is
    -- nothing: it never waits on a lock that outlives a poll.
    LOOP
        EXECUTE format($q$
            SELECT g.frontier, g.ordered, g.max_deliveries, g.max_in_flight, g.lease_owner, g.lease_expires_at
              FROM %I.subscription_groups g
             WHERE g.subscription = $1 AND g.group_name = $2
               FOR NO KEY UPDATE SKIP LOCKED$q$, store)
            INTO g_frontier, g_ordered, g_max_deliveries, g_max_in_flight, g_lease_owner, g_lease_expires_at
            USING name, grp;
        EXIT WHEN g_frontier IS NOT NULL;
        IF tries = 0 AND NOT rillflow._subscription_group_exists(store, name, grp) THEN
            -- Create the group at its first poll; a row another poll holds is
            -- not inserted over (ON CONFLICT would wait for that poll's end).
            PERFORM rillflow._subscription_ensure_group(store, name, grp, sub.start_from);
        ELSE
            IF grp <> '' THEN
                EXECUTE format('SELECT ordered, max_deliveries, max_in_flight FROM %I.subscription_groups
                                 WHERE subscription = $1 AND group_name = $2', store)
                    INTO g_ordered, g_max_deliveries, g_max_in_flight USING name, grp;
                IF g_max_in_flight IS NULL THEN
                    RETURN QUERY SELECT * FROM rillflow._subscription_deliver(
                        store, name, grp, me, clock_timestamp(), g_max_deliveries, g_ordered, max_count, lease);
                    GET DIAGNOSTICS delivered = ROW_COUNT;
                    IF delivered > 0 THEN
                        RETURN;
                    END IF;
                END IF;
            END IF;
            IF tries > 25 THEN
                RETURN;                 -- the group is busy: nothing this time
            END IF;
            PERFORM pg_sleep(0.002);
        END IF;
        tries := tries + 1;
    END LOOP;
    -- The log covers every event committed before this call (read_all's wait).
    PERFORM rillflow._subscription_sync_log();
    now_ts := clock_timestamp();

    -- Without a group, one consumer at a time holds the subscription's lease.
    IF grp = '' THEN
        IF g_lease_owner IS NOT NULL AND g_lease_owner <> me AND g_lease_expires_at > now_ts THEN
            IF consumer IS NULL THEN
                RETURN;
            END IF;
            RAISE EXCEPTION 'subscription "%" is leased to consumer "%"', name, g_lease_owner
                USING ERRCODE = 'RF006',
                      DETAIL = format('The lease expires at %s unless its holder polls again.', g_lease_expires_at),
                      HINT = 'Poll with a group_name for competing consumers, or wait for the lease to expire.';
        END IF;
        EXECUTE format('UPDATE %I.subscription_groups SET lease_owner = $3, lease_expires_at = $4, updated_at = $5
                         WHERE subscription = $1 AND group_name = $2', store)
            USING name, grp, me, now_ts + lease, now_ts;
    END IF;
    -- last seen, written at most once a second per consumer
    EXECUTE format($q$
        INSERT INTO %I.subscription_consumers AS c (subscription, group_name, consumer, last_seen)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (subscription, group_name, consumer) DO UPDATE SET last_seen = excluded.last_seen
         WHERE c.last_seen < excluded.last_seen - interval '1 second'$q$, store)
        USING name, grp, me, now_ts;

    EXECUTE format($q$
        SELECT count(*),
               count(*) FILTER (WHERE o.consumer IS NOT NULL AND o.lease_expires_at > $3),
               count(*) FILTER (WHERE o.deliveries >= $4 AND (o.consumer IS NULL OR o.lease_expires_at <= $3)
                                  AND (o.available_at IS NULL OR o.available_at <= $3))
          FROM %I.subscription_outstanding o
         WHERE o.subscription = $1 AND o.group_name = $2$q$, store)
        INTO n_out, n_live, n_due_dead USING name, grp, now_ts, g_max_deliveries;

    -- Events delivered max_deliveries times whose last lease ran out go to
    -- the group's dead letters; the group moves on.
    IF n_due_dead > 0 THEN
        EXECUTE format($q$
            WITH dead AS (
                DELETE FROM %1$I.subscription_outstanding o
                 WHERE o.subscription = $1 AND o.group_name = $2 AND o.position IN (
                       SELECT x.position FROM %1$I.subscription_outstanding x
                        WHERE x.subscription = $1 AND x.group_name = $2 AND x.deliveries >= $4
                          AND (x.consumer IS NULL OR x.lease_expires_at <= $3)
                          AND (x.available_at IS NULL OR x.available_at <= $3)
                          FOR UPDATE SKIP LOCKED)
                RETURNING o.position, o.stream_id, o.deliveries, o.consumer)
            INSERT INTO %1$I.subscription_dlq (subscription, group_name, position, stream_id, deliveries,
                                               last_consumer, dead_at)
            SELECT $1, $2, d.position, d.stream_id, d.deliveries, d.consumer, $3 FROM dead d
            ON CONFLICT DO NOTHING$q$, store)
            USING name, grp, now_ts, g_max_deliveries;
        GET DIAGNOSTICS n_dead = ROW_COUNT;
        n_out := n_out - n_dead;
        IF n_dead > 0 THEN
            EXECUTE format('UPDATE %I.subscription_groups SET dead_lettered = dead_lettered + $3
                             WHERE subscription = $1 AND group_name = $2', store)
                USING name, grp, n_dead;
        END IF;
    END IF;

    -- Take matching events past the frontier into the outstanding rows:
    -- enough for this poll and the group's other consumers (which hand them
    -- out while this poll holds the group's row), more for an ordered group,
    -- whose streams' later events wait for their earlier ones; at most 100000
    -- positions per poll, never past the committed head (read before the
    -- events, so every position at or below it is visible).
    cap := least(greatest(1000, 10 * max_count), 100000);
    fill := CASE WHEN g_ordered OR grp = '' THEN cap - n_out
                 ELSE least(4 * max_count, cap - n_out) END;
    IF fill > 0 THEN
        EXECUTE format('SELECT head FROM %I.log_state', store) INTO log_head;
        log_head := coalesce(log_head, 0);
        IF log_head > g_frontier THEN
            window_end := least(log_head, g_frontier + 100000);
            EXECUTE format($q$
                WITH c AS (
                    SELECT p.position, e.stream_id
                      FROM %1$I.positions p JOIN %1$I.events e ON e.seq = p.seq
                     WHERE p.position > $3 AND p.position <= $4
                       AND ($5::text[] IS NULL OR e.type = ANY ($5))
                       AND ($6::text[] IS NULL OR EXISTS (
                             SELECT FROM %1$I.stream_categories sc
                              WHERE sc.stream_id = e.stream_id AND sc.category = ANY ($6)))
                       AND ($7::uuid[] IS NULL OR e.stream_id = ANY ($7))
                       AND ($8::jsonb IS NULL OR e.headers @> $8)
                     ORDER BY p.position
                     LIMIT $9),
                ins AS (
                    INSERT INTO %1$I.subscription_outstanding (subscription, group_name, position, stream_id)
                    SELECT $1, $2, c.position, c.stream_id FROM c
                    RETURNING position)
                SELECT count(*), max(position) FROM ins$q$, store)
                INTO filled, last_pos
                USING name, grp, g_frontier, window_end, sub.event_types, sub.categories, sub.stream_ids,
                      sub.headers, fill;
            EXECUTE format('UPDATE %I.subscription_groups SET frontier = $3, updated_at = $4
                             WHERE subscription = $1 AND group_name = $2', store)
                USING name, grp, CASE WHEN filled = fill THEN last_pos ELSE window_end END, now_ts;
        END IF;
    END IF;

    -- Hand out the oldest deliverable events, at most max_in_flight out at
    -- once (counted under the group's row).
    room := max_count;
    IF g_max_in_flight IS NOT NULL THEN
        room := least(room, g_max_in_flight - n_live);
    END IF;
    IF room <= 0 THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM rillflow._subscription_deliver(
        store, name, grp, me, now_ts, g_max_deliveries, g_ordered, room, lease);
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_poll(text, integer, text, text, interval)
    IS 'The next matching events for a consumer, each leased to it until acked or its lease runs out';

-- RF006 for an event the consumer may not ack or nack: why, from the row.
CREATE OR REPLACE FUNCTION rillflow._subscription_lease_lost(store name, name text, grp text, me text, pos bigint)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    o_consumer text;
    o_found boolean;
    why text;
BEGIN
    EXECUTE format('SELECT true, o.consumer FROM %I.subscription_outstanding o
                     WHERE o.subscription = $1 AND o.group_name = $2 AND o.position = $3', store)
        INTO o_found, o_consumer USING name, grp, pos;
    why := CASE
        WHEN o_found IS NULL THEN 'it is not in flight (acked already, dead-lettered, or never delivered)'
        WHEN o_consumer IS NULL THEN 'it is waiting to be delivered again'
        WHEN o_consumer <> me THEN format('it was delivered to consumer %L', o_consumer)
        ELSE 'its lease expired' END;
    RAISE EXCEPTION 'lease on position % of subscription "%" lost: %', pos, name, why
        USING ERRCODE = 'RF006',
              DETAIL = format('Consumer %L%s.', me,
                              CASE WHEN grp = '' THEN '' ELSE format(' in group %L', grp) END),
              HINT = 'Roll back this transaction: the event is (or will be) delivered again.';
END
$fn$;

-- Acks the positions for this consumer in the caller's transaction: they
-- are done when it commits, and delivered again if it rolls back. RF006
-- (before anything is acked) for a position this consumer does not hold a
-- live lease on. Returns how many positions it acked.
CREATE OR REPLACE FUNCTION rillflow.subscription_ack(
    name text,
    positions bigint[],
    group_name text DEFAULT NULL,
    consumer text DEFAULT NULL
) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    grp text := rillflow._subscription_group_key(group_name);
    me text := rillflow._subscription_consumer(consumer);
    acked integer;
    missing bigint;
BEGIN
    PERFORM rillflow._subscription_get(store, name);               -- RF004
    PERFORM rillflow._check_positions(positions);
    EXECUTE format($q$
        WITH a AS (
            DELETE FROM %I.subscription_outstanding o
             WHERE o.subscription = $1 AND o.group_name = $2 AND o.position = ANY ($3)
               AND o.consumer = $4 AND o.lease_expires_at > clock_timestamp()
            RETURNING o.position)
        SELECT (SELECT count(*) FROM a),
               (SELECT min(x) FROM unnest($3) x WHERE x NOT IN (SELECT a.position FROM a))$q$, store)
        INTO acked, missing USING name, grp, positions, me;
    IF missing IS NOT NULL THEN
        PERFORM rillflow._subscription_lease_lost(store, name, grp, me, missing);
    END IF;
    RETURN acked;
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_ack(text, bigint[], text, text)
    IS 'Ack delivered events in the caller''s transaction; RF006 for an event whose lease the consumer lost';

-- Gives an event back: it is delivered again (deliveries so far kept) once
-- retry_after has passed. RF006 unless the consumer holds its lease.
CREATE OR REPLACE FUNCTION rillflow.subscription_nack(
    name text,
    "position" bigint,
    group_name text DEFAULT NULL,
    consumer text DEFAULT NULL,
    retry_after interval DEFAULT '0 seconds'
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    grp text := rillflow._subscription_group_key(group_name);
    me text := rillflow._subscription_consumer(consumer);
    done boolean;
BEGIN
    PERFORM rillflow._subscription_get(store, name);               -- RF004
    IF "position" IS NULL THEN
        RAISE EXCEPTION 'position must not be null' USING ERRCODE = '22004';
    END IF;
    IF retry_after IS NULL THEN
        RAISE EXCEPTION 'retry_after must not be null' USING ERRCODE = '22004',
            HINT = 'Pass ''0 seconds'' to have it delivered again at once.';
    END IF;
    IF retry_after < interval '0' OR retry_after > interval '7 days' THEN
        RAISE EXCEPTION 'invalid retry_after %', retry_after
            USING ERRCODE = '22023', DETAIL = 'retry_after is from 0 to 7 days.';
    END IF;
    EXECUTE format($q$
        UPDATE %I.subscription_outstanding o
           SET consumer = NULL, lease_expires_at = NULL, available_at = clock_timestamp() + $5
         WHERE o.subscription = $1 AND o.group_name = $2 AND o.position = $3
           AND o.consumer = $4 AND o.lease_expires_at > clock_timestamp()
        RETURNING true$q$, store)
        INTO done USING name, grp, "position", me, retry_after;
    IF done IS NULL THEN
        PERFORM rillflow._subscription_lease_lost(store, name, grp, me, "position");
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_nack(text, bigint, text, text, interval)
    IS 'Give a delivered event back, to be delivered again after retry_after';
