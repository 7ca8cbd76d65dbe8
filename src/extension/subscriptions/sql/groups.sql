-- Subscriptions: group settings and status, and the dead letters. A group
-- comes into being at its first poll or setting; settings apply from the
-- next poll. group_name NULL is the subscription's single consumer.

-- Lock the group's row (waits for a running poll, which holds it briefly),
-- creating it first when it has none.
CREATE OR REPLACE FUNCTION rillflow._subscription_lock_group(store name, name text, grp text, start_from bigint)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM rillflow._subscription_ensure_group(store, name, grp, start_from);
    EXECUTE format('SELECT FROM %I.subscription_groups WHERE subscription = $1 AND group_name = $2
                      FOR NO KEY UPDATE', store) USING name, grp;
END
$fn$;

-- Sets an ordered group (a stream's events to one consumer at a time, in
-- stream order) and how many deliveries an event gets before it is
-- dead-lettered; NULL leaves a setting as it is.
CREATE OR REPLACE FUNCTION rillflow.subscription_group_configure(
    name text,
    group_name text,
    ordered boolean DEFAULT NULL,
    max_deliveries integer DEFAULT NULL
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    sub record;
BEGIN
    sub := rillflow._subscription_get(store, name);                 -- RF004
    PERFORM rillflow._check_subscription_name('group name', group_name);
    IF max_deliveries IS NOT NULL AND max_deliveries NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_deliveries must be from 1 to 1000, not %', max_deliveries USING ERRCODE = '22023';
    END IF;
    PERFORM rillflow._subscription_lock_group(store, name, group_name, sub.start_from);
    EXECUTE format('UPDATE %I.subscription_groups
                       SET ordered = coalesce($3, ordered), max_deliveries = coalesce($4, max_deliveries),
                           updated_at = now()
                     WHERE subscription = $1 AND group_name = $2', store)
        USING name, group_name, ordered, max_deliveries;
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_group_configure(text, text, boolean, integer)
    IS 'Set a consumer group''s ordering and max deliveries (created when it does not exist)';

-- Bounds the events a group has out at once; NULL unsets the bound.
CREATE OR REPLACE FUNCTION rillflow.set_group_max_in_flight(name text, group_name text, value integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    sub record;
BEGIN
    sub := rillflow._subscription_get(store, name);                 -- RF004
    PERFORM rillflow._check_subscription_name('group name', group_name);
    IF value IS NOT NULL AND value NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'max_in_flight must be from 1 to 100000, not %', value
            USING ERRCODE = '22023', HINT = 'Pass NULL to unset the bound.';
    END IF;
    PERFORM rillflow._subscription_lock_group(store, name, group_name, sub.start_from);
    EXECUTE format('UPDATE %I.subscription_groups SET max_in_flight = $3, updated_at = now()
                     WHERE subscription = $1 AND group_name = $2', store)
        USING name, group_name, value;
END
$fn$;
COMMENT ON FUNCTION rillflow.set_group_max_in_flight(text, text, integer)
    IS 'Bound the events a consumer group has out at once (NULL unsets)';

-- One row per group of the subscription (not its single consumer).
CREATE OR REPLACE FUNCTION rillflow.subscription_groups(name text)
    RETURNS TABLE (group_name text, ordered boolean, max_deliveries integer, max_in_flight integer,
                   checkpoint bigint, head bigint, lag bigint, in_flight bigint, pending bigint,
                   dead_lettered bigint, consumers bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._subscription_get(store, name);                -- RF004
    RETURN QUERY EXECUTE format($q$
        SELECT g.group_name, g.ordered, g.max_deliveries, g.max_in_flight, cp.checkpoint, $2,
               greatest($2 - cp.checkpoint, 0), o.in_flight, o.pending, g.dead_lettered,
               (SELECT count(*) FROM %1$I.subscription_consumers c
                 WHERE c.subscription = g.subscription AND c.group_name = g.group_name)
          FROM %1$I.subscription_groups g
          CROSS JOIN LATERAL (
                SELECT coalesce(sum(coalesce(cardinality(x.batch), 1)) FILTER (WHERE x.consumer IS NOT NULL AND x.lease_expires_at > clock_timestamp()), 0)::bigint AS in_flight,
                       coalesce(sum(coalesce(cardinality(x.batch), 1)) FILTER (WHERE NOT (x.consumer IS NOT NULL AND x.lease_expires_at > clock_timestamp())), 0)::bigint AS pending,
                       min(x.position) AS low
                  FROM %1$I.subscription_outstanding x
                 WHERE x.subscription = g.subscription AND x.group_name = g.group_name) o
          CROSS JOIN LATERAL (SELECT coalesce(o.low - 1, g.frontier) AS checkpoint) cp
         WHERE g.subscription = $1 AND g.group_name <> ''
         ORDER BY g.group_name$q$, store) USING name, rillflow._log_head(store);
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_groups(text) IS 'The consumer groups of a subscription, with checkpoint and lag';

-- A group's state: checkpoint (last_seq), head, lag, what is in flight and
-- pending, its settings, and its consumers with when each was last seen.
-- group_name NULL: the subscription's single consumer.
CREATE OR REPLACE FUNCTION rillflow.subscription_group_status(name text, group_name text)
    RETURNS TABLE (last_seq bigint, head bigint, lag bigint, in_flight bigint, max_in_flight integer,
                   pending bigint, ordered boolean, max_deliveries integer, dead_lettered bigint,
                   dlq_size bigint, consumers jsonb)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    grp text := rillflow._subscription_group_key(group_name);
BEGIN
    PERFORM rillflow._subscription_get(store, name);                -- RF004
    RETURN QUERY EXECUTE format($q$
        SELECT cp.checkpoint, $3, greatest($3 - cp.checkpoint, 0), o.in_flight, g.max_in_flight, o.pending,
               g.ordered, g.max_deliveries, g.dead_lettered,
               (SELECT count(*) FROM %1$I.subscription_dlq d
                 WHERE d.subscription = g.subscription AND d.group_name = g.group_name),
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                                  'consumer', c.consumer, 'last_seen', c.last_seen,
                                  'in_flight', (SELECT coalesce(sum(coalesce(cardinality(y.batch), 1)), 0)::bigint FROM %1$I.subscription_outstanding y
                                                 WHERE y.subscription = c.subscription AND y.group_name = c.group_name
                                                   AND y.consumer = c.consumer
                                                   AND y.lease_expires_at > clock_timestamp()))
                                  ORDER BY c.consumer)
                           FROM %1$I.subscription_consumers c
                          WHERE c.subscription = g.subscription AND c.group_name = g.group_name), '[]')
          FROM %1$I.subscription_groups g
          CROSS JOIN LATERAL (
                SELECT coalesce(sum(coalesce(cardinality(x.batch), 1)) FILTER (WHERE x.consumer IS NOT NULL AND x.lease_expires_at > clock_timestamp()), 0)::bigint AS in_flight,
                       coalesce(sum(coalesce(cardinality(x.batch), 1)) FILTER (WHERE NOT (x.consumer IS NOT NULL AND x.lease_expires_at > clock_timestamp())), 0)::bigint AS pending,
                       min(x.position) AS low
                  FROM %1$I.subscription_outstanding x
                 WHERE x.subscription = g.subscription AND x.group_name = g.group_name) o
          CROSS JOIN LATERAL (SELECT coalesce(o.low - 1, g.frontier) AS checkpoint) cp
         WHERE g.subscription = $1 AND g.group_name = $2$q$, store) USING name, grp, rillflow._log_head(store);
    IF NOT FOUND THEN
        PERFORM rillflow._subscription_not_found(store, name, coalesce(group_name, '(single consumer)'));
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_group_status(text, text)
    IS 'A consumer group''s checkpoint, lag, in-flight events, settings and consumers';

-- The group's dead letters, oldest position first, with each event's type.
CREATE OR REPLACE FUNCTION rillflow.subscription_dlq_list(name text, group_name text DEFAULT NULL)
    RETURNS TABLE ("position" bigint, stream_id uuid, type text, deliveries integer, last_consumer text,
                   dead_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    grp text := rillflow._subscription_group_key(group_name);
BEGIN
    PERFORM rillflow._subscription_get(store, name);                -- RF004
    RETURN QUERY EXECUTE format($q$
        SELECT d.position, d.stream_id, e.type, d.deliveries, d.last_consumer, d.dead_at
          FROM %1$I.subscription_dlq d
          LEFT JOIN LATERAL (
               SELECT g.seqs[(cardinality(g.seqs) - (g.last_position - d.position))::int4] AS seq
                 FROM %1$I.log_segments g WHERE g.last_position >= d.position AND d.position > 0
                ORDER BY g.last_position LIMIT 1) p ON true
          LEFT JOIN %1$I.events e ON e.seq = p.seq
         WHERE d.subscription = $1 AND d.group_name = $2
         ORDER BY d.position$q$, store) USING name, grp;
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_dlq_list(text, text) IS 'A consumer group''s dead-lettered events';

-- Puts dead letters (all when positions is NULL) back to be delivered, with
-- their deliveries reset; the group's checkpoint goes back below them.
-- Returns how many.
CREATE OR REPLACE FUNCTION rillflow.subscription_dlq_requeue(name text, group_name text DEFAULT NULL,
                                                             positions bigint[] DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    grp text := rillflow._subscription_group_key(group_name);
    sub record;
    n integer;
BEGIN
    sub := rillflow._subscription_get(store, name);                 -- RF004
    IF positions IS NOT NULL THEN
        PERFORM rillflow._check_positions(positions);
    END IF;
    PERFORM rillflow._subscription_lock_group(store, name, grp, sub.start_from);
    EXECUTE format($q$
        WITH d AS (
            DELETE FROM %1$I.subscription_dlq d
             WHERE d.subscription = $1 AND d.group_name = $2 AND ($3::bigint[] IS NULL OR d.position = ANY ($3))
            RETURNING d.position, d.stream_id)
        INSERT INTO %1$I.subscription_outstanding (subscription, group_name, position, stream_id)
        SELECT $1, $2, d.position, d.stream_id FROM d
        ON CONFLICT DO NOTHING$q$, store) USING name, grp, positions;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_dlq_requeue(text, text, bigint[])
    IS 'Deliver dead-lettered events again (all when positions is NULL)';

-- Deletes dead letters (all when positions is NULL); returns how many.
CREATE OR REPLACE FUNCTION rillflow.subscription_dlq_delete(name text, group_name text DEFAULT NULL,
                                                            positions bigint[] DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    grp text := rillflow._subscription_group_key(group_name);
    n integer;
BEGIN
    PERFORM rillflow._subscription_get(store, name);                -- RF004
    IF positions IS NOT NULL THEN
        PERFORM rillflow._check_positions(positions);
    END IF;
    EXECUTE format('DELETE FROM %I.subscription_dlq d
                     WHERE d.subscription = $1 AND d.group_name = $2
                       AND ($3::bigint[] IS NULL OR d.position = ANY ($3))', store) USING name, grp, positions;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_dlq_delete(text, text, bigint[])
    IS 'Delete dead-lettered events (all when positions is NULL)';
