#!/usr/bin/env bash
# Reads see their own writes with the worker running (issue 8, item 5). The
# worker ticks at every commit, so a session that appends and then reads
# races it for the sequencer: read_all and head_position used to return
# without the session's own committed event whenever the worker held the
# sequencer (257 times in 300), and run_sequencer() returned 0 at once. Each
# of the three, called right after an append committed, must include it.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

make_work_dir
db=rillflow_read_your_writes
worker_switch on
rf_fresh_database $db >/dev/null
wait_for_worker $db

n=300
stream=5e000000-0000-0000-0000-00000000f001
{
    for i in $(seq 1 $n); do
        id=$(printf '5e000000-0000-0000-0001-%012d' "$i")
        echo "SELECT rillflow.append_event('$stream', 'Mine', '{}', event_id => '$id') \\g /dev/null"
        case $((i % 3)) in
        0) echo "SELECT 'read_all $i ' || count(*) FROM rillflow.read_all($((i - 1)), 10) WHERE event_id = '$id';" ;;
        1) echo "SELECT 'head_position $i ' || (rillflow.head_position() >= $i)::int;" ;;
        2) echo "SELECT rillflow.run_sequencer() \\g /dev/null"
           echo "SELECT 'run_sequencer $i ' || count(position) FROM rillflow.read_stream('$stream', $i);" ;;
        esac
    done
} >"$work/script.sql"
q -d $db -f "$work/script.sql" >"$work/out"
[ "$(wc -l <"$work/out")" -eq $n ] || fail "expected $n answers, got $(wc -l <"$work/out"): $(head -5 "$work/out")"
misses=$(grep -c ' 0$' "$work/out" || true)
for reader in read_all head_position run_sequencer; do
    echo "$reader: $(grep "^$reader " "$work/out" | grep -c ' 0$' || true) misses in $(grep -c "^$reader " "$work/out")"
done
[ "$misses" -eq 0 ] || fail "$misses reads in $n missed the session's own committed append"
[ "$(worker_count $db)" -eq 1 ] || fail "the worker was not running"
[ "$(q -d $db -c "SELECT count(*) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions")" -eq $n ] || fail "not every event has a position"
echo "ok: read_all, head_position and run_sequencer read the session's own writes with the worker ticking"

q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
