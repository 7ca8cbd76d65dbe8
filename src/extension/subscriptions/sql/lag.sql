-- Subscriptions: lag per subscription and group of a store, for exporters
-- (the subscription_lag view: the current store; rillflow.metrics(): every
-- store the caller may read). The head is the log's as it
-- stands, without a tick; lag = head - checkpoint, as for projections.

CREATE OR REPLACE FUNCTION rillflow._subscription_lag_of(store name)
    RETURNS TABLE (subscription text, group_name text, checkpoint bigint, head bigint, lag bigint,
                   in_flight bigint, dead_lettered bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT s.name, nullif(g.group_name, ''), cp.checkpoint, $1, greatest($1 - cp.checkpoint, 0),
               coalesce(o.in_flight, 0), coalesce(g.dead_lettered, 0)
          FROM %1$I.subscriptions s
          LEFT JOIN %1$I.subscription_groups g ON g.subscription = s.name
          LEFT JOIN LATERAL (
                SELECT coalesce(sum(coalesce(cardinality(x.batch), 1)) FILTER (WHERE x.consumer IS NOT NULL AND x.lease_expires_at > clock_timestamp()), 0)::bigint AS in_flight,
                       min(x.position) AS low
                  FROM %1$I.subscription_outstanding x
                 WHERE x.subscription = g.subscription AND x.group_name = g.group_name) o ON true
          CROSS JOIN LATERAL (SELECT coalesce(o.low - 1, g.frontier, s.start_from) AS checkpoint) cp
         ORDER BY s.name, g.group_name$q$, store) USING rillflow._log_head(store);
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow._subscription_lag()
    RETURNS TABLE (subscription text, group_name text, checkpoint bigint, head bigint, lag bigint,
                   in_flight bigint, dead_lettered bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT l.subscription, l.group_name, l.checkpoint, l.head, l.lag, l.in_flight, l.dead_lettered
      FROM rillflow._subscription_lag_of(rillflow.current_store()) l;
END;

CREATE OR REPLACE VIEW rillflow.subscription_lag AS
    SELECT * FROM rillflow._subscription_lag();
COMMENT ON VIEW rillflow.subscription_lag
    IS 'Lag of every subscription and consumer group of the current store (group_name NULL: the single consumer)';
GRANT SELECT ON rillflow.subscription_lag TO PUBLIC;
