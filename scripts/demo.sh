#!/usr/bin/env bash
# make demo: set up a fresh machine, build, start a throwaway cluster with
# rillflow preloaded, create the extension and run the C++ quickstart. The
# cluster keeps running so you can look around; the last lines say how.
set -euo pipefail
source "$(dirname "$0")/common.sh"

rf_setup
rf_start_cluster
url=$(rf_fresh_database rillflow_demo)
echo "== quickstart (examples/quickstart.cpp) against $url"
build/cmake/examples/quickstart "$url"
cat <<EOT

The cluster is still running on port $PGPORT (socket directory $PGHOST).
  connect:  psql "$url"
            then e.g.  SELECT position, type, stream_id FROM rillflow.read_all();
  the CLI:  build/cmake/cli/rillflow --database-url "$url" events tail
  stop it:  bash scripts/cluster.sh stop      (or delete it: bash scripts/cluster.sh destroy)
EOT
