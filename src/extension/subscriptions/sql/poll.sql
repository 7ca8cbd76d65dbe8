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

-- The poll, in C (subscriptions/poll.c), with statements prepared once per
-- backend and store. In an unordered group (and for the single consumer) the
-- events a poll takes past the frontier are one outstanding row, a batch
-- (column batch); a batch whose lease runs out is split into one row per
-- event at the next poll, and a poll that holds the group's row leaves
-- batches pending for the group's other consumers. The event_types filter
-- matches the type an event has as read, after upcasting
-- (docs/subscriptions.md).
CREATE OR REPLACE FUNCTION rillflow.subscription_poll(
    name text,
    max_count integer DEFAULT 100,
    group_name text DEFAULT NULL,
    consumer text DEFAULT NULL,
    lease interval DEFAULT '30 seconds'
) RETURNS SETOF rillflow.event_envelope
    AS 'MODULE_PATHNAME', 'rillflow_subscription_poll'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp
    -- Its statements read the log from the frontier in position order and
    -- stop at a LIMIT: the plan must be the segments' index in order
    -- whatever the statistics say (the log grows faster than autovacuum's
    -- analyse), not a bitmap scan of the whole range and a sort. And each
    -- event is looked up by a seq no other row has: a cache of the lookups
    -- (Memoize, which the planner picks for lack of statistics on the
    -- unnested seqs) only costs, about a tenth of a batch's read.
    SET enable_bitmapscan = off
    SET enable_memoize = off;
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
                     WHERE o.subscription = $1 AND o.group_name = $2
                       AND (o.position = $3 OR o.batch @> ARRAY[$3])', store)
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
-- (and nothing acked) for a position this consumer does not hold a live
-- lease on. Returns how many positions it acked. In C (subscriptions/poll.c).
CREATE OR REPLACE FUNCTION rillflow.subscription_ack(
    name text,
    positions bigint[],
    group_name text DEFAULT NULL,
    consumer text DEFAULT NULL
) RETURNS integer
    AS 'MODULE_PATHNAME', 'rillflow_subscription_ack'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION rillflow.subscription_ack(text, bigint[], text, text)
    IS 'Ack delivered events in the caller''s transaction; RF006 for an event whose lease the consumer lost';

-- The batch of this consumer's live lease holding the position, split into
-- one row per event (consumer, lease and deliveries kept), so that one event
-- of it can be given back.
CREATE OR REPLACE FUNCTION rillflow._subscription_unbatch(store name, name text, grp text, me text, pos bigint)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format($q$
        WITH b AS (
            DELETE FROM %1$I.subscription_outstanding o
             WHERE o.subscription = $1 AND o.group_name = $2 AND o.batch @> ARRAY[$4]
               AND o.consumer = $3 AND o.lease_expires_at > clock_timestamp()
            RETURNING o.batch, o.consumer, o.deliveries, o.lease_expires_at)
        INSERT INTO %1$I.subscription_outstanding
               (subscription, group_name, position, stream_id, consumer, deliveries, lease_expires_at)
        SELECT $1, $2, u.pos, e.stream_id, b.consumer, b.deliveries, b.lease_expires_at
          FROM b CROSS JOIN LATERAL unnest(b.batch) AS u(pos)
          CROSS JOIN LATERAL (
               SELECT g.seqs[(cardinality(g.seqs) - (g.last_position - u.pos))::int4] AS seq
                 FROM %1$I.log_segments g WHERE g.last_position >= u.pos AND u.pos > 0
                ORDER BY g.last_position LIMIT 1) p
          JOIN %1$I.events e ON e.seq = p.seq$q$, store)
        USING name, grp, me, pos;
END
$fn$;

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
    PERFORM rillflow._subscription_unbatch(store, name, grp, me, "position");
    EXECUTE format($q$
        UPDATE %I.subscription_outstanding o
           SET consumer = NULL, lease_expires_at = NULL, available_at = clock_timestamp() + $5
         WHERE o.subscription = $1 AND o.group_name = $2 AND o.position = $3 AND o.batch IS NULL
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
