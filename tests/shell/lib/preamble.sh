# How every shell test (tests/shell/*.sh) starts, written once. Sourced, not run,
# right after `set -euo pipefail`:
#
#   source "$(dirname "$0")/lib/preamble.sh"
#
# It sources scripts/common.sh (which moves to the repository root and defines
# rf_fresh_database and friends), takes PGHOST, PGPORT and PGUSER of the test
# cluster from scripts/cluster.sh, and defines q, fail, wait_until, on_exit,
# make_work_dir and background_session. A DATABASE_URL the caller set (scripts/test.sh names the
# GoogleTest database) is kept; otherwise it is the cluster's.

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

# on_exit COMMAND: run COMMAND (a string, evaluated then) when the test exits,
# however it exits; the latest registered runs first. A failing one does not
# stop the others.
_on_exit=()
_run_on_exit() {
    local c
    for c in "${_on_exit[@]}"; do eval "$c" || true; done
}
on_exit() {
    _on_exit=("$1" "${_on_exit[@]}")
    trap _run_on_exit EXIT
}

# make_work_dir: $work, a scratch folder the server's user can read too (for
# dumps, outputs of background sessions), deleted when the test exits.
make_work_dir() {
    work=$(mktemp -d)
    chmod 755 "$work"
    on_exit 'rm -rf "$work"'
}

# background_session DB MARK TENTHS OUT [PSQL OPTION...]: a psql session of its
# own on DB, in the background, that runs the statements on stdin, then prints
# MARK and stays connected for TENTHS tenths of a second; all it prints goes to
# OUT. $! is its process; wait for MARK in OUT before relying on the statements.
background_session() {
    local db=$1 mark=$2 tenths=$3 out=$4 statements
    shift 4
    statements=$(cat)
    {
        printf '%s\n' "$statements"
        echo "SELECT '$mark';"
        for _ in $(seq 1 "$tenths"); do echo "SELECT pg_sleep(0.1);"; done
    } | psql -X -At "$@" -d "$db" >"$out" 2>&1 &
}
