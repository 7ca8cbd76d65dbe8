#!/usr/bin/env bash
# make bench: set up a fresh machine, build everything (optimised, the same
# build make test uses, so neither rebuilds the other's), start the
# throwaway cluster, and run the benchmarks (bench/*.cpp) on a fresh
# database `rillflow_bench`. Prints the machine, the server's settings that
# matter, and one table of events/second with the ratio rillflow / baseline.
# The event benchmark runs twice: durable (fsync, synchronous_commit and
# full_page_writes on, as deployments run) and CPU-only (all three off); the
# others run once, durable. Takes under ten minutes after the build. Not part
# of `make test`.
#
# A cluster that was already running is left running; one this script started
# is stopped at the end. RILLFLOW_BENCH_SECONDS sets the seconds per variant
# and round of the event benchmark (default 4; three rounds);
# RILLFLOW_BENCH_ONLY picks benchmarks (events,docs,projections,subscriptions,
# evolution,archive: all by default; floor, bench/append_floor.sh, only when named); RILLFLOW_BENCH_MODES the server modes
# (durable,cpu; the first one also runs everything but the event benchmark);
# RILLFLOW_BENCH_SUB_EVENTS sizes the subscription benchmark (100,000);
# RILLFLOW_BENCH_ARCHIVED the archive benchmark's archived events (2,000,000);
# RILLFLOW_BENCH_DOCS and RILLFLOW_BENCH_EVENTS size the document and projection
# benchmarks (100,000 each by default).
set -euo pipefail
source "$(dirname "$0")/common.sh"

rf_setup
# PgQ, a baseline of single appends and of the subscription benchmark (Debian's package, installed here
# only): its files go where the server that runs the benchmark finds extensions.
rf_install_pgq() {
    if ! dpkg -s postgresql-15-pgq3 >/dev/null 2>&1; then
        as_root apt-get install -y -q postgresql-15-pgq3 >build/pgq-install.log 2>&1 ||
            { echo "rillflow: could not install postgresql-15-pgq3 (the PgQ baseline is skipped)"; return 0; }
    fi
    local share lib
    share=$(pg_config --sharedir)/extension
    lib=$(pg_config --pkglibdir)
    if [ "$share" != /usr/share/postgresql/15/extension ]; then
        as_root cp /usr/share/postgresql/15/extension/pgq* "$share"/ 2>/dev/null || true
        as_root cp /usr/lib/postgresql/15/lib/pgq* "$lib"/ 2>/dev/null || true
    fi
}
rf_install_pgq

eval "$(bash scripts/cluster.sh env)"
if pg_isready -q; then
    echo "rillflow: using the cluster that is already running on port $PGPORT (left running)"
    trap 'rf_bench_reset' EXIT
else
    trap 'rf_bench_reset; bash scripts/cluster.sh stop' EXIT
fi
rf_start_cluster
url=$(rf_fresh_database rillflow_bench)

echo "== machine"
echo "cpu:      $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "kernel:   $(uname -sr)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages before the run; others' work skews the figures)"
echo

# Two server modes. durable: fsync, synchronous_commit and full_page_writes on, the defaults
# a real deployment runs with (every commit waits for its WAL flush). cpu: all three off, so
# the disk does not count and the figures show CPU and locking. Set with ALTER SYSTEM and a
# reload, and reset at the end (the throwaway cluster's own postgresql.conf has them off).
rf_bench_mode() {
    local v=$([ "$1" = durable ] && echo on || echo off)
    # the worker on, as deployments run it (a test run may have left the cluster with it off)
    psql -X -q -d postgres -c "ALTER SYSTEM SET fsync = $v" -c "ALTER SYSTEM SET synchronous_commit = $v" \
        -c "ALTER SYSTEM SET full_page_writes = $v" -c "ALTER SYSTEM RESET rillflow.worker_enabled" \
        -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    echo "mode:     $1; load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "settings: $(psql -X -At -d "$url" -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name)
        FROM pg_settings WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'full_page_writes',
                                        'max_wal_size', 'shared_preload_libraries')")"
}
rf_bench_reset() {
    psql -X -q -d postgres -c "ALTER SYSTEM RESET fsync" -c "ALTER SYSTEM RESET synchronous_commit" \
        -c "ALTER SYSTEM RESET full_page_writes" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}

only=${RILLFLOW_BENCH_ONLY:-events,docs,projections,subscriptions,evolution,archive}
modes=${RILLFLOW_BENCH_MODES:-durable,cpu}
# run_bench KEY TITLE COMMAND...: COMMAND (with DATABASE_URL the bench database) when KEY is
# among the chosen benchmarks, between its title and the load average after it.
run_bench() {
    local key=$1 title=$2
    shift 2
    [[ ",$only," == *,$key,* ]] || return 0
    echo "== $title ($mode)"
    DATABASE_URL=$url "$@"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) after the $title benchmark"
    echo
}
# The subscription benchmark creates subscriptions and tables: a database of its own.
subscriptions_bench() {
    DATABASE_URL=$(rf_fresh_database rillflow_bench_subs) \
        build/cmake/bench/rillflow_subscriptions_bench --events "${RILLFLOW_BENCH_SUB_EVENTS:-100000}"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS rillflow_bench_subs WITH (FORCE)" >/dev/null
}
for mode in ${modes//,/ }; do
    rf_bench_mode "$mode"
    echo
    run_bench events events build/cmake/bench/rillflow_bench --seconds "${RILLFLOW_BENCH_SECONDS:-4}"
    run_bench floor "append floor" bash bench/append_floor.sh
    # The other benchmarks run once, in the first mode (durable by default): reads and
    # catch-up, where the mode matters little.
    [ "$mode" = "${modes%%,*}" ] || continue
    run_bench docs documents build/cmake/bench/rillflow_docs_bench --docs "${RILLFLOW_BENCH_DOCS:-100000}"
    run_bench projections projections build/cmake/bench/rillflow_projections_bench \
        --events "${RILLFLOW_BENCH_EVENTS:-100000}"
    run_bench subscriptions subscriptions subscriptions_bench
    run_bench evolution "event evolution" build/cmake/bench/rillflow_evolution_bench
    run_bench archive archive build/cmake/bench/rillflow_archive_bench --archived "${RILLFLOW_BENCH_ARCHIVED:-2000000}"
done
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) after the run"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS rillflow_bench WITH (FORCE)" >/dev/null
