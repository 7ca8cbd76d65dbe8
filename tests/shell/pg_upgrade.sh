#!/usr/bin/env bash
# A major-version upgrade with pg_upgrade (15 to 15, copy mode) of a cluster
# holding events, documents, a compiled query, projections (in the default
# store and a tenant's, one with a reset function), an upcaster, an SQL
# aggregate and tenants. pg_upgrade
# --check once refused it ("Checking for reg* data types in user tables":
# projections.handler and reset_function were regprocedure; so were
# upcasters.fn and aggregates.fold). Afterwards
# everything is there, and the projections go on from their checkpoints:
# no event applied twice, none skipped.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"

other_cluster upgrade_old RILLFLOW_WORKER_ENABLED=off   # the test moves the projections itself
read -r -a old <<<"$(other_env upgrade_old)"
oq() { q "${old[@]}" -d rillflow_upgrade "$@"; }

q "${old[@]}" -d postgres -c "CREATE DATABASE rillflow_upgrade" >/dev/null
oq <<'SQL' >/dev/null
CREATE EXTENSION rillflow;
CREATE SCHEMA app;
CREATE TABLE app.seen (store text, position bigint, PRIMARY KEY (store, position));
CREATE FUNCTION app.on_event(e rillflow.event_envelope) RETURNS void LANGUAGE sql AS $$
    INSERT INTO app.seen VALUES (coalesce(nullif(current_setting('rillflow.tenant'), ''), 'default'), e.position) $$;
CREATE FUNCTION app.reset(p text) RETURNS void LANGUAGE sql AS $$ DELETE FROM app.seen $$;
SELECT rillflow.create_projection('seen', 'app.on_event(rillflow.event_envelope)', batch_size => 5);
SELECT rillflow.set_projection_reset_function('seen', 'app.reset(text)');
SELECT rillflow.append_events(rillflow.resolve_stream_alias('order-' || i),
         '[{"type": "Placed", "body": {}}, {"type": "Paid", "body": {}}]', 0, 'key-' || i)
  FROM generate_series(1, 10) i;
