#!/usr/bin/env bash
# A transaction that only polled commits without waiting for its flush
# (subscriptions/poll_commit.c). This proves the claim that makes that safe:
# a poll lost in a crash loses no event. Three consumers of one group poll
# (each poll its own transaction, which does not wait), then insert the
# positions into a sink and ack them in one durable transaction; the server is
# killed twice under them (pg_ctl -m immediate: the WAL buffers of the polls
# that had not been flushed are gone) and restarted. At the end every event
# is in the sink exactly once: none lost with a lost poll, none applied twice.
# The database runs with synchronous_commit on, so only the polls skip the wait.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"
source "$(dirname "$0")/lib/worker.sh"

make_work_dir
pids=()
on_exit 'bash scripts/cluster.sh start >/dev/null 2>&1'
on_exit 'touch "$work/stop"'

db=rillflow_subscription_crash
n=20000
rf_fresh_database $db >/dev/null
q -d postgres -c "ALTER DATABASE $db SET synchronous_commit = on" >/dev/null

q -d $db <<SQL >/dev/null
CREATE TABLE sink (position bigint NOT NULL, consumer text NOT NULL);
SELECT rillflow.create_subscription('crash', event_types => ARRAY['Job']);
SELECT rillflow.subscription_group_configure('crash', 'g');
SELECT rillflow.append_events(('00000000-0000-0000-0000-' || lpad(to_hex(i % 200), 12, '0'))::uuid,
           (SELECT jsonb_agg(jsonb_build_object('type', 'Job', 'body', jsonb_build_object('n', i * 100 + k)))
              FROM generate_series(1, 100) k))
  FROM generate_series(1, $n / 100) i;
SQL
_sequenced() { [ "$(q -d $db -c "SELECT rillflow.head_position()")" -ge $n ]; }
wait_until "the worker to give the $n events positions" 60 _sequenced

consumer() {	# me: polls 50 at a time (1 s leases), applies and acks in one transaction, until the server goes
    local me=$1
    {
        while [ ! -e "$work/stop" ]; do
            echo "SELECT coalesce(string_agg(position::text, ','), '') AS ps, count(*) > 0 AS got FROM rillflow.subscription_poll('crash', 50, 'g', '$me', '1 second') \\gset"
            echo "\\if :got"
            echo "BEGIN;"
            echo "INSERT INTO sink SELECT unnest(('{' || :'ps' || '}')::bigint[]), '$me';"
            echo "SELECT rillflow.subscription_ack('crash', ('{' || :'ps' || '}')::bigint[], 'g', '$me') \\g /dev/null"
            echo "COMMIT;"
            echo "\\else"
            echo "SELECT pg_sleep(0.05) \\g /dev/null"
            echo "\\endif"
        done
    } | psql -X -q -At -d $db >/dev/null 2>&1 || true
}

# a consumer's script ends when the stop file exists (or its psql when the server goes)
start_consumers() { rm -f "$work/stop"; for c in c1 c2 c3; do consumer $c & pids+=($!); done; }
stop_consumers() { touch "$work/stop"; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }

for round in 1 2; do
    start_consumers
    target=$((round * n / 3))
    _applied() { [ "$(q -d $db -c "SELECT count(*) FROM sink" 2>/dev/null || echo 0)" -ge $target ]; }
    wait_until "round $round: the consumers to apply $target events" 120 _applied
    crash_server $db
    stop_consumers
    echo "crash $round after $(q -d $db -c "SELECT count(*) FROM sink") events applied"
done

start_consumers
_all() { [ "$(q -d $db -c "SELECT count(DISTINCT position) FROM sink")" -ge $n ]; }
wait_until "the consumers to apply all $n events after the crashes" 180 _all
# the last in-flight batches drain, then nothing more may arrive
sleep 2
stop_consumers

result=$(q -d $db -c "SELECT count(*) || ' rows, ' || count(DISTINCT position) || ' positions, ' || (count(*) - count(DISTINCT position)) || ' twice' FROM sink")
echo "after two crashes: $result"
[ "$result" = "$n rows, $n positions, 0 twice" ] || fail "events lost or applied twice across the crashes: $result"
[ "$(q -d $db -c "SELECT count(*) FROM rillflow_default.subscription_dlq")" = 0 ] || fail "events were dead-lettered"
echo "ok: $n events applied exactly once by a group whose polls commit without waiting, across 2 crashes"

q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
