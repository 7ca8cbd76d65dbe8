#!/usr/bin/env bash
# Restores with the background worker on. pg_restore creates the extension,
# then copies events, log_state and positions in transactions of their own; a
# tick in between would stamp restored events anew or seed a state the copy
# then collides with. A COPY of a store's log tables by its owner holds that
# store's ticks until its log is whole again, and its projections until the
# loading session ends (events/store_load.c).
#
# 1. Deterministic: a session loads a store's log the way a restore does,
#    one COPY per transaction, and stays connected. Until the log is whole,
#    the store gets no tick (the worker passes it over, read_all does not
#    wait) while another store of the database goes on; once whole, the
#    store is ticked and reads wait for their writes again, with the session
#    still open; its projections run when the session leaves.
# 2. Round trips with the worker on and a short naptime: pg_restore,
#    pg_restore -j 2 and a plain dump through psql, each into a fresh
#    database while the worker runs; the log, positions, checkpoints and read
#    model arrive as dumped, and the restored store goes on appending and
#    projecting.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

on_exit reset_worker_settings
make_work_dir
loader=
on_exit '[ -z "$loader" ] || kill "$loader" 2>/dev/null'

worker_switch on

positioned() { q -d "$1" -c "SELECT count(*) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM ${2:-rillflow_default}.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions"; }
total() { q -d "$1" -c "SELECT count(*) FROM ${2:-rillflow_default}.events"; }
all_positioned() { [ "$(positioned "$1")" -eq "$(total "$1")" ]; }

