#!/usr/bin/env bash
# The floor under the append contract, next to PgQ (RILLFLOW_BENCH_ONLY=floor make bench;
# docs/performance.md, "The floor under the contract"). pgbench runs bare, prepared INSERTs
# that write what the contract asks of an append (the event row with one, two and all four
# of its indexes, then with the stream row too), PgQ's insert_event and rillflow's
# append_event, taking turns, and prints each one's median calls/s and its ratio to PgQ.
# Run by scripts/bench.sh with DATABASE_URL the bench database, in whichever server mode
# it has set; the tables live in a schema of their own, dropped at the end.
set -euo pipefail

url=${DATABASE_URL:?the bench database}
seconds=${RILLFLOW_FLOOR_SECONDS:-8}
rounds=3
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$url" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"; sql -c "DROP SCHEMA IF EXISTS bench_floor CASCADE" >/dev/null 2>&1 || true' EXIT

pgq=$(sql -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgq'")
sql <<'SQL' >/dev/null
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_floor CASCADE;
CREATE SCHEMA bench_floor;
CREATE SEQUENCE bench_floor.ids;
-- the event row with one index (PgQ's own count), with the two a per-stream log needs
-- (seq, (stream_id, version)), and with all four of the store's, and the stream row
CREATE TABLE bench_floor.one (LIKE rillflow_default.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
CREATE INDEX ON bench_floor.one (tx);
CREATE TABLE bench_floor.two (LIKE rillflow_default.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench_floor.two ADD PRIMARY KEY (seq), ADD UNIQUE (stream_id, version);
CREATE TABLE bench_floor.four (LIKE rillflow_default.events INCLUDING ALL);
CREATE TABLE bench_floor.streams (LIKE rillflow_default.streams INCLUDING ALL);
SQL
if [ "$pgq" -gt 0 ]; then
    sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS pgq" \
        -c "SELECT pgq.create_queue('floor_queue') WHERE NOT EXISTS (SELECT FROM pgq.queue WHERE queue_name = 'floor_queue')" >/dev/null
fi

body="'{\"order\":42,\"total\":1999,\"currency\":\"EUR\"}'"
# event ids in ascending order, as the store gives them (events/event_ids.c)
event_id="lpad(to_hex(nextval('bench_floor.ids')), 32, '0')::uuid"
row="(stream_id, version, type, body, event_id)"
echo "SELECT pgq.insert_event('floor_queue', 'OrderPlaced', $body);" >"$work/pgq.sql"
for t in one two four; do
    echo "INSERT INTO bench_floor.$t $row VALUES (gen_random_uuid(), 1, 'OrderPlaced', $body, $event_id);" >"$work/$t.sql"
done
echo "WITH s AS (INSERT INTO bench_floor.streams (stream_id, version) VALUES (gen_random_uuid(), 1) RETURNING stream_id, version)
INSERT INTO bench_floor.four $row SELECT s.stream_id, s.version, 'OrderPlaced', $body, $event_id FROM s;" >"$work/four_stream.sql"
echo "SELECT rillflow.append_event(gen_random_uuid(), 'OrderPlaced', $body::jsonb, 0);" >"$work/rillflow.sql"

variants=(one two four four_stream rillflow)
[ "$pgq" -eq 0 ] || variants=(pgq "${variants[@]}")
declare -A label=(
    [pgq]="PgQ insert_event (one row, one index)"
    [one]="event row, 1 index (tx)"
    [two]="event row, 2 indexes (seq, stream+version)"
    [four]="event row, its 4 indexes"
    [four_stream]="event row, 4 indexes + stream row"
    [rillflow]="rillflow.append_event, worker on"
)
declare -A rates
for ((round = 1; round <= rounds; round++)); do
    for v in "${variants[@]}"; do
        sql -c "CHECKPOINT" >/dev/null
        r=$(pgbench -n -M prepared -c 4 -j 2 -T "$seconds" -f "$work/$v.sql" "$url" 2>"$work/pgbench.err" |
            sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
        [ -n "$r" ] || { cat "$work/pgbench.err"; echo "rillflow: pgbench failed for $v"; exit 1; }
        rates[$v]="${rates[$v]:-} $r"
    done
done

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
base=$([ "$pgq" -gt 0 ] && median "${rates[pgq]}" || echo 0)
echo "4 pgbench clients, ${seconds} s per variant, ${rounds} rounds in turns, medians; a new stream per call"
printf '%-44s %12s %8s\n' "what each call writes" "calls/s" "/ PgQ"
for v in "${variants[@]}"; do
    m=$(median "${rates[$v]}")
    ratio=$(awk -v m="$m" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", m / b; else print "-" }')
    printf '%-44s %12.0f %8s\n' "${label[$v]}" "$m" "$ratio"
done
[ "$pgq" -gt 0 ] || echo "(PgQ is not installed: no ratio)"
