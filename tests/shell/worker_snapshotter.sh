#!/usr/bin/env bash
# The worker runs the snapshotter when rillflow.snapshot_threshold > 0: the
# streams of an SQL aggregate that are at least that many events past their
# last snapshot get a snapshot with no explicit call, in the default store and
# a tenant's; the fold runs as the aggregate's owner, never as the worker;
# with the setting at 0 (the default) nothing is snapshotted.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_snap
on_exit reset_worker_settings
q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS rf_snap_owner" -c "CREATE ROLE rf_snap_owner" >/dev/null
worker_switch on
rf_fresh_database $db >/dev/null
q -d $db -c "SELECT rillflow.ensure_tenant('acme')" >/dev/null
q -d $db <<'SQL' >/dev/null
SELECT rillflow.grant_tenant('', 'rf_snap_owner', 'admin');
SELECT rillflow.grant_tenant('acme', 'rf_snap_owner', 'admin');
CREATE TABLE public.fold_roles (usr name PRIMARY KEY);
GRANT INSERT, SELECT ON public.fold_roles TO rf_snap_owner;
CREATE FUNCTION public.count(state jsonb, e rillflow.event_envelope) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.fold_roles VALUES (current_user) ON CONFLICT DO NOTHING;
    RETURN jsonb_build_object('n', (state->>'n')::int + 1);
END $$;
SET ROLE rf_snap_owner;
SELECT rillflow.create_aggregate('counter', 'public.count(jsonb,rillflow.event_envelope)', '{"n": 0}');
SET rillflow.tenant = 'acme';
SELECT rillflow.create_aggregate('counter', 'public.count(jsonb,rillflow.event_envelope)', '{"n": 0}');
SQL
# 3 streams of 5 events and 1 of 2, in each store
commit_events() {
    q -d $db -c "SET rillflow.tenant = '$1'" -c "SELECT count(*) FROM (SELECT rillflow.aggregate_commit('counter',
        rillflow.resolve_stream_alias('s' || i), (SELECT jsonb_agg(jsonb_build_object('type', 'A', 'body', '{}'::jsonb))
        FROM generate_series(1, CASE WHEN i = 4 THEN 2 ELSE 5 END))) FROM generate_series(1, 4) i) c" >/dev/null
}
commit_events ''
commit_events acme

# off by default: nothing after a few passes
set_naptime 50 $db
sleep 1
[ "$(q -d $db -c "SELECT count(*) FROM rillflow_default.snapshots")" -eq 0 ] || fail "snapshots taken with rillflow.snapshot_threshold = 0"

q -d postgres -c "ALTER SYSTEM SET rillflow.snapshot_threshold = 4" -c "SELECT pg_reload_conf()" >/dev/null
_all_snapshotted() {
    [ "$(q -d $db -c "SELECT count(*) FROM rillflow_default.snapshots WHERE version = 5")" -eq 3 ] &&
    [ "$(q -d $db -c "SELECT count(*) FROM rillflow_tenant_acme.snapshots WHERE version = 5")" -eq 3 ]
}
wait_until "the worker to snapshot 3 streams in each store" 30 _all_snapshotted
[ "$(q -d $db -c "SELECT count(*) FROM rillflow_default.snapshots WHERE version < 4")" -eq 0 ] || fail "a stream under the threshold was snapshotted"
[ "$(q -d $db -c "SELECT string_agg(usr, ',') FROM public.fold_roles")" = rf_snap_owner ] || fail "a fold ran as $(q -d $db -c "SELECT string_agg(usr, ',') FROM public.fold_roles")"
[ "$(q -d $db -c "SELECT state->>'n' FROM rillflow_default.snapshots LIMIT 1")" = 5 ] || fail "wrong snapshot state"
echo "ok: the worker snapshots aggregates past rillflow.snapshot_threshold, folding as their owner"
q -d postgres -c "DROP DATABASE $db" -c "DROP ROLE rf_snap_owner" >/dev/null 2>&1 || true
