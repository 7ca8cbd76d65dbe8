-- Subscriptions: the rules of their arguments and the lookups every
-- subscription function starts with. Each rule is written here once.

-- The category rule (C, categories.c; append_events checks it there): 1 to
-- 512 characters, no ':' and no control characters. 22004/22023.
CREATE OR REPLACE FUNCTION rillflow._check_category(category text) RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_check_category'
    LANGUAGE C IMMUTABLE;

-- The wait read_all makes (events/log_sync.c): the log covers every event
-- committed before the call, or 55P03/53000 past rillflow.log_wait_timeout.
CREATE OR REPLACE FUNCTION rillflow._subscription_sync_log() RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_subscription_sync_log'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Raise 22004/22023 unless value is a valid subscription or group name: 1 to
-- 63 characters of letters, digits, _ and -, starting with a letter (the
-- projection name rule), so names are safe in logs and metrics labels.
CREATE OR REPLACE FUNCTION rillflow._check_subscription_name(what text, value text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004';
    END IF;
    IF value !~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid % %', what, quote_literal(left(value, 64))
            USING ERRCODE = '22023',
                  HINT = format('A %s is 1 to 63 characters of letters, digits, _ and -, starting with a letter.', what);
    END IF;
END
$fn$;

-- The consumer a poll or an ack acts for: the one given (the daemon node name
-- rule: 1 to 128 characters of letters, digits and _ . : @ -), or, when NULL,
-- this session (session-<pid>), so an anonymous caller acks what it polled in
-- the same session.
CREATE OR REPLACE FUNCTION rillflow._subscription_consumer(consumer text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF consumer IS NULL THEN
        RETURN 'session-' || pg_backend_pid();
    END IF;
    PERFORM rillflow._cluster_check_name('consumer', consumer);
    RETURN consumer;
END
$fn$;

-- RF004 for a subscription (or a group of one) the current store lacks.
CREATE OR REPLACE FUNCTION rillflow._subscription_not_found(store name, name text, group_name text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF group_name IS NULL THEN
        RAISE EXCEPTION 'subscription "%" does not exist in store "%"', name, store
            USING ERRCODE = 'RF004',
                  HINT = 'rillflow.list_subscriptions() lists the subscriptions of the current store; rillflow.tenant selects the store.';
    END IF;
    RAISE EXCEPTION 'group "%" of subscription "%" does not exist in store "%"', group_name, name, store
        USING ERRCODE = 'RF004',
              HINT = 'A group comes into being at its first poll or setting; rillflow.subscription_groups() lists them.';
END
$fn$;

-- The subscription's row (its filters); RF004 when there is none.
CREATE OR REPLACE FUNCTION rillflow._subscription_get(store name, name text,
    OUT event_types text[], OUT categories text[], OUT stream_ids uuid[], OUT headers jsonb,
    OUT start_from bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM rillflow._check_subscription_name('subscription name', name);
    EXECUTE format('SELECT s.event_types, s.categories, s.stream_ids, s.headers, s.start_from
                      FROM %I.subscriptions s WHERE s.name = $1', store)
        INTO event_types, categories, stream_ids, headers, start_from USING name;
    IF start_from IS NULL THEN
        PERFORM rillflow._subscription_not_found(store, name);
    END IF;
END
$fn$;

-- The group's key: '' for the subscription's single consumer (group_name
-- NULL), else the checked name.
CREATE OR REPLACE FUNCTION rillflow._subscription_group_key(group_name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF group_name IS NULL THEN
        RETURN '';
    END IF;
    PERFORM rillflow._check_subscription_name('group name', group_name);
    RETURN group_name;
END
$fn$;

-- Whether the group has a row (committed, or written by this transaction).
CREATE OR REPLACE FUNCTION rillflow._subscription_group_exists(store name, name text, grp text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found_it boolean;
BEGIN
    EXECUTE format('SELECT true FROM %I.subscription_groups WHERE subscription = $1 AND group_name = $2', store)
        INTO found_it USING name, grp;
    RETURN found_it IS NOT NULL;
END
$fn$;

-- Create the group's row when it has none (its frontier at the
-- subscription's start_from). Never waits on a poll that holds the row.
CREATE OR REPLACE FUNCTION rillflow._subscription_ensure_group(store name, name text, grp text, start_from bigint)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format('INSERT INTO %I.subscription_groups (subscription, group_name, frontier)
                    VALUES ($1, $2, $3) ON CONFLICT (subscription, group_name) DO NOTHING', store)
        USING name, grp, start_from;
END
$fn$;

-- 22023 unless positions is a non-empty one-dimensional array without NULLs.
CREATE OR REPLACE FUNCTION rillflow._check_positions(positions bigint[]) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF positions IS NULL THEN
        RAISE EXCEPTION 'positions must not be null' USING ERRCODE = '22004';
    END IF;
    IF cardinality(positions) = 0 OR array_ndims(positions) > 1 THEN
        RAISE EXCEPTION 'positions must be a non-empty one-dimensional array' USING ERRCODE = '22023';
    END IF;
    IF array_position(positions, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'positions must not contain NULL' USING ERRCODE = '22004';
    END IF;
END
$fn$;
