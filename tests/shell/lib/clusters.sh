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
#   crash_server DB                     stop the test cluster as a power cut
#                                       would, start it, wait for DB
#   restore_round_trip DUMP DB          pg_restore DUMP into a fresh DB here
#                                       and into DB_other of a second cluster,
#                                       checking each with the test's
#                                       check_restored DB [PSQL OPTION...]
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

# pg_ctl -m immediate: no checkpoint, and WAL buffers not yet written are
# lost, as in a power cut. Then start again and wait until DB accepts
# connections.
crash_server() {
    local db=$1
    as_server_user "$(pg_config --bindir)/pg_ctl" -D "$(q -d postgres -c "SHOW data_directory")" \
        -m immediate -w stop >/dev/null
    bash scripts/cluster.sh start >/dev/null
    _crash_server_up() { q -d "$db" -c "SELECT 1" >/dev/null 2>&1; }
    wait_until "the server to accept connections after the crash" 60 _crash_server_up
}

# The second restore goes to another cluster (pg2), where the transaction ids
# recorded in the dump mean nothing. Leaves its psql options in `other`.
restore_round_trip() {
    local dump=$1 db=$2
    q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
        -c "CREATE DATABASE $db"
    pg_restore -d "$db" "$dump"
    check_restored "$db"
    other_cluster pg2
    read -ra other <<<"$(other_env pg2)"
    q "${other[@]}" -d postgres -c "CREATE DATABASE ${db}_other"
    pg_restore "${other[@]}" -d "${db}_other" "$dump"
    check_restored "${db}_other" "${other[@]}"
}