# --- 1. a loading session holds the sequencer and the projections still
db=rillflow_restore_guard
rf_fresh_database $db >/dev/null
q -d $db <<'SQL' >/dev/null
CREATE TABLE seen (position bigint PRIMARY KEY);
CREATE FUNCTION note(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO public.seen VALUES (e.position) $$;
SELECT rillflow.create_projection('seen', 'note(rillflow.event_envelope)');
SQL
wait_for_worker $db

# A role that may not write the store's tables holds nothing still by trying.
q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS rillflow_restore_nobody" \
  -c "CREATE ROLE rillflow_restore_nobody LOGIN" >/dev/null
q -d $db -c "GRANT USAGE ON SCHEMA rillflow_default TO rillflow_restore_nobody" \
  -c "GRANT SELECT ON rillflow_default.events TO rillflow_restore_nobody" >/dev/null
background_session $db refused 300 "$work/nobody.out" -U rillflow_restore_nobody <<'SQL'
COPY rillflow_default.events FROM stdin;
\.
SQL
loader=$!
wait_until "the unprivileged COPY to be refused" 30 grep -q '^refused$' "$work/nobody.out"
grep -q 'permission denied for table events' "$work/nobody.out" || fail "the unprivileged COPY was not refused: $(cat "$work/nobody.out")"
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Free', '{}')" >/dev/null
wait_until "the worker to sequence beside a refused COPY" 30 all_positioned $db
kill "$loader"; wait "$loader" 2>/dev/null || true; loader=
[ "$(q -d $db -c "SELECT rillflow.wait_for_projection('seen', 1, '30 seconds')")" = t ] || fail "the projection did not run beside a refused COPY"
q -d $db -c "TRUNCATE seen" >/dev/null
q -d $db -c "REVOKE ALL ON rillflow_default.events FROM rillflow_restore_nobody" \
  -c "REVOKE ALL ON SCHEMA rillflow_default FROM rillflow_restore_nobody" -c "DROP ROLE rillflow_restore_nobody" >/dev/null
echo "ok: a COPY the role may not run holds nothing still"

# The log of a store with three sequenced events, loaded into a fresh
# database table by table, as a restore loads it.
src0=rillflow_restore_guard_src
rf_fresh_database $src0 >/dev/null
q -d $src0 -c "SELECT rillflow.append_event(gen_random_uuid(), 'Restored', '{}') FROM generate_series(1, 3)" \
  -c "SELECT rillflow.run_sequencer()" >/dev/null
for t in events log_state log_segments; do
    q -d $src0 -c "\copy rillflow_default.$t TO '$work/$t.copy'"
done
q -d postgres -c "DROP DATABASE $src0 WITH (FORCE)" >/dev/null
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
q -d $db <<'SQL' >/dev/null
CREATE EXTENSION rillflow;
SELECT rillflow.ensure_tenant('beside');
CREATE TABLE seen (position bigint PRIMARY KEY);
CREATE FUNCTION note(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO public.seen VALUES (e.position) $$;
SELECT rillflow.create_projection('seen', 'note(rillflow.event_envelope)');
SQL
wait_for_worker $db

rm -f "$work/fifo" "$work/loader.out"
mkfifo "$work/fifo"
psql -X -q -At -d $db <"$work/fifo" >"$work/loader.out" 2>&1 &
loader=$!
exec 3>"$work/fifo"
say() { echo "$*" >&3; }
_loader_says() { grep -q "^$1\$" "$work/loader.out"; }

beside=0
_beside_done() { [ "$(positioned $db rillflow_tenant_beside)" -eq $beside ]; }
held_while() {	# what the loader just did: the store stays still, the other store goes on
    [ "$(q -d $db -c "SELECT count(*) FROM rillflow.read_all(0, 100)")" -eq 0 ] || fail "$1: read_all saw positions of a log being loaded"
    q -d $db -c "SET rillflow.tenant = 'beside'" -c "SELECT rillflow.append_event(gen_random_uuid(), 'Beside', '{}')" >/dev/null
    beside=$((beside + 1))
    wait_until "$1: the other store to be sequenced" 30 _beside_done
    [ "$(positioned $db)" -eq 0 ] || fail "$1: the worker ticked a store whose log was being loaded"
}
say "\\copy rillflow_default.events FROM '$work/events.copy'"
say "SELECT 'events', pg_backend_pid();"
_loader_copied_events() { grep -q "^events|" "$work/loader.out"; }
wait_until "the loader to copy events" 30 _loader_copied_events
loader_pid=$(grep "^events|" "$work/loader.out" | cut -d'|' -f2)
held_while "events loaded"
_worker_waits_for_loader() {
    [ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'rillflow worker' AND datname = '$db' AND query = 'waiting: pid $loader_pid is loading store tables'")" -eq 1 ]
}
wait_until "the worker to show it waits for the loading session" 30 _worker_waits_for_loader
say "\\copy rillflow_default.log_state FROM '$work/log_state.copy'"
say "SELECT 'log_state';"
wait_until "the loader to copy log_state" 30 _loader_says log_state
held_while "events and log_state loaded"
echo "ok: while a store's log is incomplete, nothing ticks it and reads do not wait; other stores go on"

# A segment no tick writes (seqs falling, max_seq not the last) covering 1..head, as a
# damaged dump would bring it: the table refuses it (its CHECK constraint), so the COPY
# loads nothing, the store stays held and unticked with no position to read, and the
# other store goes on.
printf '3\t1\t{3,2,1}\n' >"$work/bad_segments.copy"
say "\\copy rillflow_default.log_segments FROM '$work/bad_segments.copy'"
say "SELECT 'bad segments';"
wait_until "the loader to try a malformed segment" 30 _loader_says "bad segments"
grep -q 'violates check constraint "log_segments_shape"' "$work/loader.out" ||
    fail "the COPY of a malformed segment was not refused: $(cat "$work/loader.out")"
[ "$(q -d $db -c "SELECT count(*) FROM rillflow_default.log_segments")" -eq 0 ] || fail "a malformed segment was loaded"
held_while "a malformed segment refused"
echo "ok: a restored segment no tick writes is refused, and the log stays held and unticked"

say "\\copy rillflow_default.log_segments FROM '$work/log_segments.copy'"
say "SELECT pg_catalog.setval('rillflow_default.events_seq', 3);"
say "SELECT 'positions';"
wait_until "the loader to copy positions" 30 _loader_says positions
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'After', '{}')" >/dev/null
[ "$(q -d $db -c "SELECT string_agg(position || ':' || type, ' ' ORDER BY position) FROM rillflow.read_all(0, 100)")" = "1:Restored 2:Restored 3:Restored 4:After" ] \
    || fail "once the log was whole, read_all did not read the restored positions and its own write"
echo "ok: once the log is whole, it is ticked and read with the loading session still open"

_seen_none() { [ "$(q -d $db -c "SELECT count(*) FROM seen")" -eq 0 ]; }
q -d $db -c "SET rillflow.tenant = 'beside'" -c "SELECT rillflow.append_event(gen_random_uuid(), 'Beside', '{}')" >/dev/null
beside=$((beside + 1))
wait_until "another pass of the worker" 30 _beside_done
_seen_none || fail "a projection ran while its store was being restored"
exec 3>&-
wait "$loader" 2>/dev/null || true; loader=
_seen_all() { [ "$(q -d $db -c "SELECT count(*) FROM seen")" -eq 4 ]; }
wait_until "the projection to run after the loading session left" 30 _seen_all
echo "ok: the store's projections run when the loading session ends"

# --- 2. round trips with the worker ticking every 10 ms
set_naptime 10 $db
src=rillflow_restore_src
rf_fresh_database $src >/dev/null
q -d $src <<'SQL' >/dev/null
CREATE TABLE totals (stream_id uuid PRIMARY KEY, n bigint NOT NULL, last_position bigint NOT NULL);
CREATE FUNCTION count_event(e rillflow.event_envelope) RETURNS void LANGUAGE sql AS $$
    INSERT INTO public.totals VALUES (e.stream_id, 1, e.position)
    ON CONFLICT (stream_id) DO UPDATE SET n = totals.n + 1, last_position = excluded.last_position $$;
SELECT rillflow.create_projection('totals', 'count_event(rillflow.event_envelope)', batch_size => 100);
SELECT rillflow.append_events(rillflow.resolve_stream_alias('s-' || (i % 50)),
         (SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'body', jsonb_build_object('i', i, 'j', j)))
            FROM generate_series(1, 20) j))
  FROM generate_series(1, 200) i;
