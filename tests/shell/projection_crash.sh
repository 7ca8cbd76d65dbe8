#!/usr/bin/env bash
# Exactly-once effect across a crash: a projection applies a big batch, the
# server is stopped with "immediate" (no clean shutdown) while the batch is
# half applied, and after restart the projection runs until idle. Every event
# must be applied exactly once: the read model's writes and the checkpoint
# commit together, so the half batch left nothing behind. It runs twice: with
# a per-event handler, and with a batch handler (rillflow.event_envelope[])
# that writes its whole batch in one statement before it stalls. The cluster
# is left running, as the harness expects.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"

# The throwaway cluster runs with synchronous_commit off: a commit would
# survive the immediate stop only once the WAL writer got to it. This test's
# commits must be durable when they return.
export PGOPTIONS="-c synchronous_commit=on"

# Every q below runs in the test's database.
export PGDATABASE=rillflow_proj_crash
on_exit 'bash scripts/cluster.sh start >/dev/null 2>&1'

for mode in event batch; do
echo "-- $mode handler"
rf_fresh_database rillflow_proj_crash >/dev/null
q >/dev/null <<'SQL'
-- not idempotent on purpose: a second application shows as a second row
CREATE TABLE applied (position bigint NOT NULL, stream_id uuid NOT NULL);
CREATE TABLE stall (at_position bigint);
INSERT INTO stall VALUES (15000);
CREATE FUNCTION apply_event(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO applied VALUES (e.position, e.stream_id);
    IF e.position = (SELECT at_position FROM stall) THEN
        PERFORM pg_sleep(120);      -- the crash comes here, mid-batch
    END IF;
END $$;
CREATE FUNCTION apply_batch(events rillflow.event_envelope[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO applied SELECT e.position, e.stream_id FROM unnest(events) e;
    IF (SELECT at_position FROM stall) = ANY (SELECT e.position FROM unnest(events) e) THEN
        PERFORM pg_sleep(120);      -- the crash comes here, with the whole batch written
    END IF;
END $$;
SELECT count(rillflow.append_events(rillflow.resolve_stream_alias('s-' || g),
         (SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'body', jsonb_build_object('n', n)))
            FROM generate_series(1, 100) n)))
  FROM generate_series(1, 300) g;
SELECT rillflow.head_position();
SQL
if [ $mode = event ]; then handler='apply_event(rillflow.event_envelope)'; else handler='apply_batch(rillflow.event_envelope[])'; fi
q -c "SELECT rillflow.create_projection('crash', '$handler', batch_size => 10000)" >/dev/null
[ "$(q -c "SELECT rillflow.head_position()")" -eq 30000 ] || fail "expected 30000 events"

# one batch commits before the crash
[ "$(q -c "SELECT rillflow.run_projection('crash')")" -eq 10000 ] || fail "first batch"

# the second batch stalls at 15000 with 5000 (per event) or 10000 (batch) events applied, uncommitted
psql -X -q -d rillflow_proj_crash -c "SELECT rillflow.run_projections_until_idle('crash')" >/dev/null 2>&1 &
runner=$!
for _ in $(seq 1 600); do
    n=$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'rillflow_proj_crash' AND wait_event = 'PgSleep'")
    [ "$n" = 1 ] && break
    sleep 0.1
done
[ "$n" = 1 ] || fail "the batch never reached the stall point"

crash_server "$PGDATABASE"
wait $runner || true

q -c "UPDATE stall SET at_position = NULL"
n=$(q -c "SELECT count(*) FROM applied")
[ "$n" -eq 10000 ] || fail "the crashed batch left writes behind: $n rows applied, not 10000"
[ "$(q -c "SELECT checkpoint FROM rillflow.projection_status('crash')")" -eq 10000 ] || fail "checkpoint moved without its batch"

q -c "SELECT rillflow.run_projections_until_idle('crash')" >/dev/null
result=$(q -c "SELECT count(*), count(DISTINCT position), min(position), max(position) FROM applied")
[ "$result" = "30000|30000|1|30000" ] || fail "after restart: applied rows|distinct|min|max = $result"
status=$(q -c "SELECT checkpoint, lag, events_processed FROM rillflow.projection_status('crash')")
[ "$status" = "30000|0|30000" ] || fail "status after restart: $status"
echo "projection crash test, $mode handler: every event applied exactly once"
done
