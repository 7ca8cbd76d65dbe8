#!/usr/bin/env bash
# make demo: set up a fresh machine, build, start a throwaway cluster with
# rillflow preloaded, create the extension and run the C++ quickstart. The
# cluster keeps running so you can look around; the last line says how to
# stop it (also when something failed after it started).
set -euo pipefail
source "$(dirname "$0")/common.sh"

rf_setup
rf_start_cluster
cluster_env=${RILLFLOW_CLUSTER:+RILLFLOW_CLUSTER=$RILLFLOW_CLUSTER }
trap 'echo "To stop the cluster: ${cluster_env}bash scripts/cluster.sh stop   (to delete it as well: ${cluster_env}bash scripts/cluster.sh destroy)"' EXIT
url=$(rf_fresh_database rillflow_demo)
echo "== quickstart (examples/quickstart.cpp) against $url"
build/cmake/examples/quickstart "$url"
cat <<EOT

The cluster is still running on port $PGPORT (socket directory $PGHOST).
  connect:  psql "$url"
            then e.g.  SELECT position, type, stream_id FROM rillflow.read_all();
  the CLI:  build/cmake/cli/rillflow --database-url "$url" events tail
EOT
