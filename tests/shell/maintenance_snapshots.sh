#!/usr/bin/env bash
# run_maintenance runs the snapshotter as the worker does (issue 16): with
# rillflow.snapshot_threshold above 0, one call snapshots the aggregates'
# streams that passed it, reports how many per store, and a snapshot then
# serves aggregate_load; at 0 it takes none. Runs with the worker off, so the
# only snapshotter is run_maintenance's.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"

db=rillflow_maint_snap
rf_fresh_database "$db" >/dev/null
on_exit 'psql -X -q -d postgres -c "ALTER SYSTEM RESET rillflow.snapshot_threshold" -c "SELECT pg_reload_conf()" >/dev/null'

q -d "$db" <<'SQL' >/dev/null
CREATE FUNCTION count_fold(state jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1) $$;
SELECT rillflow.create_aggregate('counter', 'count_fold(jsonb,rillflow.event_envelope)');
SELECT rillflow.aggregate_commit('counter', 'aaaaaaaa-0000-0000-0000-000000000001',
         (SELECT jsonb_agg(jsonb_build_object('type', 'Counted', 'body', jsonb_build_object('i', i)))
            FROM generate_series(1, 5) i), expected_version => 0);
SQL

# threshold 0 (the default): no snapshot
out=$(q -d "$db" -c "SELECT coalesce(tenant, '') || ':' || snapshots FROM rillflow.run_maintenance() WHERE tenant IS NULL")
[ "$out" = ":0" ] || fail "run_maintenance snapshotted with rillflow.snapshot_threshold at 0: $out"

q -d postgres -c "ALTER SYSTEM SET rillflow.snapshot_threshold = 3" -c "SELECT pg_reload_conf()" >/dev/null
threshold_is_3() { [ "$(q -d "$db" -c 'SHOW rillflow.snapshot_threshold')" = 3 ]; }
wait_until "the server to reload rillflow.snapshot_threshold" 20 threshold_is_3

out=$(q -d "$db" -c "SELECT coalesce(tenant, '') || ':' || snapshots || ':' || coalesce(error, '') FROM rillflow.run_maintenance() WHERE tenant IS NULL")
[ "$out" = ":1:" ] || fail "run_maintenance did not snapshot the stream past the threshold: $out"
version=$(q -d "$db" -c "SELECT version FROM rillflow.snapshot_load('aaaaaaaa-0000-0000-0000-000000000001', 'counter')")
[ "$version" = 5 ] || fail "the snapshot is not at the stream's version 5: '$version'"
state=$(q -d "$db" -c "SELECT state->>'n' FROM rillflow.aggregate_load('counter', 'aaaaaaaa-0000-0000-0000-000000000001')")
[ "$state" = 5 ] || fail "aggregate_load from the snapshot gives n = $state, not 5"
# nothing new since: a second call takes none
out=$(q -d "$db" -c "SELECT snapshots FROM rillflow.run_maintenance() WHERE tenant IS NULL")
[ "$out" = 0 ] || fail "a second run_maintenance snapshotted again: $out"
echo "ok: run_maintenance runs the snapshotter"
