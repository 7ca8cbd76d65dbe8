#!/usr/bin/env bash
# While the worker pauses between ticks (rillflow.tick_coalesce), appends
# that commit do not wake it, and a reader waiting for the log ends the pause
# at once: the worker, not a ticker the reader would start after waiting
# 100 ms for it, gives the reader its position. With a pause of a second,
# twenty appends each followed by a read of the head: before the pause could
# end early, the readers' tickers stamped nearly all of them.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_tick_coalesce
reset_coalesce() {
    q -d postgres -c "ALTER SYSTEM RESET rillflow.tick_coalesce" -c "SELECT pg_reload_conf()" >/dev/null
}
on_exit reset_worker_settings
on_exit reset_coalesce

worker_switch on
rf_fresh_database $db >/dev/null
wait_for_worker $db
q -d postgres -c "ALTER SYSTEM SET rillflow.tick_coalesce = 1000000" -c "SELECT pg_reload_conf()" >/dev/null
coalesce_seen() { [ "$(q -d $db -c "SHOW rillflow.tick_coalesce")" = 1000000 ]; }
wait_until "the reload of rillflow.tick_coalesce" 30 coalesce_seen

worker_sequenced() {
    q -d $db -c "SELECT events_sequenced FROM rillflow.worker_status() WHERE process = 'worker' AND database = current_database()"
}
head_is() { [ "$(q -d $db -c "SELECT coalesce(max(head), 0) FROM rillflow_default.log_state")" -eq "$1" ]; }

# No reader: an append in a pause is stamped when the pause ends.
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'First', '{}')" >/dev/null
wait_until "the worker to sequence the first event" 30 head_is 1
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'InThePause', '{}')" >/dev/null
wait_until "the tick after the pause" 30 head_is 2
echo "ok: an append that commits in the pause gets its position at the pause's end"

before=$(worker_sequenced)
for i in $(seq 1 20); do
    head=$(q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'T', '{}')" -c "SELECT rillflow.head_position()" | tail -1)
    [ "$head" -eq $((i + 2)) ] || fail "read $i saw head $head, not its own append's position $((i + 2))"
done
by_worker=$(($(worker_sequenced) - before))
# A tick the worker was slow to run (a loaded machine) may leave one to a
# ticker; a pause that readers cannot end leaves nearly all of them.
[ "$by_worker" -ge 15 ] || fail "the worker stamped $by_worker of 20 appends that readers waited for: the pause did not end for them"
echo "ok: readers end the worker's pause: it stamped $by_worker of the 20 appends they waited for"

q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
echo "ok: worker_tick_coalesce"
