-- Daemon clusters: heartbeats, the hot lease, promote/demote/leave, fencing.
\set SHOW_CONTEXT never
CREATE FUNCTION pg_temp.status(c text) RETURNS TABLE (node text, role text, alive boolean, has_lease boolean, token bigint)
    LANGUAGE sql AS $$ SELECT node, role, alive, lease_expires_at IS NOT NULL, token FROM rillflow.cluster_status(c) $$;

-- the first node takes the free lease (token 1); the second is cold
SELECT hot, token, hot_node, lease_expires_at > now() AS lease_live
  FROM rillflow.cluster_heartbeat('c1', 'node-a', '10 seconds', '0', hostname => 'host-a', pid => 101);
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-b', '10 seconds', '0', 'host-b', 102);
-- renewing keeps the token; the cold node stays cold
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-a', '10 seconds');
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-b', '10 seconds');
SELECT * FROM pg_temp.status('c1');
SELECT node, hostname, pid FROM rillflow.cluster_status('c1');

-- fencing: the hot node with its token passes, anyone else is refused
SELECT rillflow.cluster_fence('c1', 'node-a', 1);
SELECT rillflow.cluster_fence('c1', 'node-b', 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_fence('c1', 'node-a', 2); \echo SQLSTATE :SQLSTATE

-- an expired lease is taken over by the next heartbeat of another node, with a new token
UPDATE rillflow_default.daemon_clusters SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE cluster = 'c1';
SELECT role FROM pg_temp.status('c1') WHERE node = 'node-a';
SELECT rillflow.cluster_fence('c1', 'node-a', 1); \echo SQLSTATE :SQLSTATE
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-b', '10 seconds');
-- the old holder comes back: it is cold now, and fenced off
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-a', '10 seconds');
SELECT rillflow.cluster_fence('c1', 'node-a', 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_fence('c1', 'node-b', 2);
SELECT * FROM pg_temp.status('c1');

-- the grace period: an expired lease is not taken while within grace
UPDATE rillflow_default.daemon_clusters SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE cluster = 'c1';
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-a', '10 seconds', grace => '1 hour');
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-a', '10 seconds', grace => '0');

-- promote: a new token for the promoted node; the old holder is fenced and learns it is cold
SELECT rillflow.cluster_promote('c1', 'node-b') AS token;
SELECT rillflow.cluster_fence('c1', 'node-a', 3); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_fence('c1', 'node-b', 4);
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-a', '10 seconds');
SELECT * FROM pg_temp.status('c1');

-- demote: the lease is free; the demoted node does not take it back for one TTL, the other does
SELECT rillflow.cluster_demote('c1', 'node-b') AS was_hot;
SELECT rillflow.cluster_demote('c1', 'node-b') AS was_hot;
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-b', '10 seconds');
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-a', '10 seconds');
-- after the standby time the demoted node may be hot again (here: once node-a leaves)
UPDATE rillflow_default.daemon_nodes SET standby_until = clock_timestamp() - interval '1 second' WHERE node_id = 'node-b';

-- leave: a hot node gives up the lease at once; the cluster goes with its last node
SELECT rillflow.cluster_leave('c1', 'node-a');
SELECT hot, token, hot_node FROM rillflow.cluster_heartbeat('c1', 'node-b', '10 seconds');
SELECT node, role FROM pg_temp.status('c1');
SELECT rillflow.cluster_leave('c1', 'node-b');
SELECT count(*) AS clusters_left FROM rillflow_default.daemon_clusters WHERE cluster = 'c1';

-- a node not heard from within its TTL + grace is reported dead
SELECT hot FROM rillflow.cluster_heartbeat('c2', 'n1', '1 second');
SELECT hot FROM rillflow.cluster_heartbeat('c2', 'n2', '1 second');
UPDATE rillflow_default.daemon_nodes SET heartbeat_at = heartbeat_at - interval '5 seconds' WHERE node_id = 'n2';
SELECT node, alive FROM rillflow.cluster_status('c2');

-- clusters are per store
SELECT rillflow.ensure_tenant('regress_daemon');
SET rillflow.tenant = 'regress_daemon';
SELECT rillflow.cluster_status('c2'); \echo SQLSTATE :SQLSTATE
SELECT hot, token FROM rillflow.cluster_heartbeat('c2', 'n2', '1 second');
RESET rillflow.tenant;
SELECT node, role FROM rillflow.cluster_status('c2');

-- errors: nothing is written by a failing call
SELECT rillflow.cluster_status('nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_promote('nope', 'n1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_promote('c2', 'nobody'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_demote('c2', 'nobody'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_leave('c2', 'nobody'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_fence('nope', 'n1', 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_fence('c2', 'n1', NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat(NULL, 'n1'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('', 'n1'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', 'bad name'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat($$c3'; DROP TABLE rillflow_default.daemon_nodes; --$$, 'n1'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat(repeat('c', 129), 'n1'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', 'n1', NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', 'n1', '0 seconds'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', 'n1', '-5 seconds'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', 'n1', '2 days'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', 'n1', '10 seconds', NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', 'n1', '10 seconds', '-1 second'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.cluster_heartbeat('c3', 'n1', '10 seconds', '0', pid => -1); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS no_c3 FROM rillflow_default.daemon_clusters WHERE cluster = 'c3';
SELECT count(*) AS nodes_intact FROM rillflow_default.daemon_nodes;

-- the longest names work, and the characters allowed
SELECT hot FROM rillflow.cluster_heartbeat(repeat('c', 128), 'host-1.example:5432@x_y', '1 second');
SELECT rillflow.cluster_leave(repeat('c', 128), 'host-1.example:5432@x_y');

-- a C++ daemon's settings, checked by the rules the SQL API applies (NULL: not checked)
SELECT rillflow.check_daemon_settings();
SELECT rillflow.check_daemon_settings(batch_size => 1, lease_ttl => '100 milliseconds', node_id => 'host-1.example:5432@x_y');
SELECT rillflow.check_daemon_settings(batch_size => 100000, lease_ttl => '1 day', node_id => repeat('n', 128));
SELECT rillflow.check_daemon_settings(batch_size => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.check_daemon_settings(batch_size => 100001); \echo SQLSTATE :SQLSTATE
SELECT rillflow.check_daemon_settings(lease_ttl => '99 milliseconds'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.check_daemon_settings(lease_ttl => '1 day 1 second'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.check_daemon_settings(node_id => 'bad name'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.check_daemon_settings(node_id => ''); \echo SQLSTATE :SQLSTATE
SELECT rillflow.check_daemon_settings(node_id => repeat('n', 129)); \echo SQLSTATE :SQLSTATE

-- any text becomes a node name: other characters turn into '-' (one per byte), cut at 128
SELECT rillflow.sanitize_node_id('host-1.example:5432@x_y') AS unchanged,
       rillflow.sanitize_node_id('my host/42') AS other_characters,
       rillflow.sanitize_node_id('hôte-7') AS multibyte,
       rillflow.sanitize_node_id('') AS empty,
       rillflow.sanitize_node_id(NULL) IS NULL AS null_stays_null,
       length(rillflow.sanitize_node_id(repeat('x', 200))) AS cut_at;
SELECT rillflow.check_daemon_settings(node_id => rillflow.sanitize_node_id('my host/42 ' || repeat('z', 300)));

-- an empty and a hostile search_path change nothing
SET search_path = '';
SELECT hot, token FROM rillflow.cluster_heartbeat('c2', 'n3', '1 second');
CREATE SCHEMA regress_evil;
CREATE FUNCTION regress_evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'infinity'::timestamptz $$;
SET search_path = regress_evil, public;
SELECT node, role FROM rillflow.cluster_status('c2');
RESET search_path;
DROP SCHEMA regress_evil CASCADE;
-- every cluster of the store: its hot node while the lease lives, its token and size
SELECT cluster, hot_node IS NOT NULL AS has_hot, token > 0 AS has_token, nodes
  FROM rillflow.list_clusters();
SET search_path = regress_nowhere;
SELECT count(*) AS clusters FROM rillflow.list_clusters();
RESET search_path;
SELECT rillflow.cluster_leave('c2', 'n1');
SELECT rillflow.cluster_leave('c2', 'n2');
SELECT rillflow.cluster_leave('c2', 'n3');
SELECT cluster, nodes FROM rillflow.list_clusters() WHERE cluster = 'c2';

-- min_cold_standbys is stored per cluster (a cluster no node joined yet gets a row);
-- cluster_hotcold lists every cluster with its nodes, heartbeat ages and the hot lease
SELECT rillflow.cluster_set_min_cold_standbys('c9', 2);
SELECT cluster, hot_node, min_cold_standbys, node, role FROM rillflow.cluster_hotcold() WHERE cluster = 'c9';
SELECT hot FROM rillflow.cluster_heartbeat('c9', 'n1', '30 s', '5 s', 'host-1', 11);
SELECT hot FROM rillflow.cluster_heartbeat('c9', 'n2', '30 s', '5 s', 'host-2', 12);
SELECT cluster, hot_node, min_cold_standbys, node, role, alive,
       heartbeat_age_ms BETWEEN 0 AND 60000 AS age_ms_ok,
       node_lease_expires_at IS NOT DISTINCT FROM
           CASE WHEN role = 'hot' THEN lease_expires_at END AS lease_of_hot_only
  FROM rillflow.cluster_hotcold() WHERE cluster = 'c9';
SELECT rillflow.cluster_set_min_cold_standbys('c9', NULL);
SELECT DISTINCT min_cold_standbys FROM rillflow.cluster_hotcold() WHERE cluster = 'c9';
SELECT rillflow.cluster_set_min_cold_standbys('c9', -1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.cluster_set_min_cold_standbys('bad name', 1); \echo SQLSTATE :SQLSTATE
SET search_path = regress_nowhere;
SELECT count(*) AS c9_nodes FROM rillflow.cluster_hotcold() WHERE cluster = 'c9';
RESET search_path;
SELECT rillflow.cluster_leave('c9', 'n1');
SELECT rillflow.cluster_leave('c9', 'n2');
SELECT count(*) AS c9_left FROM rillflow.cluster_hotcold() WHERE cluster = 'c9';

-- clean up the tenant of this test (tenant stores outlive DROP EXTENSION)
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_daemon');
RESET client_min_messages;
