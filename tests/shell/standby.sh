#!/usr/bin/env bash
# Read replicas: on a streaming hot standby (pg_basebackup -R) every read
# function answers as on the primary (events, documents, queries, tenants,
# projections' and subscriptions' status) and every write fails with
# PostgreSQL's own 25006 (a subscription poll too: it leases events).
# The default collection docs, registered but never written, and a missing
# collection (RF004) once failed there in _ensure_collection with SELECT FOR
# UPDATE.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"

other_cluster standby_primary
read -r -a primary <<<"$(other_env standby_primary)"
pq() { q "${primary[@]}" -d rillflow_standby "$@"; }

# --- the primary: events, documents, a compiled query, a tenant, a projection
q "${primary[@]}" -d postgres -c "CREATE DATABASE rillflow_standby" >/dev/null
pq <<'SQL' >/dev/null
CREATE EXTENSION rillflow;
CREATE TABLE totals (stream uuid PRIMARY KEY, n bigint NOT NULL);
CREATE FUNCTION count_event(e rillflow.event_envelope) RETURNS void LANGUAGE sql AS $$
    INSERT INTO totals VALUES (e.stream_id, 1) ON CONFLICT (stream) DO UPDATE SET n = totals.n + 1 $$;
SELECT rillflow.create_projection('totals', 'count_event(rillflow.event_envelope)');
SELECT rillflow.append_events(rillflow.resolve_stream_alias('order-' || i),
         '[{"type": "Placed", "body": {}}, {"type": "Paid", "body": {}}]')
  FROM generate_series(1, 10) i;
SELECT rillflow.doc_put('orders', ('00000000-0000-0000-0000-0000000000' || lpad(i::text, 2, '0'))::uuid,
                        jsonb_build_object('n', i, 'status', CASE WHEN i % 2 = 0 THEN 'paid' ELSE 'open' END))
  FROM generate_series(1, 10) i;
SELECT rillflow.compile_query('paid', 'orders', '{"filter": {"eq": ["status", "$s"]}}');
SELECT rillflow.run_projections_until_idle();
-- a subscription with a group that has acked half the log
SELECT rillflow.create_subscription('placed', event_types => ARRAY['Placed']);
SELECT rillflow.subscription_ack('placed', array_agg(position), 'g', 'c1')
  FROM rillflow.subscription_poll('placed', 5, 'g', 'c1');
SELECT rillflow.ensure_tenant('acme');
SET rillflow.tenant = 'acme';
SELECT rillflow.append_event(rillflow.resolve_stream_alias('t-1'), 'TenantEvent', '{"x": 1}');
SELECT count(*) FROM rillflow.read_all();
SQL

# --- the standby, in the build tree next to the primary, on its own port
primary_data=$(q "${primary[@]}" -d postgres -c "SHOW data_directory")
replica_base=$(dirname "$(dirname "$primary_data")")/standby_replica
on_exit "as_server_user /usr/lib/postgresql/15/bin/pg_ctl -D '$replica_base/data' -m immediate -w stop >/dev/null 2>&1; rm -rf '$replica_base'"
bindir=$(pg_config --bindir)
rm -rf "$replica_base"
mkdir -p "$replica_base"
[ "$(id -u)" -ne 0 ] || chown postgres: "$replica_base"
as_server_user "$bindir/pg_basebackup" "${primary[@]}" -U postgres -D "$replica_base/data" -R -X stream -c fast
port=54429
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
as_server_user "$bindir/pg_ctl" -D "$replica_base/data" -l "$replica_base/server.log" -o "-p $port" -w -t 60 start >/dev/null ||
    { cat "$replica_base/server.log"; fail "the standby did not start"; }
