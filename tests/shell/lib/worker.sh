# Helpers for the worker tests (tests/shell/worker_*.sh) and for
# scripts/test.sh, which turns the worker off around make installcheck.
# Sourced, not run, after preamble.sh (q, fail, wait_until); PGHOST/PGPORT
# must name the test cluster.

# Activity of the launcher ("waiting" or "disabled") and how many database
# workers run, from pg_stat_activity.
launcher_activity() { q -d postgres -c "SELECT query FROM pg_stat_activity WHERE backend_type = 'rillflow launcher'"; }
worker_count() { q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'rillflow worker' ${1:+AND datname = '$1'}"; }
worker_pid() { q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'rillflow worker' AND datname = '$1'"; }
launcher_pid() { q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'rillflow launcher'"; }

_workers_gone() { [ "$(launcher_activity)" = disabled ] && [ "$(worker_count)" -eq 0 ]; }
_launcher_enabled() { [ "$(launcher_activity)" = waiting ]; }

# worker_switch on|off: set rillflow.worker_enabled for the cluster, reload,
# and wait until the launcher has seen it (and, for off, every database
# worker has left).
worker_switch() {
    local value=$1
    q -d postgres -c "ALTER SYSTEM SET rillflow.worker_enabled = $value" -c "SELECT pg_reload_conf()" >/dev/null
    if [ "$value" = off ]; then
        wait_until "every rillflow worker to leave" 30 _workers_gone
    else
        wait_until "the rillflow launcher to be enabled" 30 _launcher_enabled
    fi
}

# set_naptime MS: set rillflow.naptime, reload, and wait until the worker of
# database $2 shows it.
_worker_shows_naptime() {
    [ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'rillflow worker' AND datname = '$2' AND query = 'waiting (naptime $1 ms)'")" -eq 1 ]
}
set_naptime() {
    q -d postgres -c "ALTER SYSTEM SET rillflow.naptime = '$1ms'" -c "SELECT pg_reload_conf()" >/dev/null
    wait_until "the worker of $2 to use naptime $1 ms" 30 _worker_shows_naptime "$1" "$2"
}
# reset_worker_settings: every worker setting a test changes back to its default.
reset_worker_settings() {
    q -d postgres -c "ALTER SYSTEM RESET rillflow.naptime" -c "ALTER SYSTEM RESET rillflow.batch_statement_timeout" \
      -c "ALTER SYSTEM RESET rillflow.worker_enabled" -c "ALTER SYSTEM RESET rillflow.tick_coalesce" \
      -c "ALTER SYSTEM RESET rillflow.snapshot_threshold" -c "SELECT pg_reload_conf()" >/dev/null
}

# A worker runs in database $1.
_has_worker() { [ "$(worker_count "$1")" -ge 1 ]; }
wait_for_worker() { wait_until "a rillflow worker in database $1" 30 _has_worker "$1"; }
