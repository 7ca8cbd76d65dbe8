#!/usr/bin/env bash
# A worker killed with SIGKILL makes the postmaster reset the whole cluster
# (crash recovery): afterwards the launcher and the database's worker are
# back, one of each, and appends are sequenced and projected again.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_crash
worker_switch on
rf_fresh_database $db >/dev/null
wait_for_worker $db
old=$(worker_pid $db)
old_launcher=$(launcher_pid)

# The cluster runs with synchronous_commit = off: flush what was committed,
# or the reset loses it along with the shared WAL buffers.
q -d postgres -c "CHECKPOINT"
kill -KILL "$old"
_recovered() {
    local l
    l=$(q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'rillflow launcher'" 2>/dev/null) || return 1
    [ -n "$l" ] && [ "$l" != "$old_launcher" ]
}
wait_until "the launcher after crash recovery" 60 _recovered
wait_for_worker $db
[ "$(worker_count $db)" -eq 1 ] || fail "$(worker_count $db) workers in $db after the crash"
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'E', '{}')" >/dev/null
_sequenced() { [ "$(q -d $db -c "SELECT count(*) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions")" -eq 1 ]; }
wait_until "the worker to sequence after crash recovery" 20 _sequenced
echo "worker crash restart: ok"