replica=(-h "${primary[1]}" -p "$port")
rq() { q "${replica[@]}" -d rillflow_standby "$@"; }
[ "$(rq -c "SELECT pg_is_in_recovery()")" = t ] || fail "the standby is not in recovery"
replayed() {
    local lsn
    lsn=$(q "${primary[@]}" -d postgres -c "SELECT pg_current_wal_insert_lsn()")
    [ "$(rq -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ]
}
wait_until "the standby to replay the primary's WAL" 60 replayed

# --- reads on the standby answer as on the primary
same() {	# label, SQL: the same rows on both
    local a b
    a=$(pq -c "$2" 2>&1) || true
    b=$(rq -c "$2" 2>&1) || true
    [ "$a" = "$b" ] || fail "$1 differs on the standby: primary '$a', standby '$b'"
}
same "read_all" "SELECT position, stream_id, version, type FROM rillflow.read_all(0, 1000)"
same "read_stream" "SELECT version, type FROM rillflow.read_stream(rillflow.resolve_stream_alias('order-3'))"
same "stream_version" "SELECT rillflow.stream_version(rillflow.resolve_stream_alias('order-3'))"
same "head_position" "SELECT rillflow.head_position()"
same "doc_get" "SELECT data, version FROM rillflow.doc_get('orders', '00000000-0000-0000-0000-000000000004')"
same "doc_get_many" "SELECT count(*) FROM rillflow.doc_get_many('orders', ARRAY['00000000-0000-0000-0000-000000000004'::uuid])"
same "doc_query" "SELECT * FROM rillflow.doc_query('orders', '{\"filter\": {\"gte\": [\"n\", 5]}, \"order_by\": [{\"path\": \"n\"}]}')"
same "doc_count {}" "SELECT rillflow.doc_count('orders', '{}')"
same "run_query" "SELECT * FROM rillflow.run_query('paid', '{\"s\": \"paid\"}')"
same "docs, never written" "SELECT count(*) FROM rillflow.doc_query('docs', '{}')"
same "doc_get on docs" "SELECT count(*) FROM rillflow.doc_get('docs', gen_random_uuid())"
same "a missing collection" "SELECT count(*) FROM rillflow.doc_get('nosuch', gen_random_uuid())"
same "list_collections" "SELECT name FROM rillflow.list_collections() ORDER BY 1"
same "list_projections" "SELECT name, handler, status, checkpoint, lag FROM rillflow.list_projections()"
same "projection_status" "SELECT status, checkpoint, lag, events_processed FROM rillflow.projection_status('totals')"
same "the read model" "SELECT sum(n) FROM totals"
same "list_subscriptions" "SELECT name, event_types, groups FROM rillflow.list_subscriptions()"
same "subscription_status" "SELECT * FROM rillflow.subscription_status('placed')"
same "subscription_groups" "SELECT group_name, checkpoint, head, lag, in_flight FROM rillflow.subscription_groups('placed')"
same "subscription_group_status" "SELECT last_seq, head, lag, in_flight, pending FROM rillflow.subscription_group_status('placed', 'g')"
same "subscription_lag" "SELECT * FROM rillflow.subscription_lag"
same "list_tenants" "SELECT name FROM rillflow.list_tenants()"
same "a tenant's events" "SET rillflow.tenant = 'acme'; SELECT type, body FROM rillflow.read_all()"
grep -q RF004 <<<"$(psql -X "${replica[@]}" -d rillflow_standby -v VERBOSITY=verbose -c "SELECT rillflow.doc_get('nosuch', gen_random_uuid())" 2>&1)" ||
    fail "a missing collection is not RF004 on the standby"
[ "$(rq -c "SELECT lag FROM rillflow.projection_status('totals')")" -eq 0 ] || fail "the projection's status is not caught up on the standby"

# --- every write fails with 25006
writes=(
    "SELECT rillflow.append_event(gen_random_uuid(), 'A', '{}')"
    "SELECT rillflow.doc_put('docs', gen_random_uuid(), '{}')"
    "SELECT rillflow.doc_put('orders', gen_random_uuid(), '{}')"
    "SELECT rillflow.doc_delete('orders', '00000000-0000-0000-0000-000000000004')"
    "SELECT rillflow.resolve_stream_alias('brand-new')"
    "SELECT rillflow.ensure_tenant('globex')"
    "SELECT rillflow.create_projection('p2', 'count_event(rillflow.event_envelope)')"
    "SELECT rillflow.run_projection('totals')"
    "SELECT * FROM rillflow.run_maintenance()"
    "SELECT rillflow.create_subscription('s2')"
    "SELECT * FROM rillflow.subscription_poll('placed', 5, 'g', 'c2')"
)
for w in "${writes[@]}"; do
    out=$(psql -X "${replica[@]}" -d rillflow_standby -v VERBOSITY=verbose -c "$w" 2>&1 || true)
    grep -q "ERROR:  25006" <<<"$out" || fail "'$w' on the standby: expected 25006, got: $out"
done

# --- what the primary writes next reaches the standby's reads
pq -c "SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-1'), 'Shipped', '{}')" \
   -c "SELECT rillflow.run_projections_until_idle()" >/dev/null
wait_until "the standby to replay the new event" 60 replayed
same "read_all after a new event" "SELECT position, type FROM rillflow.read_all(0, 1000)"
same "projection_status after a new event" "SELECT checkpoint, lag FROM rillflow.projection_status('totals')"
echo "ok: reads on a hot standby, writes refused with 25006"
