#!/usr/bin/env bash
# make bench: set up a fresh machine, build everything (optimised, the same
# build make test uses, so neither rebuilds the other's), start the
# throwaway cluster, and run the benchmarks (bench/*.cpp) on a fresh
# database `rillflow_bench`. Prints the machine, the server's settings that
# matter, and one table of events/second with the ratio rillflow / baseline.
# Takes about ten minutes after the build. Not part of `make test`.
#
# A cluster that was already running is left running; one this script started
# is stopped at the end. RILLFLOW_BENCH_SECONDS sets the seconds per variant
# and round of the event benchmark (default 4; three rounds);
# RILLFLOW_BENCH_ONLY picks benchmarks (events,docs,projections,subscriptions,
# evolution,archive: all by default); RILLFLOW_BENCH_SUB_EVENTS sizes the
# subscription benchmark (100,000); RILLFLOW_BENCH_ARCHIVED the archive
# benchmark's archived events (2,000,000);
# RILLFLOW_BENCH_DOCS and RILLFLOW_BENCH_EVENTS size the document and projection
# benchmarks (1,000,000 each by default).
set -euo pipefail
source "$(dirname "$0")/common.sh"

rf_setup
# PgQ, the baseline of the subscription benchmark (Debian's package, installed here
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
else
    trap 'bash scripts/cluster.sh stop' EXIT
fi
rf_start_cluster
url=$(rf_fresh_database rillflow_bench)

echo "== machine"
echo "cpu:      $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "kernel:   $(uname -sr)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages before the run; others' work skews the figures)"
echo "settings: $(psql -X -At -d "$url" -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name)
    FROM pg_settings WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'full_page_writes',
                                    'max_wal_size', 'shared_preload_libraries')")"
echo
only=${RILLFLOW_BENCH_ONLY:-events,docs,projections,subscriptions,evolution,archive}
if [[ ",$only," == *,events,* ]]; then
    echo "== events"
    DATABASE_URL=$url build/cmake/bench/rillflow_bench --seconds "${RILLFLOW_BENCH_SECONDS:-4}"
    echo
fi
if [[ ",$only," == *,docs,* ]]; then
    echo "== documents"
    DATABASE_URL=$url build/cmake/bench/rillflow_docs_bench --docs "${RILLFLOW_BENCH_DOCS:-1000000}"
    echo
fi
if [[ ",$only," == *,projections,* ]]; then
    echo "== projections"
    DATABASE_URL=$url build/cmake/bench/rillflow_projections_bench --events "${RILLFLOW_BENCH_EVENTS:-1000000}"
    echo
fi
if [[ ",$only," == *,subscriptions,* ]]; then
    echo "== subscriptions"
    url=$(rf_fresh_database rillflow_bench)
    DATABASE_URL=$url build/cmake/bench/rillflow_subscriptions_bench --events "${RILLFLOW_BENCH_SUB_EVENTS:-100000}"
    echo
fi
if [[ ",$only," == *,evolution,* ]]; then
    echo "== event evolution"
    DATABASE_URL=$url build/cmake/bench/rillflow_evolution_bench
    echo
fi
if [[ ",$only," == *,archive,* ]]; then
    echo "== archive"
    DATABASE_URL=$url build/cmake/bench/rillflow_archive_bench --archived "${RILLFLOW_BENCH_ARCHIVED:-2000000}"
    echo
fi
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) after the run"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS rillflow_bench WITH (FORCE)" >/dev/null
