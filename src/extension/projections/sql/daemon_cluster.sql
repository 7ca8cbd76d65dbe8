-- External projection daemons: hot/cold cluster nodes and leases.
--
-- A cluster is a name shared by daemon processes (nodes). Exactly one node is
-- hot at a time: the one holding the cluster's lease, kept alive by its
-- heartbeats. The others are cold and take the lease when it expires (plus a
-- grace period). Every change of hands increments the cluster's fencing token,
-- so a node that was paused past its lease can tell (and be told, by
-- cluster_fence) that it is no longer the hot one.
--
-- Tables, per store:
--   daemon_clusters   one row per cluster: the hot node, its lease, the token
--   daemon_nodes      one row per node: role, heartbeat, lease settings, origin


-- The name rule of clusters and nodes, written once: 1 to 128 characters of
-- letters, digits and _ . : @ -, so names are safe in logs, metrics labels
-- and URLs. Any text becomes such a name (unless empty) by turning every other
-- character into '-', one per byte as the C++ daemon always did for host
-- names, and keeping the first 128. The C++ daemon names its nodes with it.
CREATE OR REPLACE FUNCTION rillflow.sanitize_node_id(raw text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN left(coalesce((SELECT string_agg(CASE WHEN c ~ '[A-Za-z0-9_.:@-]' THEN c
                                            ELSE repeat('-', octet_length(c)) END, '' ORDER BY n)
                        FROM regexp_split_to_table(raw, '') WITH ORDINALITY AS t(c, n)), ''), 128);
COMMENT ON FUNCTION rillflow.sanitize_node_id(text)
    IS 'Turn any text into a valid daemon node name: other characters become -, cut at 128';

-- Checks a cluster or node name: the non-empty names sanitize_node_id leaves
-- as they are.
CREATE OR REPLACE FUNCTION rillflow._cluster_check_name(what text, value text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004';
    END IF;
    IF value = '' OR rillflow.sanitize_node_id(value) <> value THEN
        RAISE EXCEPTION 'invalid % "%"', what, left(value, 200)
            USING ERRCODE = '22023',
                  DETAIL = format('A %s is 1 to 128 characters: letters, digits, and _ . : @ -.', what);
    END IF;
END
$fn$;

-- Checks the lease settings of a heartbeat or a promotion.
CREATE OR REPLACE FUNCTION rillflow._cluster_check_lease(lease_ttl interval, grace interval) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM rillflow._check_lease_ttl(lease_ttl);
    IF grace IS NULL THEN
        RAISE EXCEPTION 'grace must not be null' USING ERRCODE = '22004';
    END IF;
    IF grace < interval '0' OR grace > interval '1 day' THEN
        RAISE EXCEPTION 'invalid grace %', grace
            USING ERRCODE = '22023', DETAIL = 'The grace period lasts from 0 to 1 day.';
    END IF;
END
$fn$;

-- The settings of a C++ projection daemon, checked by the rules the SQL
-- functions apply to them (the same SQLSTATEs and messages), so the daemon
-- keeps no copy of its own. NULL: not checked.
CREATE OR REPLACE FUNCTION rillflow.check_daemon_settings(
    batch_size integer DEFAULT NULL,
    lease_ttl interval DEFAULT NULL,
    node_id text DEFAULT NULL
) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF batch_size IS NOT NULL THEN
        PERFORM rillflow._check_batch_size(batch_size);
    END IF;
    IF lease_ttl IS NOT NULL THEN
        PERFORM rillflow._check_lease_ttl(lease_ttl);
    END IF;
    IF node_id IS NOT NULL THEN
        PERFORM rillflow._cluster_check_name('node name', node_id);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.check_daemon_settings(integer, interval, text)
    IS 'Check a projection daemon''s batch size, lease TTL and node name as the SQL API does';

-- RF004 for a cluster the store has no node of.
CREATE OR REPLACE FUNCTION rillflow._cluster_not_found(store name, cluster text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'daemon cluster "%" not found', cluster
        USING ERRCODE = 'RF004',
              DETAIL = format('Store %s has no node of that cluster.', store),
              HINT = 'A cluster exists from the first cluster_heartbeat of one of its nodes.';
END
$fn$;

-- What promote, demote and leave start with: the names checked, the
-- cluster's row locked until the transaction ends (so heartbeats and fences
-- wait for the change), and RF004 unless the cluster has the node. Returns
-- the node's lease TTL.
CREATE OR REPLACE FUNCTION rillflow._cluster_lock_node(store name, cluster text, node text) RETURNS interval
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found_cluster boolean;
    ttl interval;
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    PERFORM rillflow._cluster_check_name('node name', node);
    EXECUTE format('SELECT true FROM %I.daemon_clusters d WHERE d.cluster = $1 FOR UPDATE', store)
        INTO found_cluster USING cluster;
    IF found_cluster IS NULL THEN
        PERFORM rillflow._cluster_not_found(store, cluster);
    END IF;
    EXECUTE format('SELECT n.lease_ttl FROM %I.daemon_nodes n WHERE n.cluster = $1 AND n.node_id = $2', store)
        INTO ttl USING cluster, node;
    IF ttl IS NULL THEN
        RAISE EXCEPTION 'node "%" of daemon cluster "%" not found', node, cluster
            USING ERRCODE = 'RF004',
                  HINT = 'A node joins its cluster with its first cluster_heartbeat.';
    END IF;
    RETURN ttl;
END
$fn$;

-- Take the hot lease from node if it holds it (demote, leave); true when it
-- did. The cluster's row is locked by _cluster_lock_node.
CREATE OR REPLACE FUNCTION rillflow._cluster_release_hot(store name, cluster text, node text, t timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    was_hot boolean;
BEGIN
    EXECUTE format('UPDATE %I.daemon_clusters d
                       SET hot_node = NULL, lease_expires_at = NULL, updated_at = $2
                     WHERE d.cluster = $1 AND d.hot_node = $3', store)
        USING cluster, t, node;
    GET DIAGNOSTICS was_hot = ROW_COUNT;
    RETURN was_hot;
END
$fn$;

-- One heartbeat of a node, atomically: the node takes the hot lease when no
-- node holds it or the holder's lease expired more than `grace` ago, renews it
-- when it holds it, and is recorded as cold otherwise. The cluster row is
-- locked for the decision, so two nodes racing for a free lease queue and
-- exactly one wins. Returns the node's role now, the cluster's fencing token,
-- the hot node and its lease expiry.
CREATE OR REPLACE FUNCTION rillflow.cluster_heartbeat(
    cluster text,
    node text,
    lease_ttl interval DEFAULT interval '10 seconds',
    grace interval DEFAULT interval '0',
    hostname text DEFAULT NULL,
    pid integer DEFAULT NULL)
    RETURNS TABLE (hot boolean, token bigint, hot_node text, lease_expires_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    c record;
    t timestamptz;
    standby timestamptz;
    is_hot boolean;
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    PERFORM rillflow._cluster_check_name('node name', node);
    PERFORM rillflow._cluster_check_lease(lease_ttl, grace);
    IF pid IS NOT NULL AND pid < 0 THEN
        RAISE EXCEPTION 'invalid pid %', pid USING ERRCODE = '22023';
    END IF;

    EXECUTE format('INSERT INTO %I.daemon_clusters AS d (cluster) VALUES ($1) ON CONFLICT (cluster) DO NOTHING', store)
        USING cluster;
    EXECUTE format('SELECT d.hot_node, d.lease_expires_at, d.fencing_token FROM %I.daemon_clusters d
                     WHERE d.cluster = $1 FOR UPDATE', store)
        INTO c USING cluster;
    -- The time after the lock is granted: a heartbeat that waited judges expiry now.
    t := clock_timestamp();
    EXECUTE format('SELECT n.standby_until FROM %I.daemon_nodes n WHERE n.cluster = $1 AND n.node_id = $2', store)
        INTO standby USING cluster, node;

    IF c.hot_node IS NOT DISTINCT FROM node THEN
        is_hot := true;                     -- renew (a lapsed lease nobody took is renewed too)
        c.lease_expires_at := t + lease_ttl;
    ELSIF (c.hot_node IS NULL OR c.lease_expires_at + grace < t)
          AND (standby IS NULL OR standby <= t) THEN
        is_hot := true;                     -- take over: a new holder, a new token
        c.hot_node := node;
        c.lease_expires_at := t + lease_ttl;
        c.fencing_token := c.fencing_token + 1;
    ELSE
        is_hot := false;
    END IF;

    IF is_hot THEN
        EXECUTE format('UPDATE %I.daemon_clusters d SET hot_node = $2, lease_expires_at = $3,
                               fencing_token = $4, updated_at = $5
                         WHERE d.cluster = $1', store)
            USING cluster, c.hot_node, c.lease_expires_at, c.fencing_token, t;
        EXECUTE format('UPDATE %I.daemon_nodes n SET role = ''cold''
                         WHERE n.cluster = $1 AND n.node_id <> $2 AND n.role = ''hot''', store)
            USING cluster, node;
    END IF;
    EXECUTE format('INSERT INTO %I.daemon_nodes AS n
                        (cluster, node_id, hostname, pid, role, heartbeat_at, lease_ttl, lease_grace, started_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6)
                    ON CONFLICT (cluster, node_id) DO UPDATE
                       SET hostname = coalesce(EXCLUDED.hostname, n.hostname),
                           pid = coalesce(EXCLUDED.pid, n.pid),
                           role = EXCLUDED.role, heartbeat_at = EXCLUDED.heartbeat_at,
                           lease_ttl = EXCLUDED.lease_ttl, lease_grace = EXCLUDED.lease_grace,
                           standby_until = CASE WHEN n.standby_until > $6 THEN n.standby_until END', store)
        USING cluster, node, hostname, pid, CASE WHEN is_hot THEN 'hot' ELSE 'cold' END, t,
              lease_ttl, grace;

    RETURN QUERY SELECT is_hot, c.fencing_token, c.hot_node, c.lease_expires_at;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_heartbeat(text, text, interval, interval, text, integer) IS
    'One heartbeat of a daemon node: takes, renews or waits for the cluster''s hot lease';

-- The nodes of a cluster with their role now (hot only while the lease is
-- live), whether they are alive (heard from within their lease TTL + grace),
-- their heartbeat age and the lease.
CREATE OR REPLACE FUNCTION rillflow.cluster_status(cluster text)
    RETURNS TABLE (node text, role text, alive boolean, hostname text, pid integer,
                   heartbeat_at timestamptz, heartbeat_age interval, lease_ttl interval,
                   lease_grace interval, lease_expires_at timestamptz, token bigint,
                   started_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    known boolean;
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    EXECUTE format('SELECT EXISTS (SELECT FROM %I.daemon_clusters c WHERE c.cluster = $1)', store)
        INTO known USING cluster;
    IF NOT known THEN
        PERFORM rillflow._cluster_not_found(store, cluster);
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT n.node_id,
               CASE WHEN c.hot_node = n.node_id AND c.lease_expires_at > clock_timestamp()
                    THEN 'hot' ELSE 'cold' END,
               n.heartbeat_at + n.lease_ttl + n.lease_grace > clock_timestamp(),
               n.hostname, n.pid, n.heartbeat_at, clock_timestamp() - n.heartbeat_at,
               n.lease_ttl, n.lease_grace,
               CASE WHEN c.hot_node = n.node_id THEN c.lease_expires_at END,
               CASE WHEN c.hot_node = n.node_id THEN c.fencing_token END,
               n.started_at
          FROM %1$I.daemon_nodes n JOIN %1$I.daemon_clusters c USING (cluster)
         WHERE n.cluster = $1
         ORDER BY n.node_id
    $q$, store) USING cluster;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_status(text) IS 'The nodes of a daemon cluster, their roles, heartbeats and lease';

-- Every cluster of the current store: its hot node (while its lease is live),
-- the lease, the fencing token and how many nodes it has.
CREATE OR REPLACE FUNCTION rillflow.list_clusters()
    RETURNS TABLE (cluster text, hot_node text, lease_expires_at timestamptz, token bigint, nodes bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT c.cluster,
               CASE WHEN c.lease_expires_at > clock_timestamp() THEN c.hot_node END,
               c.lease_expires_at, c.fencing_token,
               (SELECT count(*) FROM %1$I.daemon_nodes n WHERE n.cluster = c.cluster)
          FROM %1$I.daemon_clusters c
         ORDER BY c.cluster
    $q$, rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.list_clusters() IS 'The daemon clusters of the current store, their hot nodes and sizes';

-- Stores the cluster's min_cold_standbys (NULL unsets it), creating the cluster's
-- row when no node has joined yet: the daemons' health (`hotcold`) judges the
-- cluster by it rather than by each daemon's own setting.
CREATE OR REPLACE FUNCTION rillflow.cluster_set_min_cold_standbys(cluster text, min_cold_standbys integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    IF min_cold_standbys < 0 OR min_cold_standbys > 1000 THEN
        RAISE EXCEPTION 'min_cold_standbys must be between 0 and 1000, not %', min_cold_standbys
            USING ERRCODE = '22023', HINT = 'NULL unsets it.';
    END IF;
    EXECUTE format('INSERT INTO %I.daemon_clusters AS d (cluster, min_cold_standbys) VALUES ($1, $2)
                    ON CONFLICT (cluster) DO UPDATE
                       SET min_cold_standbys = EXCLUDED.min_cold_standbys, updated_at = clock_timestamp()', store)
        USING cluster, min_cold_standbys;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_set_min_cold_standbys(text, integer) IS 'Store how many alive cold standbys a healthy daemon cluster has';

-- The hot/cold view of every cluster of the current store, one row per node
-- (a cluster without nodes: one row with node NULL): the cluster's hot node and
-- lease, its stored min_cold_standbys, and each node's role, liveness, heartbeat
-- age in milliseconds and lease expiry (the hot node's). The daemon's health
-- JSON (`hotcold`) is built from it.
CREATE OR REPLACE FUNCTION rillflow.cluster_hotcold()
    RETURNS TABLE (cluster text, hot_node text, lease_expires_at timestamptz, token bigint,
                   min_cold_standbys integer, node text, role text, alive boolean,
                   heartbeat_age_ms bigint, node_lease_expires_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT c.cluster,
               CASE WHEN c.lease_expires_at > clock_timestamp() THEN c.hot_node END,
               c.lease_expires_at, c.fencing_token, c.min_cold_standbys,
               n.node_id,
               CASE WHEN n.node_id IS NULL THEN NULL
                    WHEN c.hot_node = n.node_id AND c.lease_expires_at > clock_timestamp()
                    THEN 'hot' ELSE 'cold' END,
               n.heartbeat_at + n.lease_ttl + n.lease_grace > clock_timestamp(),
               (extract(epoch FROM clock_timestamp() - n.heartbeat_at) * 1000)::bigint,
               CASE WHEN c.hot_node = n.node_id THEN c.lease_expires_at END
          FROM %1$I.daemon_clusters c
          LEFT JOIN %1$I.daemon_nodes n ON n.cluster = c.cluster
         ORDER BY c.cluster, n.node_id
    $q$, rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_hotcold() IS 'Every daemon cluster of the current store with its nodes, heartbeat ages and leases';

-- Makes `node` the hot node now, whoever held the lease: a new token, a lease
-- of the node's own TTL. The old holder learns it is cold at its next
-- heartbeat and cannot pass cluster_fence meanwhile. Returns the new token.
CREATE OR REPLACE FUNCTION rillflow.cluster_promote(cluster text, node text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    t timestamptz;
    ttl interval;
    new_token bigint;
BEGIN
    ttl := rillflow._cluster_lock_node(store, cluster, node);
    t := clock_timestamp();
    EXECUTE format('UPDATE %I.daemon_clusters d
                       SET fencing_token = d.fencing_token + 1, hot_node = $2,
                           lease_expires_at = $3, updated_at = $4
                     WHERE d.cluster = $1 RETURNING d.fencing_token', store)
        INTO new_token USING cluster, node, t + ttl, t;
    EXECUTE format('UPDATE %I.daemon_nodes n
                       SET role = CASE WHEN n.node_id = $2 THEN ''hot'' ELSE ''cold'' END,
                           standby_until = CASE WHEN n.node_id = $2 THEN NULL ELSE n.standby_until END
                     WHERE n.cluster = $1', store)
        USING cluster, node;
    RETURN new_token;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_promote(text, text) IS 'Make a node of a daemon cluster the hot one now';

-- Takes the hot lease from `node` (if it holds it) and keeps the node from
-- taking it again for one lease TTL, so another node takes over. Returns
-- true when the node was hot.
CREATE OR REPLACE FUNCTION rillflow.cluster_demote(cluster text, node text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    t timestamptz;
    was_hot boolean;
BEGIN
    PERFORM rillflow._cluster_lock_node(store, cluster, node);
    t := clock_timestamp();
    was_hot := rillflow._cluster_release_hot(store, cluster, node, t);
    EXECUTE format('UPDATE %I.daemon_nodes n SET role = ''cold'', standby_until = $3 + n.lease_ttl
                     WHERE n.cluster = $1 AND n.node_id = $2', store)
        USING cluster, node, t;
    RETURN was_hot;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_demote(text, text) IS 'Take the hot lease from a daemon node and keep it cold for one lease TTL';

-- Removes a node from its cluster (a clean shutdown); a hot node gives up the
-- lease, so a cold node takes over at its next heartbeat without waiting for
-- the lease to expire. The cluster goes when its last node leaves.
CREATE OR REPLACE FUNCTION rillflow.cluster_leave(cluster text, node text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    left_over bigint;
BEGIN
    PERFORM rillflow._cluster_lock_node(store, cluster, node);
    PERFORM rillflow._cluster_release_hot(store, cluster, node, clock_timestamp());
    EXECUTE format('DELETE FROM %I.daemon_nodes n WHERE n.cluster = $1 AND n.node_id = $2', store)
        USING cluster, node;
    EXECUTE format('SELECT count(*) FROM %I.daemon_nodes n WHERE n.cluster = $1', store)
        INTO left_over USING cluster;
    IF left_over = 0 THEN
        EXECUTE format('DELETE FROM %I.daemon_clusters d WHERE d.cluster = $1', store) USING cluster;
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_leave(text, text) IS 'Remove a node from its daemon cluster, giving up the hot lease';

-- Raises RF006 unless `node` holds the cluster's hot lease with `token` and
-- the lease has not expired. It locks the cluster row FOR SHARE until the
-- caller's transaction ends, so no takeover can commit in between: a daemon
-- calls it in the transaction that commits a projection batch, and a node
-- that lost the lease (paused, partitioned) cannot commit.
CREATE OR REPLACE FUNCTION rillflow.cluster_fence(cluster text, node text, token bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    c record;
    n bigint;
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    PERFORM rillflow._cluster_check_name('node name', node);
    IF token IS NULL THEN
        RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('SELECT d.hot_node, d.lease_expires_at, d.fencing_token FROM %I.daemon_clusters d
                     WHERE d.cluster = $1 FOR SHARE', store)
        INTO c USING cluster;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        PERFORM rillflow._cluster_not_found(store, cluster);
    END IF;
    IF c.hot_node IS DISTINCT FROM node OR c.fencing_token <> token
       OR c.lease_expires_at <= clock_timestamp() THEN
        RAISE EXCEPTION 'node "%" does not hold the hot lease of daemon cluster "%" with token %',
                        node, cluster, token
            USING ERRCODE = 'RF006',
                  DETAIL = CASE WHEN c.hot_node IS NULL THEN 'No node holds the lease.'
                                ELSE format('The lease is held by %s with token %s%s.', c.hot_node,
                                            c.fencing_token,
                                            CASE WHEN c.lease_expires_at <= clock_timestamp()
                                                 THEN ' and has expired' ELSE '' END) END,
                  HINT = 'The node lost the lease: roll back and wait for the next heartbeat.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_fence(text, text, bigint) IS 'Raise RF006 unless the node holds the hot lease with this token';
