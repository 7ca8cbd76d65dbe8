-- Subscriptions: create, drop, list, status.

CREATE OR REPLACE FUNCTION rillflow.create_subscription(
    name text,
    event_types text[] DEFAULT NULL,
    categories text[] DEFAULT NULL,
    stream_ids uuid[] DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    start_from bigint DEFAULT 0
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    c text;
BEGIN
    PERFORM rillflow._check_subscription_name('subscription name', name);
    PERFORM rillflow._check_event_types(event_types);
    IF categories IS NOT NULL THEN
        IF cardinality(categories) = 0 OR array_ndims(categories) > 1 THEN
            RAISE EXCEPTION 'categories must be a non-empty one-dimensional array'
                USING ERRCODE = '22023', HINT = 'Pass NULL for every category.';
        END IF;
        FOREACH c IN ARRAY categories LOOP
            PERFORM rillflow._check_category(c);
        END LOOP;
    END IF;
    IF stream_ids IS NOT NULL THEN
        IF cardinality(stream_ids) = 0 OR array_ndims(stream_ids) > 1 THEN
            RAISE EXCEPTION 'stream_ids must be a non-empty one-dimensional array'
                USING ERRCODE = '22023', HINT = 'Pass NULL for every stream.';
        END IF;
        IF array_position(stream_ids, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'stream_ids must not contain NULL' USING ERRCODE = '22004';
        END IF;
    END IF;
    IF headers IS NOT NULL AND jsonb_typeof(headers) <> 'object' THEN
        RAISE EXCEPTION 'headers must be a JSON object, not %', jsonb_typeof(headers)
            USING ERRCODE = '22023', DETAIL = 'The subscription takes events whose headers contain it (@>).';
    END IF;
    IF start_from IS NULL OR start_from < 0 THEN
        RAISE EXCEPTION 'start_from must be 0 or a position, not %', coalesce(start_from::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass 0 to start at the beginning of the log.';
    END IF;
    BEGIN
        EXECUTE format('INSERT INTO %I.subscriptions (name, event_types, categories, stream_ids, headers, start_from)
                        VALUES ($1, $2, $3, $4, $5, $6)', store)
            USING name, event_types, categories, stream_ids, headers, start_from;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'subscription "%" already exists in store "%"', name, store
            USING ERRCODE = '42710', HINT = 'Drop it first with rillflow.drop_subscription(), or pick another name.';
    END;
END
$fn$;
COMMENT ON FUNCTION rillflow.create_subscription(text, text[], text[], uuid[], jsonb, bigint)
    IS 'Create a named, filtered subscription to the global log';

-- Drops the subscription with its groups, outstanding events and dead
-- letters; RF004 when there is none.
CREATE OR REPLACE FUNCTION rillflow.drop_subscription(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    found_it boolean;
BEGIN
    PERFORM rillflow._check_subscription_name('subscription name', name);
    EXECUTE format('DELETE FROM %I.subscriptions WHERE name = $1 RETURNING true', store) INTO found_it USING name;
    IF found_it IS NULL THEN
        PERFORM rillflow._subscription_not_found(store, name);
    END IF;
    EXECUTE format('DELETE FROM %I.subscription_outstanding WHERE subscription = $1', store) USING name;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_subscription(text) IS 'Drop a subscription with its groups and dead letters';

CREATE OR REPLACE FUNCTION rillflow.list_subscriptions()
    RETURNS TABLE (name text, event_types text[], categories text[], stream_ids uuid[], headers jsonb,
                   start_from bigint, groups bigint, created_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT s.name, s.event_types, s.categories, s.stream_ids, s.headers, s.start_from,
               (SELECT count(*) FROM %1$I.subscription_groups g
                 WHERE g.subscription = s.name AND g.group_name <> ''),
               s.created_at
          FROM %1$I.subscriptions s ORDER BY s.name$q$, store);
END
$fn$;
COMMENT ON FUNCTION rillflow.list_subscriptions() IS 'The subscriptions of the current store';

-- The checkpoint of a group (see store.sql): one below its lowest
-- outstanding position, or its frontier.
CREATE OR REPLACE FUNCTION rillflow._subscription_checkpoint(store name, name text, grp text) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cp bigint;
BEGIN
    EXECUTE format($q$
        SELECT coalesce((SELECT min(o.position) - 1 FROM %1$I.subscription_outstanding o
                          WHERE o.subscription = g.subscription AND o.group_name = g.group_name),
                        g.frontier)
          FROM %1$I.subscription_groups g WHERE g.subscription = $1 AND g.group_name = $2$q$, store)
        INTO cp USING name, grp;
    RETURN cp;
END
$fn$;

-- The subscription's filters and its single consumer's state (polls without
-- a group): checkpoint, lag against the log's head, lease, events in flight.
CREATE OR REPLACE FUNCTION rillflow.subscription_status(name text)
    RETURNS TABLE (subscription text, event_types text[], categories text[], stream_ids uuid[], headers jsonb,
                   start_from bigint, checkpoint bigint, head bigint, lag bigint, in_flight bigint,
                   lease_owner text, lease_expires_at timestamptz, dead_lettered bigint, groups bigint,
                   created_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    sub record;
    log_head bigint;
    cp bigint;
BEGIN
    sub := rillflow._subscription_get(store, name);
    log_head := rillflow._log_head(store);
    cp := coalesce(rillflow._subscription_checkpoint(store, name, ''), sub.start_from);
    RETURN QUERY EXECUTE format($q$
        SELECT s.name, s.event_types, s.categories, s.stream_ids, s.headers, s.start_from,
               $2, $3, greatest($3 - $2, 0),
               (SELECT coalesce(sum(coalesce(cardinality(o.batch), 1)), 0)::bigint FROM %1$I.subscription_outstanding o
                 WHERE o.subscription = s.name AND o.group_name = '' AND o.consumer IS NOT NULL
                   AND o.lease_expires_at > clock_timestamp()),
               CASE WHEN g.lease_expires_at > clock_timestamp() THEN g.lease_owner END,
               CASE WHEN g.lease_expires_at > clock_timestamp() THEN g.lease_expires_at END,
               coalesce(g.dead_lettered, 0),
               (SELECT count(*) FROM %1$I.subscription_groups x
                 WHERE x.subscription = s.name AND x.group_name <> ''),
               s.created_at
          FROM %1$I.subscriptions s
          LEFT JOIN %1$I.subscription_groups g ON g.subscription = s.name AND g.group_name = ''
         WHERE s.name = $1$q$, store) USING name, cp, log_head;
END
$fn$;
COMMENT ON FUNCTION rillflow.subscription_status(text)
    IS 'A subscription''s filters, and checkpoint, lag and lease of its single consumer';
