#!/usr/bin/env bash
# What the worker writes and shows while it runs projections:
# - its now() is the time of each transaction, not of its start: last_run_at,
#   updated_at and log_state.updated_at are at least the time of the append
#   that made it work;
# - pg_stat_activity shows which projection of which store it is running;
# - settings a handler changes (SET, set_config; search_path, a custom
#   setting) are reset after its batch: the next projection's handler, run by
#   the same worker, sees the worker's own settings.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_hygiene
on_exit reset_worker_settings
make_work_dir
worker_switch on
rf_fresh_database $db >/dev/null
q -d $db <<'SQL' >/dev/null
SELECT rillflow.ensure_tenant('acme');
CREATE TABLE public.gate (x int);
CREATE TABLE public.looked (position bigint PRIMARY KEY, search_path text, note text, store name);
-- a_meddle runs first (projections run in name order) and changes settings
CREATE FUNCTION public.a_meddle(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog', false);
    PERFORM pg_catalog.set_config('rillflow_test.note', 'left behind by a_meddle', false);
    PERFORM pg_catalog.set_config('rillflow.tenant', 'acme', false);
END $$;
CREATE FUNCTION public.b_look(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.looked VALUES (e.position, current_setting('search_path'),
        coalesce(nullif(current_setting('rillflow_test.note', true), ''), 'unset'), rillflow.current_store());
END $$;
-- c_gated waits for the gate table's lock on Gated events
CREATE FUNCTION public.c_gated(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(*) FROM public.gate;
END $$;
SELECT rillflow.create_projection('a_meddle', 'public.a_meddle(rillflow.event_envelope)', ARRAY['Look']);
SELECT rillflow.create_projection('b_look', 'public.b_look(rillflow.event_envelope)', ARRAY['Look']);
SELECT rillflow.create_projection('c_gated', 'public.c_gated(rillflow.event_envelope)', ARRAY['Gated']);
SQL
wait_for_worker $db

# --- timestamps: the worker is running before t0, so a stale now() is older
t0=$(q -d $db -c "SELECT clock_timestamp()")
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Look', '{}')" >/dev/null
_looked() { [ "$(q -d $db -c "SELECT count(*) FROM public.looked")" -ge 1 ]; }
wait_until "b_look to see the event" 20 _looked
stale=$(q -d $db -c "SELECT concat_ws(' ',
    CASE WHEN last_run_at < '$t0' THEN 'last_run_at=' || last_run_at END,
    CASE WHEN updated_at < '$t0' THEN 'updated_at=' || updated_at END,
    (SELECT 'log_state.updated_at=' || updated_at FROM rillflow_default.log_state WHERE updated_at < '$t0'))
  FROM rillflow_default.projections WHERE name = 'b_look'")
[ -z "$stale" ] || fail "the worker wrote times older than the append at $t0: $stale"
echo "ok: the worker's now() is the time of its transaction"

# --- settings: b_look saw the worker's settings, not a_meddle's
seen=$(q -d $db -F '|' -c "SELECT search_path, note, store FROM public.looked")
[ "$seen" = '"$user", public|unset|rillflow_default' ] ||
    fail "b_look saw settings a_meddle's handler left behind: $seen"
echo "ok: settings a handler changes are reset after its batch"

# --- pg_stat_activity: hold the gate, append a Gated event, look at the worker
background_session $db held 600 "$work/gate.out" <<'SQL'
BEGIN;
LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE;
SQL
gate=$!
on_exit 'kill $gate 2>/dev/null || true'
wait_until "the gate to be locked" 20 grep -q '^held$' "$work/gate.out"
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Gated', '{}')" >/dev/null
_shows_gated() {
    [ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'rillflow worker' AND datname = '$db'
                            AND state = 'active' AND query = 'rillflow: projection c_gated in store rillflow_default'")" -eq 1 ]
}
wait_until "pg_stat_activity to show the worker running c_gated" 20 _shows_gated
kill $gate; wait $gate 2>/dev/null || true
_gated_done() { [ "$(q -d $db -c "SELECT checkpoint FROM rillflow.projection_status('c_gated')")" -ge 2 ]; }
wait_until "c_gated to pass the gated event" 20 _gated_done
echo "ok: pg_stat_activity shows the projection the worker runs"
echo "worker hygiene: ok"
