#!/usr/bin/env bash
# Exactly-once effect across a crash while the worker catches up (issue 15).
# A worker catching up commits its full batches without waiting for their WAL
# flush (projections/projection_runtime.c); read-model writes and checkpoint
# commit together, so a crash may take back whole batches, which the worker
# then applies again, and never half of one. The server runs with
# synchronous_commit on (the default of a deployment), a batch handler that is
# not idempotent writes a row per event, and the server is stopped with
# "immediate" while the worker is stalled in its 21st batch of 1000, twenty
# committed before it. After restart every event must be applied exactly once.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"
source "$(dirname "$0")/lib/worker.sh"

export PGDATABASE=rillflow_catchup_crash
on_exit 'bash scripts/cluster.sh start >/dev/null 2>&1; q -d postgres -c "ALTER SYSTEM RESET synchronous_commit" -c "SELECT pg_reload_conf()" >/dev/null 2>&1'
q -d postgres -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null
rf_fresh_database $PGDATABASE >/dev/null

q >/dev/null <<'SQL'
-- not idempotent on purpose: a second application shows as a second row
CREATE TABLE applied (position bigint NOT NULL);
CREATE TABLE stall (at_position bigint);
INSERT INTO stall VALUES (20500);
CREATE FUNCTION apply_batch(events rillflow.event_envelope[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO applied SELECT e.position FROM unnest(events) e;
    IF (SELECT at_position FROM stall) = ANY (SELECT e.position FROM unnest(events) e) THEN
        PERFORM pg_sleep(120);      -- the crash comes here
    END IF;
END $$;
SELECT count(rillflow.append_events(rillflow.resolve_stream_alias('s-' || g),
         (SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'body', jsonb_build_object('n', n)))
            FROM generate_series(1, 100) n)))
  FROM generate_series(1, 300) g;
SQL
[ "$(q -c "SELECT rillflow.head_position()")" -eq 30000 ] || fail "expected 30000 events"
wait_for_worker $PGDATABASE
q -c "SELECT rillflow.create_projection('catchup', 'apply_batch(rillflow.event_envelope[])', batch_size => 1000)" >/dev/null

_stalled() { [ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$PGDATABASE' AND wait_event = 'PgSleep'")" = 1 ]; }
wait_until "the worker to reach the stall in its 21st batch" 120 _stalled
before=$(q -c "SELECT checkpoint FROM rillflow.projection_status('catchup')")
[ "$before" -eq 20000 ] || fail "expected 20 batches committed before the stall, checkpoint $before"

crash_server "$PGDATABASE"

after=$(q -c "SELECT checkpoint FROM rillflow.projection_status('catchup')")
kept=$(q -c "SELECT count(*) FROM applied")
[ "$kept" -eq "$after" ] || fail "after the crash: $kept rows applied with the checkpoint at $after"
echo "after the crash: checkpoint $after of the 20000 committed before it, $kept rows: batches went back whole"
q -c "UPDATE stall SET at_position = NULL"
wait_for_worker $PGDATABASE
_caught_up() { [ "$(q -c "SELECT checkpoint FROM rillflow.projection_status('catchup')")" = 30000 ]; }
wait_until "the worker to catch up after the crash" 120 _caught_up
result=$(q -c "SELECT count(*), count(DISTINCT position), min(position), max(position) FROM applied")
[ "$result" = "30000|30000|1|30000" ] || fail "after restart: applied rows|distinct|min|max = $result"
echo "worker catch-up crash: every event applied exactly once"
q -d postgres -c "DROP DATABASE $PGDATABASE WITH (FORCE)" >/dev/null
