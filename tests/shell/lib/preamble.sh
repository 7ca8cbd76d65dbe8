# How every shell test (tests/shell/*.sh) starts, written once. Sourced, not run,
# right after `set -euo pipefail`:
#
#   source "$(dirname "$0")/lib/preamble.sh"
#
# It sources scripts/common.sh (which moves to the repository root and defines
# rf_fresh_database and friends), takes PGHOST, PGPORT and PGUSER of the test
# cluster from scripts/cluster.sh, and defines q, fail and wait_until. A
# DATABASE_URL the caller set (scripts/test.sh names the GoogleTest database)
# is kept; otherwise it is the cluster's.

source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/common.sh"
_caller_url=${DATABASE_URL:-}
eval "$(bash scripts/cluster.sh env)"
[ -z "$_caller_url" ] || DATABASE_URL=$_caller_url
unset _caller_url

# psql, quiet and unaligned, stopping at the first error.
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
# Ends the test as failed, saying why.
fail() { echo "FAIL: $*"; exit 1; }

# wait_until DESCRIPTION SECONDS COMMAND...: run COMMAND every 0.1 s until it
# succeeds; fail with DESCRIPTION when SECONDS pass first. The deadlines are
# generous: they bound a failure, they never decide a pass.
wait_until() {
    local what=$1 secs=$2 deadline
    shift 2
    deadline=$(($(date +%s) + secs))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "gave up after ${secs}s waiting for: $what"
        sleep 0.1
    done
}
