#!/usr/bin/env bash
# More databases with the extension than worker slots: 12 databases on a
# server with max_worker_processes = 6 (the launcher, PostgreSQL's logical
# replication launcher and at most 4 rillflow workers). Once, 6 of 16 got a
# worker and the rest none, silently. Now the databases take turns: CREATE
# EXTENSION warns when no slot is free, worker_status() lists every database
# (running, rotating or waiting for a slot), and every database's projection
# catches up. Databases without the extension never get a message.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"

other_cluster manydbs RILLFLOW_WORKER_ENABLED=on RILLFLOW_EXTRA_CONF="max_worker_processes = 6
rillflow.worker_time_slice = '500ms'
rillflow.naptime = '200ms'"
read -r -a other <<<"$(other_env manydbs)"
oq() { q "${other[@]}" "$@"; }
[ "$(oq -d postgres -c "SHOW max_worker_processes")" -eq 6 ] || fail "max_worker_processes is not 6"

n=12
warnings=0
for i in $(seq 1 $n); do
    db=rillflow_many_$i
    oq -d postgres -c "CREATE DATABASE $db" >/dev/null
    out=$(psql -X -q "${other[@]}" -d "$db" -v ON_ERROR_STOP=1 2>&1 <<'SQL'
CREATE EXTENSION rillflow;
CREATE TABLE seen (position bigint PRIMARY KEY);
CREATE FUNCTION on_event(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO seen VALUES (e.position) $$;
SELECT rillflow.create_projection('seen', 'on_event(rillflow.event_envelope)', batch_size => 10);
SQL
) || fail "setting up $db failed: $out"
    grep -q 'WARNING:  no rillflow worker slot is free' <<<"$out" && warnings=$((warnings + 1))
done
[ "$warnings" -ge 1 ] || fail "no CREATE EXTENSION warned that no worker slot was free"

# events in every database, committed without any read (so nobody but a
# worker ticks them)
for i in $(seq 1 $n); do
    oq -d rillflow_many_$i -c "SELECT count(rillflow.append_event(gen_random_uuid(), 'E', jsonb_build_object('i', g)))
                                 FROM generate_series(1, 30) g" >/dev/null
done

# worker_status lists all 12, and some wait for a slot or rotate
listed() { [ "$(oq -d rillflow_many_1 -c "SELECT count(DISTINCT database) FROM rillflow.worker_status()
                                          WHERE database LIKE 'rillflow_many_%'")" -eq $n ]; }
wait_until "worker_status to list every database" 30 listed
states=$(oq -d rillflow_many_1 -c "SELECT DISTINCT state FROM rillflow.worker_status() WHERE process = 'worker' ORDER BY 1")
grep -qE 'waiting for a slot|rotating' <<<"$states" || fail "no database waits or rotates: $states"

caught_up() {
    local i
    for i in $(seq 1 $n); do
        [ "$(oq -d rillflow_many_$i -c "SELECT count(*) FROM seen")" -eq 30 ] || return 1
    done
}
wait_until "every database's projection to catch up" 120 caught_up

# a database without the extension got no message
if grep -E 'could not start a worker for database "postgres"|database "postgres"' \
        "$(dirname "$(oq -d postgres -c "SHOW data_directory")")/server.log"; then
    fail "the launcher spent words on a database without the extension"
fi
echo "ok: $n databases on 4 worker slots take turns and all catch up"
