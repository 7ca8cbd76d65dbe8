#!/usr/bin/env bash
# No reader ever sees a position that a crash could take back (contract point
# 7 of the gap-free log; issue 8). Writers append and readers follow the log
# with read_all, recording every (position, event) they are given; then the
# server is killed (pg_ctl -m immediate, as a power cut would, with the
# cluster's synchronous_commit = off) and restarted. Every position a reader
# saw must still be there, with the same event: none moved, none vanished.
# Run with the worker ticking, then with the worker off (readers alone), three
# crashes each.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"
source "$(dirname "$0")/lib/worker.sh"

make_work_dir
pids=()
on_exit 'reset_worker_settings 2>/dev/null'
on_exit 'bash scripts/cluster.sh start >/dev/null 2>&1'
on_exit 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done'

db=rillflow_crash_positions
rf_fresh_database $db >/dev/null

writer() {	# appends until the server goes away
    while :; do
        echo "SELECT rillflow.append_event(gen_random_uuid(), 'E', '{}') \\g /dev/null"
        echo "SELECT rillflow.append_events(gen_random_uuid(), '[{\"type\": \"A\", \"body\": {}}, {\"type\": \"B\", \"body\": {}}]') \\g /dev/null"
    done | psql -X -q -At -d $db >/dev/null 2>&1 || true
}

reader() {	# follows the log, printing "position event_id" for every event read
    {
        echo "\\set last 0"
        while :; do
            echo "SELECT coalesce(string_agg(position || ' ' || event_id, E'\\n' ORDER BY position), '') AS rows, coalesce(max(position), :last) AS last FROM rillflow.read_all(:last, 1000) \\gset"
            echo "\\echo :rows"
        done
    } | stdbuf -oL psql -X -q -At -d $db 2>/dev/null | grep --line-buffered -v '^$' || true
}

round() {	# label: run writers and readers, crash under load, check
    local label=$1
    pids=()
    for w in 1 2 3; do writer & pids+=($!); done
    for r in 1 2; do reader >"$work/$label.reader$r" & pids+=($!); done
    # line-buffered readers: each must have read something before the crash,
    # or a crash that came first would leave nothing to check
    _read_some() { [ -s "$work/$label.reader1" ] && [ -s "$work/$label.reader2" ] && [ "$(q -d $db -c "SELECT count(*) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions" 2>/dev/null || echo 0)" -ge 500 ]; }
    wait_until "$label: the log to grow under load" 60 _read_some
    crash_server $db
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
    cat "$work/$label".reader* >"$work/$label.seen"
    local seen
    seen=$(wc -l <"$work/$label.seen")
    [ "$seen" -gt 0 ] || fail "$label: the readers saw nothing"
    q -d $db <<SQL >"$work/$label.check"
CREATE TEMP TABLE seen (position bigint, event_id uuid);
\\copy seen FROM '$work/$label.seen' WITH (DELIMITER ' ')
SELECT count(*) FILTER (WHERE e.event_id IS NULL) || ' vanished, '
    || count(*) FILTER (WHERE e.event_id IS DISTINCT FROM s.event_id AND e.event_id IS NOT NULL) || ' moved'
  FROM seen s
  LEFT JOIN (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p USING (position)
  LEFT JOIN rillflow_default.events e USING (seq);
SQL
    echo "$label: readers saw $seen positions (up to $(sort -n "$work/$label.seen" | tail -1 | cut -d' ' -f1)); after the crash: $(cat "$work/$label.check")"
    [ "$(cat "$work/$label.check")" = "0 vanished, 0 moved" ] || fail "$label: positions readers saw changed in the crash"
    # and the log is still dense after recovery
    q -d $db -c "SELECT rillflow.head_position()" >/dev/null
    [ "$(q -d $db -c "SELECT count(*) = coalesce(max(position), 0) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions")" = t ] || fail "$label: the log has a gap after recovery"
}

worker_switch on
wait_for_worker $db
for i in 1 2 3; do
    round "worker-$i"
    wait_for_worker $db
done
echo "ok: with the worker ticking, no position a reader saw moved or vanished in 3 crashes"

worker_switch off
for i in 1 2 3; do round "readers-$i"; done
echo "ok: with the worker off, no position a reader saw moved or vanished in 3 crashes"

worker_switch on
q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
