#!/usr/bin/env bash
# Exactly-once effect across a crash: a projection applies a big batch, the
# server is stopped with "immediate" (no clean shutdown) while the batch is
# half applied, and after restart the projection runs until idle. Every event
# must be applied exactly once: the read model's writes and the checkpoint
# commit together, so the half batch left nothing behind. The cluster is left
# running, as the harness expects.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
eval "$(bash scripts/cluster.sh env)"

fail() { echo "FAIL: $*"; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d rillflow_proj_crash "$@"; }
trap 'bash scripts/cluster.sh start >/dev/null 2>&1 || true' EXIT

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
SELECT count(rillflow.append_events(rillflow.resolve_stream_alias('s-' || g),
         (SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'body', jsonb_build_object('n', n)))
            FROM generate_series(1, 100) n)))
  FROM generate_series(1, 300) g;
SELECT rillflow.head_position();
SELECT rillflow.create_projection('crash', 'apply_event(rillflow.event_envelope)', batch_size => 10000);
SQL
[ "$(q -c "SELECT rillflow.head_position()")" -eq 30000 ] || fail "expected 30000 events"

# one batch commits before the crash
[ "$(q -c "SELECT rillflow.run_projection('crash')")" -eq 10000 ] || fail "first batch"

# the second batch stalls at 15000 with 5000 events applied, uncommitted
psql -X -q -d rillflow_proj_crash -c "SELECT rillflow.run_projections_until_idle('crash')" >/dev/null 2>&1 &
runner=$!
for _ in $(seq 1 600); do
    n=$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'rillflow_proj_crash' AND wait_event = 'PgSleep'")
    [ "$n" = 1 ] && break
    sleep 0.1
done
[ "$n" = 1 ] || fail "the batch never reached the stall point"

bindir=$(pg_config --bindir)
data=$(psql -X -At -d postgres -c "SHOW data_directory")
if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
else
    "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
fi
wait $runner || true
bash scripts/cluster.sh start >/dev/null

q -c "UPDATE stall SET at_position = NULL"
[ "$(q -c "SELECT count(*) FROM applied")" -eq 10000 ] || fail "the crashed batch left writes behind"
[ "$(q -c "SELECT checkpoint FROM rillflow.projection_status('crash')")" -eq 10000 ] || fail "checkpoint moved without its batch"

q -c "SELECT rillflow.run_projections_until_idle('crash')" >/dev/null
result=$(q -c "SELECT count(*), count(DISTINCT position), min(position), max(position) FROM applied")
[ "$result" = "30000|30000|1|30000" ] || fail "after restart: applied rows|distinct|min|max = $result"
status=$(q -c "SELECT checkpoint, lag, events_processed FROM rillflow.projection_status('crash')")
[ "$status" = "30000|0|30000" ] || fail "status after restart: $status"
echo "projection crash test: every event applied exactly once"
