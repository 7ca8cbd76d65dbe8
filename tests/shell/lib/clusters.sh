# Clusters besides the test cluster, for the tests that need their own
# (no_preload.sh, standby.sh, pg_upgrade.sh, worker_many_databases.sh).
# Sourced, not run, after preamble.sh.
#
#   other_cluster NAME [VAR=VALUE...]   start build/NAME (scripts/cluster.sh),
#                                       destroyed when the test exits; the
#                                       VARs (RILLFLOW_PRELOAD,
#                                       RILLFLOW_EXTRA_CONF...) shape a new one
#   other_env NAME                      print "-h HOST -p PORT" of it
#   as_server_user CMD...               run CMD as the server's user (postgres
#                                       when root), from /
#
# Each one's port is the first free one scripts/cluster.sh finds
# (RILLFLOW_PGPORT names the test cluster's port only).

other_cluster() {
    local name=$1
    shift
    on_exit "(unset RILLFLOW_PGPORT; RILLFLOW_CLUSTER=$name bash scripts/cluster.sh destroy)"
    (unset RILLFLOW_PGPORT; export RILLFLOW_CLUSTER=$name "$@"; bash scripts/cluster.sh destroy; bash scripts/cluster.sh start)
}

other_env() {
    local env
    env=$(unset RILLFLOW_PGPORT; RILLFLOW_CLUSTER=$1 bash scripts/cluster.sh env)
    echo "-h $(sed -n "s/^export PGHOST='\([^']*\)'.*/\1/p" <<<"$env") -p $(sed -n "s/.* PGPORT='\([0-9]*\)'.*/\1/p" <<<"$env")"
}

as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
