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
# RILLFLOW_BENCH_ONLY picks benchmarks (events,docs,projections,evolution: all by default);
# RILLFLOW_BENCH_DOCS and RILLFLOW_BENCH_EVENTS size the document and projection
# benchmarks (1,000,000 each by default).
set -euo pipefail
source "$(dirname "$0")/common.sh"

rf_setup

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
only=${RILLFLOW_BENCH_ONLY:-events,docs,projections,evolution}
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
if [[ ",$only," == *,evolution,* ]]; then
    echo "== event evolution"
    DATABASE_URL=$url build/cmake/bench/rillflow_evolution_bench
    echo
fi
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) after the run"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS rillflow_bench WITH (FORCE)" >/dev/null
