#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for rillflow's demo, tests and benchmarks.
#
#   scripts/cluster.sh start    initdb (first time) and start, rillflow preloaded
#   scripts/cluster.sh stop     stop it (a no-op when it is not running)
#   scripts/cluster.sh env      print the PG* variables and DATABASE_URL to eval
#   scripts/cluster.sh destroy  stop it and delete it
#
# RILLFLOW_CLUSTER names a second cluster (build/<name>) and RILLFLOW_PGPORT
# gives its port, for tests that need two clusters.
#
# It lives under build/pg (data, log, socket) on a private port and never
# touches a system cluster. PostgreSQL refuses to run as root, so as root the
# server runs as the postgres user.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${RILLFLOW_PGPORT:-54329}
bindir=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
[ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin

as_server_user() {	# from /, which the server's user can always enter
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# The cluster lives in the build tree unless the server's user cannot reach it
# (a checkout under /root, say); then it lives in a private folder under /tmp.
name=${RILLFLOW_CLUSTER:-pg}
base="$root/build/$name"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
    base="/tmp/rillflow-$name-$(echo "$root" | md5sum | cut -c1-8)"
fi
data="$base/data"
sock="$base/run"
log="$base/server.log"

print_env() {
    echo "export PGHOST='$sock' PGPORT='$port' PGUSER=postgres"
    echo "export DATABASE_URL='postgresql://postgres@/postgres?host=$sock&port=$port'"
}

case "${1:-}" in
start)
    mkdir -p "$base"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$base"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_server_user "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 ||
            { cat "$base/initdb.log"; exit 1; }
        cat >>"$data/postgresql.conf" <<CONF
# rillflow throwaway cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
shared_preload_libraries = 'rillflow'
max_prepared_transactions = 10
max_connections = 100
max_worker_processes = 40
rillflow.max_workers = 32
rillflow.worker_enabled = ${RILLFLOW_WORKER_ENABLED:-on}
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%a '
CONF
    fi
    as_server_user mkdir -p "$sock"
    if as_server_user "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "rillflow: cluster already running on port $port"
    else
        as_server_user "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
            { echo "rillflow: the server did not start; its log:"; cat "$log"; exit 1; }
    fi
    ;;
stop)
    if [ -f "$data/PG_VERSION" ] && as_server_user "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_server_user "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
    ;;
destroy)
    "$0" stop
    rm -rf "$base"
    ;;
env)
    print_env
    ;;
*)
    echo "usage: $0 start|stop|destroy|env" >&2
    exit 2
    ;;
esac