SELECT rillflow.run_projection('seen', 2);            -- 10 of 20: a checkpoint mid-way
CREATE FUNCTION app.paid_v2(b jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT b || '{"v2": true}' $$;
SELECT rillflow.register_upcaster('Paid', 1, 2, 'app.paid_v2(jsonb)');
CREATE FUNCTION app.count(s jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT jsonb_build_object('n', coalesce((s->>'n')::int, 0) + 1, 'last', e.type) $$;
SELECT rillflow.create_aggregate('counter', 'app.count(jsonb, rillflow.event_envelope)');
SELECT rillflow.doc_put('orders', ('00000000-0000-0000-0000-0000000000' || lpad(i::text, 2, '0'))::uuid,
                        jsonb_build_object('n', i)) FROM generate_series(1, 10) i;
SELECT rillflow.add_duplicated_field('orders', 'n', 'n', 'bigint', true);
SELECT rillflow.compile_query('big', 'orders', '{"filter": {"gte": ["n", "$min"]}}');
SELECT rillflow.ensure_tenant('acme');
SET rillflow.tenant = 'acme';
SELECT rillflow.create_projection('seen', 'app.on_event(rillflow.event_envelope)', batch_size => 2);
SELECT rillflow.append_event(rillflow.resolve_stream_alias('t-' || i), 'TenantEvent', '{}') FROM generate_series(1, 6) i;
SELECT rillflow.run_projection('seen', 1);            -- 2 of 6
SQL

state() {	# what must survive, in a canonical order
    local -a conn=("$@")
    q "${conn[@]}" -d rillflow_upgrade \
      -c "SELECT 'events', count(*), max(position) FROM rillflow.read_all(0, 100000)" \
      -c "SELECT 'stream', version FROM rillflow.read_stream(rillflow.resolve_stream_alias('order-3')) ORDER BY 2" \
      -c "SELECT 'docs', count(*), sum((d->>'n')::int) FROM rillflow.doc_query('orders', '{\"filter\": {}}') d" \
      -c "SELECT 'query', count(*) FROM rillflow.run_query('big', '{\"min\": 6}')" \
      -c "SELECT 'fields', column_name FROM rillflow.list_duplicated_fields('orders')" \
      -c "SELECT 'projection', name, handler, status, checkpoint FROM rillflow.list_projections()" \
      -c "SELECT 'reset', reset_function FROM rillflow.projection_status('seen')" \
      -c "SELECT 'upcaster', event_type, from_version, to_version, fn FROM rillflow.list_upcasters()" \
      -c "SELECT 'upcast', type, event_version, body FROM rillflow.read_stream(rillflow.resolve_stream_alias('order-3')) ORDER BY version" \
      -c "SELECT 'aggregate', name, fold FROM rillflow.list_aggregates()" \
      -c "SELECT 'folded', state, version FROM rillflow.aggregate_load('counter', rillflow.resolve_stream_alias('order-3'))" \
      -c "SELECT 'tenant', name FROM rillflow.list_tenants()" \
      -c "SET rillflow.tenant = 'acme'" \
      -c "SELECT 'acme events', count(*) FROM rillflow.read_all(0, 100000)" \
      -c "SELECT 'acme projection', name, handler, checkpoint FROM rillflow.list_projections()" \
      -c "SELECT 'seen', store, count(*) FROM app.seen GROUP BY 1, 2 ORDER BY 2"
}
before=$(state "${old[@]}")
grep -q "^projection|seen|app.on_event(rillflow.event_envelope)|running|10$" <<<"$before" ||
    fail "the default store's projection is not where the test put it: $before"
grep -q '^upcast|Paid|2|{"v2": true}$' <<<"$before" || fail "the upcaster does not run before the upgrade: $before"
grep -q '^folded|{"n": 2, "last": "Paid"}|2$' <<<"$before" || fail "the aggregate does not fold before the upgrade: $before"

# --- a new cluster of the same shape, then pg_upgrade (as the server's user)
other_cluster upgrade_new RILLFLOW_WORKER_ENABLED=off
read -r -a new <<<"$(other_env upgrade_new)"
old_data=$(q "${old[@]}" -d postgres -c "SHOW data_directory")
new_data=$(q "${new[@]}" -d postgres -c "SHOW data_directory")
(unset RILLFLOW_PGPORT; RILLFLOW_CLUSTER=upgrade_old bash scripts/cluster.sh stop)
(unset RILLFLOW_PGPORT; RILLFLOW_CLUSTER=upgrade_new bash scripts/cluster.sh stop)
bindir=$(pg_config --bindir)
work_dir=$(dirname "$new_data")/pg_upgrade_work
mkdir -p "$work_dir"
[ "$(id -u)" -ne 0 ] || chown postgres: "$work_dir"
upgrade() {
    (cd "$work_dir" && if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi)
}
args=(-b "$bindir" -B "$bindir" -d "$old_data" -D "$new_data" -p "${old[3]}" -P "${new[3]}" -U postgres)   # copy mode: the default of 15
upgrade "$bindir/pg_upgrade" "${args[@]}" --check >"$work_dir/check.log" 2>&1 ||
    { cat "$work_dir/check.log"; fail "pg_upgrade --check refused the cluster"; }
upgrade "$bindir/pg_upgrade" "${args[@]}" >"$work_dir/upgrade.log" 2>&1 ||
    { cat "$work_dir/upgrade.log"; find "$work_dir" -name '*.log' -exec tail -n 20 {} +; fail "pg_upgrade failed"; }
(unset RILLFLOW_PGPORT; RILLFLOW_CLUSTER=upgrade_new bash scripts/cluster.sh start)

# --- everything is there
after=$(state "${new[@]}")
[ "$before" = "$after" ] || fail "the upgraded cluster differs:
$(diff <(echo "$before") <(echo "$after"))"

# --- and working: the projections go on from their checkpoints, and new
# events get the next positions
nq() { q "${new[@]}" -d rillflow_upgrade "$@"; }
nq -c "SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-1'), 'Shipped', '{}', 2)" >/dev/null
[ "$(nq -c "SELECT max(position) FROM rillflow.read_all(0, 100000)")" -eq 21 ] || fail "the new event is not at position 21"
nq -c "SELECT rillflow.run_projections_until_idle()" >/dev/null
nq -c "SET rillflow.tenant = 'acme'" -c "SELECT rillflow.run_projections_until_idle()" >/dev/null
[ "$(nq -c "SELECT count(*), min(position), max(position) FROM app.seen WHERE store = 'default'")" = "21|1|21" ] ||
    fail "the default store's projection did not go on from its checkpoint: $(nq -c "SELECT count(*), min(position), max(position) FROM app.seen WHERE store = 'default'")"
[ "$(nq -c "SELECT count(*) FROM app.seen WHERE store = 'acme'")" -eq 6 ] || fail "the tenant's projection did not catch up"
[ "$(nq -c "SELECT lag FROM rillflow.projection_status('seen')")" -eq 0 ] || fail "lag after the catch-up"
# the reset function still resolves: a rebuild replays from the start
nq -c "SELECT rillflow.rebuild_projection('seen')" -c "SELECT rillflow.run_projections_until_idle()" >/dev/null
[ "$(nq -c "SELECT count(*) FROM app.seen WHERE store = 'default'")" -eq 21 ] || fail "the rebuild did not replay"
nq -c "SELECT rillflow.doc_put('orders', gen_random_uuid(), '{\"n\": 100}')" >/dev/null
[ "$(nq -c "SELECT count(*) FROM rillflow.run_query('big', '{\"min\": 6}')")" -eq 6 ] || fail "the compiled query does not see a new document"
# the upcaster and the fold still resolve on the new cluster, on a new event too
nq -c "SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-1'), 'Paid', '{}', 3)" >/dev/null
[ "$(nq -c "SELECT body FROM rillflow.read_stream(rillflow.resolve_stream_alias('order-1')) WHERE version = 4")" = '{"v2": true}' ] ||
    fail "the upcaster does not run on a new event after the upgrade"
[ "$(nq -c "SELECT state FROM rillflow.aggregate_load('counter', rillflow.resolve_stream_alias('order-1'))")" = '{"n": 4, "last": "Paid"}' ] ||
    fail "the aggregate does not fold after the upgrade: $(nq -c "SELECT state FROM rillflow.aggregate_load('counter', rillflow.resolve_stream_alias('order-1'))")"
echo "ok: pg_upgrade keeps events, documents, projections, upcasters, aggregates and tenants, and they go on"