SELECT rillflow.ensure_tenant('restored');
SET rillflow.tenant = 'restored';
SELECT rillflow.append_event(gen_random_uuid(), 'TenantEvent', jsonb_build_object('i', i)) FROM generate_series(1, 300) i;
SQL
wait_until "the source log to be sequenced" 60 all_positioned $src
_tenant_done() { [ "$(positioned $src rillflow_tenant_restored)" -eq 300 ]; }
wait_until "the source tenant log to be sequenced" 60 _tenant_done
[ "$(q -d $src -c "SELECT rillflow.wait_for_projection('totals', 4000, '60 seconds')")" = t ] || fail "the source projection did not catch up"

snapshot() {	# everything a restore must keep
    q -d "$1" -c "SELECT p.position, e.event_id, e.stream_id, e.version FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p JOIN rillflow_default.events e USING (seq) ORDER BY 1" \
      -c "SELECT p.position, e.event_id FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_tenant_restored.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p JOIN rillflow_tenant_restored.events e USING (seq) ORDER BY 1" \
      -c "SELECT head FROM rillflow_default.log_state" \
      -c "SELECT name, checkpoint FROM rillflow_default.projections ORDER BY 1" \
      -c "SELECT * FROM totals ORDER BY 1"
}
snapshot $src >"$work/src.snapshot"
[ "$(wc -l <"$work/src.snapshot")" -gt 4300 ] || fail "the source snapshot is too small: $(wc -l <"$work/src.snapshot") lines"
pg_dump -Fc -d $src -f "$work/dump.pgc"
pg_dump -d $src -f "$work/dump.sql"

check_restore() {	# database, how it was restored
    local dst=$1 how=$2
    snapshot $dst >"$work/$dst.snapshot"
    diff -u "$work/src.snapshot" "$work/$dst.snapshot" >"$work/$dst.diff" \
        || fail "$how: the restored database differs: $(head -20 "$work/$dst.diff")"
    # the restored store goes on: the next appends follow the restored head,
    # and the worker projects them
    q -d $dst -c "SELECT rillflow.append_event(rillflow.resolve_stream_alias('s-1'), 'After', '{}')" >/dev/null
    wait_until "$how: the worker to sequence an append after the restore" 30 all_positioned $dst
    [ "$(q -d $dst -c "SELECT max(position) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions")" -eq 4001 ] || fail "$how: the append after the restore did not get position 4001"
    [ "$(q -d $dst -c "SELECT rillflow.wait_for_projection('totals', 4001, '30 seconds')")" = t ] || fail "$how: the projection did not go on after the restore"
    [ "$(q -d $dst -c "SELECT n FROM totals t JOIN rillflow_default.stream_aliases a USING (stream_id) WHERE a.alias = 's-1'")" -eq 81 ] \
        || fail "$how: the read model is not the dumped one plus the new event"
    echo "ok: $how with the worker on"
}

fresh_empty() {
    q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
}

fresh_empty rillflow_restore_dst1
pg_restore -d rillflow_restore_dst1 "$work/dump.pgc"
check_restore rillflow_restore_dst1 "pg_restore"

fresh_empty rillflow_restore_dst2
pg_restore -j 2 -d rillflow_restore_dst2 "$work/dump.pgc"
check_restore rillflow_restore_dst2 "pg_restore -j 2"

fresh_empty rillflow_restore_dst3
psql -X -q -v ON_ERROR_STOP=1 -d rillflow_restore_dst3 -f "$work/dump.sql" >/dev/null
check_restore rillflow_restore_dst3 "a plain dump through psql"

for d in $db $src rillflow_restore_dst1 rillflow_restore_dst2 rillflow_restore_dst3; do
    q -d postgres -c "DROP DATABASE $d WITH (FORCE)" >/dev/null
done
