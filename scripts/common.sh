# Shared by demo.sh, test.sh and bench.sh: set up a fresh machine, build and
# install the extension, build the C++ parts. Sourced, not run.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

rf_setup() {
    bash scripts/deps.sh
    mkdir -p build
    make -s RILLFLOW_WERROR=1 >build/make.log 2>&1 || { cat build/make.log; return 1; }
    # The server finds extensions only in its own directories.
    as_root make -s install >build/make-install.log 2>&1 || { cat build/make-install.log; return 1; }
    bash scripts/build-client.sh >build/cmake-build.log 2>&1 || { tail -n 60 build/cmake-build.log; return 1; }
}

rf_start_cluster() {
    bash scripts/cluster.sh start
    eval "$(bash scripts/cluster.sh env)"
}

# A fresh database with the extension; prints its URL.
rf_fresh_database() {
    local db=$1
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    psql -X -q -d "$db" -c "CREATE EXTENSION rillflow" >/dev/null
    echo "postgresql://postgres@/$db?host=$PGHOST&port=$PGPORT"
}
