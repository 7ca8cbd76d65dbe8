#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for rillflow's demo, tests and benchmarks.
#
#   scripts/cluster.sh start    initdb (first time) and start, rillflow preloaded
#   scripts/cluster.sh stop     stop it (a no-op when it is not running)
#   scripts/cluster.sh env      print the PG* variables and DATABASE_URL to eval
#   scripts/cluster.sh destroy  stop it and delete it
#   scripts/cluster.sh standby  start a streaming hot standby of it (pg_basebackup -R,
#                               <base>-standby, its own port) and print that port
#   scripts/cluster.sh standby-destroy   stop the standby and delete it
#
# RILLFLOW_CLUSTER names a second cluster (build/<name>), for tests that need
# two clusters. RILLFLOW_PRELOAD sets shared_preload_libraries of a new
# cluster (default 'rillflow'; empty for none, as on a managed service, or
# 'pg_cron'), and RILLFLOW_EXTRA_CONF adds lines to its postgresql.conf. RILLFLOW_PGPORT gives the port; without it the cluster keeps
# the port it was first started on (written in its folder, so env and stop
# in later calls agree), and the first start takes 54329 or, when another
# server listens there, the next free port.
#
# It lives under build/pg (data, log, socket) on a private port and never
# touches a system cluster. PostgreSQL refuses to run as root, so as root the
# server runs as the postgres user.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
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
port_file="$base/port"

# True when something accepts connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# What listens on port $1, as far as ss can tell.
port_holder() {
    local who
    who=$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n 1 | sed -n 's/.*users:((\(.*\)))/\1/p')
    echo "${who:-a process this user cannot see}"
}

# 54329, or the first port after it that nobody listens on.
free_port() {
    local p
    for p in $(seq 54329 54428); do
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    echo "rillflow: no free port in 54329..54428; set RILLFLOW_PGPORT" >&2
    return 1
}

# The port this cluster was started on: written by start; older clusters only
# have it in postgresql.conf.
recorded_port() {
    if [ -f "$port_file" ]; then
        cat "$port_file"
    elif [ -f "$data/postgresql.conf" ]; then
        sed -n 's/^port = \([0-9]*\).*/\1/p' "$data/postgresql.conf" | tail -n 1
    fi
}

running() { [ -f "$data/PG_VERSION" ] && as_server_user "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

# The port of this cluster: RILLFLOW_PGPORT, else the recorded one, else a free one.
pick_port() {
    port=${RILLFLOW_PGPORT:-$(recorded_port)}
    [ -n "$port" ] || port=$(free_port)
}

print_env() {
    echo "export PGHOST='$sock' PGPORT='$port' PGUSER=postgres"
    echo "export DATABASE_URL='postgresql://postgres@/postgres?host=$sock&port=$port'"
}

case "${1:-}" in
start)
    pick_port
    mkdir -p "$base"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$base"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_server_user "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 ||
            { cat "$base/initdb.log"; exit 1; }
        cat >>"$data/postgresql.conf" <<CONF
# rillflow throwaway cluster (its port: the file "port" next to data/, given at start)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
shared_preload_libraries = '${RILLFLOW_PRELOAD-rillflow}'
max_prepared_transactions = 10
max_connections = 100
max_worker_processes = 40
$(case ",${RILLFLOW_PRELOAD-rillflow}," in *,rillflow,*) echo "rillflow.max_workers = 32" ;; esac)
rillflow.worker_enabled = ${RILLFLOW_WORKER_ENABLED:-on}
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%a '
${RILLFLOW_EXTRA_CONF:-}
CONF
    fi
    as_server_user mkdir -p "$sock"
    if running; then
        echo "rillflow: cluster already running on port $(recorded_port)"
    else
        if port_in_use "$port"; then
            if [ -n "${RILLFLOW_PGPORT:-}" ]; then
                echo "rillflow: port $port (RILLFLOW_PGPORT) is taken by $(port_holder "$port"); choose another one, or unset RILLFLOW_PGPORT to have a free one found" >&2
                exit 1
            fi
            taken=$port
            port=$(free_port)
            echo "rillflow: port $taken is taken by $(port_holder "$taken"); using port $port"
        fi
        echo "$port" >"$port_file"
        as_server_user "$bindir/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >/dev/null ||
            { echo "rillflow: the server did not start; its log:"; cat "$log"; exit 1; }
    fi
    ;;
stop)
    if running; then
        as_server_user "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
    ;;
destroy)
    "$0" standby-destroy
    "$0" stop
    rm -rf "$base"
    ;;
env)
    pick_port
    print_env
    ;;
standby)
    running || { echo "rillflow: the cluster is not running" >&2; exit 1; }
    pick_port
    sbase="$base-standby"
    "$0" standby-destroy
    mkdir -p "$sbase"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$sbase"
    as_server_user "$bindir/pg_basebackup" -h "$sock" -p "$port" -U postgres -D "$sbase/data" -R -X stream -c fast \
        >"$sbase/basebackup.log" 2>&1 || { cat "$sbase/basebackup.log"; exit 1; }
    sport=$((port + 1))
    while port_in_use "$sport"; do sport=$((sport + 1)); done
    echo "$sport" >"$sbase/port"
    as_server_user "$bindir/pg_ctl" -D "$sbase/data" -l "$sbase/server.log" -o "-p $sport" -w -t 60 start >/dev/null ||
        { echo "rillflow: the standby did not start; its log:"; cat "$sbase/server.log"; exit 1; }
    echo "$sport"
    ;;
standby-destroy)
    sbase="$base-standby"
    if [ -f "$sbase/data/PG_VERSION" ]; then
        as_server_user "$bindir/pg_ctl" -D "$sbase/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$sbase"
    ;;
*)
    echo "usage: $0 start|stop|destroy|env|standby|standby-destroy" >&2
    exit 2
    ;;
esac
