#!/usr/bin/env bash
# The worker's pause between ticks (rillflow.tick_coalesce) while appends
# keep arriving: appends that commit in it do not wake the worker, the tick
# at its end stamps them, and a reader waiting for the log ends it at once,
# so the worker, not a ticker the reader would start after waiting 100 ms for
# it, gives the reader its position. With a pause of a second, pgbench
# appending without a break and twenty appends each followed by a read of the
# head: when readers could not end the pause, their tickers stamped nearly
# everything.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_tick_coalesce
on_exit reset_worker_settings
make_work_dir
stream=
on_exit '[ -z "$stream" ] || kill "$stream" 2>/dev/null; wait 2>/dev/null || true'

worker_switch on
rf_fresh_database $db >/dev/null
wait_for_worker $db
# An hour's naptime: only a wake-up moves an idle worker.
set_naptime 3600000 $db
q -d postgres -c "ALTER SYSTEM SET rillflow.tick_coalesce = 1000000" -c "SELECT pg_reload_conf()" >/dev/null
coalesce_seen() { [ "$(q -d $db -c "SHOW rillflow.tick_coalesce")" = 1000000 ]; }
wait_until "the reload of rillflow.tick_coalesce" 30 coalesce_seen

worker_sequenced() {
    q -d $db -c "SELECT events_sequenced FROM rillflow.worker_status() WHERE process = 'worker' AND database = current_database()"
}
head_now() { q -d $db -c "SELECT coalesce(max(head), 0) FROM rillflow_default.log_state"; }
head_is() { [ "$(head_now)" -eq "$1" ]; }

# A quiet moment, then one append: it wakes the worker (the naptime is an
# hour).
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'First', '{}')" >/dev/null
wait_until "the worker to sequence the first event" 30 head_is 1
sleep 0.2
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'AfterQuiet', '{}')" >/dev/null
wait_until "the worker to sequence the append after a quiet moment" 30 head_is 2
echo "ok: an append after a quiet moment is sequenced by the worker"

# A stream of appends that does not stop.
echo "SELECT rillflow.append_event(gen_random_uuid(), 'Stream', '{}');" >"$work/append.sql"
"$(pg_config --bindir)/pgbench" -n -d $db -c 2 -T 60 -f "$work/append.sql" >"$work/pgbench.out" 2>&1 &
stream=$!
stream_going() { [ "$(head_now)" -ge 50 ]; }
wait_until "the stream of appends to be sequenced" 30 stream_going

before=$(worker_sequenced)
head_before=$(head_now)
for i in $(seq 1 20); do
    out=$(q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Read', '{}')" \
        -c "SELECT rillflow.head_position()" \
        -c "SELECT p.position FROM rillflow_default.events e JOIN (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p USING (seq)
             WHERE e.type = 'Read' ORDER BY e.seq DESC LIMIT 1")
    head=$(sed -n 2p <<<"$out")
    own=$(sed -n 3p <<<"$out")
    [ -n "$own" ] && [ "$head" -ge "$own" ] || fail "read $i: its own append has no position in the log it read (head $head)"
done
by_worker=$(($(worker_sequenced) - before))
total=$(($(head_now) - head_before))
# A tick the worker was slow to run (a loaded machine) may leave a little to
# a ticker; a pause that readers cannot end leaves them nearly everything.
[ $((by_worker * 4)) -ge $((total * 3)) ] ||
    fail "the worker stamped $by_worker of $total events while readers waited: the pause did not end for them"
echo "ok: readers end the worker's pause: it stamped $by_worker of the $total events appended meanwhile"

# The stream stops: its last appends committed in a pause, which they did
# not end, and nothing comes after them. The tick at the pause's end stamps
# them (with an hour's naptime, nothing else would).
kill "$stream" 2>/dev/null || true
wait "$stream" 2>/dev/null || true
stream=
events=$(q -d $db -c "SELECT count(*) FROM rillflow_default.events")
wait_until "the worker to sequence the stream's last appends" 30 head_is "$events"
echo "ok: the appends that committed in the last pause got their positions when it ended"
q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
echo "ok: worker_tick_coalesce"
