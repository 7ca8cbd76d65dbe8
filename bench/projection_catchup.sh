#!/usr/bin/env bash
# Projection catch-up: a set-based upsert baseline vs a batch handler vs a
# per-event PL/pgSQL handler (docs/projections.md, Batch handlers).
# usage: bash bench/projection_catchup.sh N  (events; BATCH=batch size of the batch handler, default 500)
# Needs the cluster of scripts/cluster.sh running; drops and recreates the database pbench.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/cluster.sh env)"
N=$1
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS pbench" -c "CREATE DATABASE pbench"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d pbench "$@"; }
q <<SQL
CREATE EXTENSION rillflow;
SELECT count(rillflow.append_events(gen_random_uuid(),
         (SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'body', jsonb_build_object('n', n))) FROM generate_series(1, 100) n)))
  FROM generate_series(1, $N / 100) g \gset
SELECT rillflow.head_position();
CREATE TABLE rm_base (event_id uuid PRIMARY KEY, stream_id uuid NOT NULL, version bigint NOT NULL, position bigint NOT NULL);
CREATE TABLE rm_batch (LIKE rm_base INCLUDING ALL);
CREATE TABLE rm_event (LIKE rm_base INCLUDING ALL);
CREATE FUNCTION up_batch(events rillflow.event_envelope[]) RETURNS void LANGUAGE sql SET search_path = public AS \$\$
  INSERT INTO rm_batch SELECT e.event_id, e.stream_id, e.version, e.position FROM unnest(events) e
  ON CONFLICT (event_id) DO UPDATE SET version = EXCLUDED.version, position = EXCLUDED.position \$\$;
CREATE FUNCTION up_event(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql SET search_path = public AS \$\$
BEGIN
  INSERT INTO rm_event VALUES (e.event_id, e.stream_id, e.version, e.position)
  ON CONFLICT (event_id) DO UPDATE SET version = EXCLUDED.version, position = EXCLUDED.position;
END \$\$;
SELECT rillflow.create_projection('batch', 'up_batch(rillflow.event_envelope[])', batch_size => ${BATCH:-500});
SELECT rillflow.create_projection('event', 'up_event(rillflow.event_envelope)', batch_size => 500);
SQL
q -c "VACUUM ANALYZE"
t() { local s e; s=$(date +%s.%N); q -c "$1" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
base=$(t "INSERT INTO rm_base SELECT e.event_id, e.stream_id, e.version, p.position FROM rillflow_default.positions p JOIN rillflow_default.events e ON e.seq = p.seq ON CONFLICT (event_id) DO UPDATE SET version = EXCLUDED.version, position = EXCLUDED.position")
batch=$(t "SELECT rillflow.run_projections_until_idle('batch')")
event=$(t "SELECT rillflow.run_projections_until_idle('event')")
q -c "SELECT (SELECT count(*) FROM rm_base), (SELECT count(*) FROM rm_batch), (SELECT count(*) FROM rm_event)"
echo "N=$N batch_size=${BATCH:-500}: baseline ${base}s  batch handler ${batch}s ($(echo "scale=2; $base / $batch" | bc)x)  per-event plpgsql ${event}s ($(echo "scale=2; $base / $event" | bc)x)"
