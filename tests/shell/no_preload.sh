#!/usr/bin/env bash
# rillflow on a server that did not preload it (a managed service): CREATE
# EXTENSION works (it once was FATAL: cannot create PGC_POSTMASTER variables
# after startup), the settings that need preload do not exist, worker_status()
# says the mode, the whole pg_regress and isolation suite passes there (the
# worker test against its no-preload output, expected/worker_1.out), and
# pg_cron running rillflow.run_maintenance() makes a projection catch up.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"

other_cluster nopreload RILLFLOW_PRELOAD=pg_cron RILLFLOW_WORKER_ENABLED=off RILLFLOW_EXTRA_CONF="cron.database_name = 'postgres'
cron.use_background_workers = on"
read -r -a other <<<"$(other_env nopreload)"
oq() { q "${other[@]}" "$@"; }

[ "$(oq -d postgres -c "SHOW shared_preload_libraries")" = pg_cron ] || fail "the cluster preloads more than pg_cron"

# --- CREATE EXTENSION, the settings, the mode
oq -d postgres -c "CREATE DATABASE rillflow_nopreload" >/dev/null
oq -d rillflow_nopreload -c "CREATE EXTENSION rillflow" >/dev/null || fail "CREATE EXTENSION failed without preload"
[ "$(oq -d rillflow_nopreload -c "SELECT process || ' ' || state FROM rillflow.worker_status()")" = "launcher not preloaded" ] ||
    fail "worker_status() does not say the library is not preloaded"
# the settings exist once a session has loaded the library (its first call), but for
# the one a server start must define
loaded=(-c "SELECT rillflow.current_store()")
out=$(psql -X -At "${other[@]}" -d rillflow_nopreload "${loaded[@]}" -c "SHOW rillflow.max_workers" 2>&1 || true)
grep -q 'unrecognized configuration parameter "rillflow.max_workers"' <<<"$out" ||
    fail "rillflow.max_workers exists without preload: $out"
[ "$(oq -d rillflow_nopreload "${loaded[@]}" -c "SHOW rillflow.log_wait_timeout" | tail -n 1)" = 5s ] ||
    fail "rillflow.log_wait_timeout is missing"
# a tenant set before the first call loaded the library is kept, so the call fails on it
# (once, it was dropped with a WARNING and the calls acted on the default store)
out=$(psql -X -At "${other[@]}" -d rillflow_nopreload -v VERBOSITY=verbose \
        -c "SET rillflow.tenant = 'Bad Name'" -c "SELECT rillflow.current_store()" 2>&1 || true)
grep -q 'ERROR:  RF005' <<<"$out" || fail "a malformed tenant set before the library loaded did not fail the call: $out"
! grep -q rillflow_default <<<"$out" || fail "a malformed tenant set before the library loaded acted on the default store"
oq -d rillflow_nopreload -c "SELECT rillflow.ensure_tenant('acme')" >/dev/null
[ "$(oq -d rillflow_nopreload -c "SET rillflow.tenant = 'acme'" -c "SELECT rillflow.current_store()" | tail -n 1)" = rillflow_tenant_acme ] ||
    fail "a tenant set before the library loaded is not the store the calls act on"
# readers tick without the worker (a ticker, started by the reader)
oq -d rillflow_nopreload -c "SELECT rillflow.append_event(gen_random_uuid(), 'A', '{}')" >/dev/null
[ "$(oq -d rillflow_nopreload -c "SELECT count(*) FROM rillflow.read_all()")" -eq 1 ] || fail "read_all did not see the event"

# --- pg_cron drives maintenance: a projection catches up with no worker
oq -d postgres -c "CREATE EXTENSION pg_cron" >/dev/null
oq -d rillflow_nopreload <<'SQL' >/dev/null
CREATE TABLE seen (position bigint PRIMARY KEY);
CREATE FUNCTION on_event(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO seen VALUES (e.position) $$;
SELECT rillflow.create_projection('cron_fed', 'on_event(rillflow.event_envelope)');
SELECT rillflow.append_event(gen_random_uuid(), 'B', jsonb_build_object('i', i)) FROM generate_series(1, 25) i;
SQL
oq -d postgres -c "SELECT cron.schedule_in_database('rillflow-maintenance', '* * * * *',
                     'SELECT count(*) FROM rillflow.run_maintenance()', 'rillflow_nopreload')" >/dev/null

# --- the whole suite, meanwhile (pg_cron runs every minute)
mkdir -p build/nopreload
# shellcheck disable=SC2086
if ! PGHOST=${other[1]} PGPORT=${other[3]} make -s installcheck \
        REGRESS_OPTS="--inputdir=. --outputdir=build/nopreload/regress --load-extension=rillflow" \
        ISOLATION_OPTS="--inputdir=regress --outputdir=build/nopreload/isolation --load-extension=rillflow" \
        >build/nopreload/installcheck.log 2>&1; then
    cat build/nopreload/installcheck.log
    cat build/nopreload/regress/regression.diffs build/nopreload/isolation/regression.diffs 2>/dev/null || true
    fail "the pg_regress and isolation suite failed without preload"
fi

caught_up() { [ "$(oq -d rillflow_nopreload -c "SELECT count(*) FROM seen")" -eq 26 ]; }
wait_until "pg_cron's run_maintenance to run the projection" 150 caught_up
[ "$(oq -d rillflow_nopreload -c "SELECT lag FROM rillflow.projection_status('cron_fed')")" -eq 0 ] ||
    fail "the projection has lag after maintenance"
oq -d postgres -c "SELECT count(*) FROM cron.job_run_details WHERE status = 'succeeded'" | grep -qv '^0$' ||
    fail "no pg_cron run succeeded"
echo "ok: no preload, the whole suite, pg_cron maintenance"
