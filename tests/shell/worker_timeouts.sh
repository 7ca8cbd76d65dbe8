#!/usr/bin/env bash
# No event is lost from a read model when the worker's batches run out of
# rillflow.batch_statement_timeout: with a 1 s budget and a handler that takes
# 0.3 s per event, a 20-event batch ends with every event applied exactly once
# (the events before the one that ran out of time are kept, and that one runs
# again alone), none skipped, none dead-lettered. A handler that loops is
# dead-lettered with 57014, one that catches query_canceled in an EXCEPTION
# block too, and neither holds the worker: another projection keeps running,
# and the worker is the same process throughout. pg_cancel_backend on the
# worker cancels the handler call in progress: that event is charged, the
# events before it in the batch are kept.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_timeouts
on_exit reset_worker_settings
make_work_dir
worker_switch on
q -d postgres -c "ALTER SYSTEM SET rillflow.batch_statement_timeout = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
rf_fresh_database $db >/dev/null
q -d $db <<'SQL' >/dev/null
CREATE TABLE public.applied (projection text, position bigint, PRIMARY KEY (projection, position));
CREATE FUNCTION public.apply(e rillflow.event_envelope, projection text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.type = 'Slow' THEN
        PERFORM pg_sleep(0.3);
    ELSIF e.type = 'Loop' THEN
        PERFORM pg_sleep(3600);
    ELSIF e.type = 'Stubborn' THEN
        LOOP
            BEGIN
                PERFORM pg_sleep(3600);
            EXCEPTION WHEN query_canceled THEN
                NULL;
            END;
        END LOOP;
    END IF;
    INSERT INTO public.applied VALUES (projection, e.position);
END $$;
CREATE FUNCTION public.slow(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    BEGIN ATOMIC SELECT public.apply(e, 'slow'); END;
CREATE FUNCTION public.stuck(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    BEGIN ATOMIC SELECT public.apply(e, 'stuck'); END;
CREATE FUNCTION public.quick(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    BEGIN ATOMIC SELECT public.apply(e, 'quick'); END;
SELECT rillflow.create_projection('slow', 'public.slow(rillflow.event_envelope)', ARRAY['Slow'], batch_size => 20);
SELECT rillflow.set_projection_options('slow', backoff_base => '10 ms');
SQL
wait_for_worker $db
pid=$(worker_pid $db)

# --- 20 slow events in one append: one batch's worth, 6 s of handler time
q -d $db -c "SELECT rillflow.append_events(gen_random_uuid(),
               (SELECT jsonb_agg(jsonb_build_object('type', 'Slow', 'body', jsonb_build_object('i', i))) FROM generate_series(1, 20) i))" >/dev/null
checkpoint() { q -d $db -c "SELECT checkpoint FROM rillflow.projection_status('$1')"; }
_caught_up() { [ "$(checkpoint "$1")" -ge "$2" ]; }
wait_until "the slow projection to pass the 20 events" 120 _caught_up slow 20
read -r applied dead processed <<<"$(q -d $db -F ' ' -c "SELECT (SELECT count(*) FROM public.applied WHERE projection = 'slow'),
    (SELECT count(*) FROM rillflow.dlq_list('slow')), (SELECT events_processed FROM rillflow.projection_status('slow'))")"
[ "$applied" -eq 20 ] && [ "$dead" -eq 0 ] && [ "$processed" -eq 20 ] ||
    fail "20 slow events under a 1 s budget: $applied applied, $dead dead-lettered, $processed counted (want 20, 0, 20)"
missing=$(q -d $db -c "SELECT count(*) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p
                        WHERE NOT EXISTS (SELECT FROM public.applied a WHERE a.projection = 'slow' AND a.position = p.position)")
[ "$missing" -eq 0 ] || fail "$missing events neither applied nor dead-lettered"
echo "ok: a batch that runs out of time keeps its events: 20 applied, none lost, none dead-lettered"

# --- a looping handler and one that catches every cancel: dead-lettered with
# 57014; the quick projection goes on meanwhile, the worker is the same process
q -d $db <<'SQL' >/dev/null
SELECT rillflow.create_projection('stuck', 'public.stuck(rillflow.event_envelope)', ARRAY['Loop', 'Stubborn', 'Quick'], start_from => 20);
SELECT rillflow.set_projection_options('stuck', max_attempts => 2, backoff_base => '10 ms');
SELECT rillflow.create_projection('quick', 'public.quick(rillflow.event_envelope)', ARRAY['Quick'], start_from => 20);
SQL
for t in Quick Loop Quick Stubborn Quick; do
    q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), '$t', '{}')" >/dev/null
done
wait_until "the quick projection to apply its 3 events" 30 _caught_up quick 25
_stuck_done() { [ "$(q -d $db -c "SELECT count(*) FROM rillflow.dlq_list('stuck') WHERE sqlstate = '57014'")" -eq 2 ] && _caught_up stuck 25; }
wait_until "the looping and the stubborn event in the dead-letter queue with 57014" 60 _stuck_done
got=$(q -d $db -c "SELECT string_agg(position::text, ',' ORDER BY position) FROM public.applied WHERE projection = 'stuck'")
[ "$got" = "21,23,25" ] || fail "the stuck projection applied positions $got, want 21,23,25"
[ "$(worker_pid $db)" = "$pid" ] || fail "the worker was replaced"
echo "ok: a looping handler and one that catches query_canceled are dead-lettered, the worker goes on"

# --- pg_cancel_backend while a handler waits on a lock: that event is
# charged (a retry, due in an hour here), the two events before it are kept
q -d $db <<'SQL' >/dev/null
CREATE TABLE public.gate (x int);
CREATE FUNCTION public.gated(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.type = 'Gated' THEN
        PERFORM count(*) FROM public.gate;
    END IF;
    INSERT INTO public.applied VALUES ('gated', e.position);
END $$;
SELECT rillflow.create_projection('gated', 'public.gated(rillflow.event_envelope)', ARRAY['Before', 'Gated'], start_from => 25);
SELECT rillflow.set_projection_options('gated', backoff_base => '1 hour');
SQL
background_session $db held 600 "$work/gate.out" <<'SQL'
BEGIN;
LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE;
SQL
gate=$!
on_exit 'kill $gate 2>/dev/null || true'
wait_until "the gate to be locked" 20 grep -q '^held$' "$work/gate.out"
q -d $db -c "SELECT rillflow.append_events(gen_random_uuid(),
               '[{\"type\": \"Before\", \"body\": {}}, {\"type\": \"Before\", \"body\": {}}, {\"type\": \"Gated\", \"body\": {}}]')" >/dev/null
_waits_at_gate() {
    [ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND wait_event_type = 'Lock'
                            AND query = 'rillflow: projection gated in store rillflow_default'")" -eq 1 ]
}
wait_until "the worker to wait at the gate in the gated projection" 30 _waits_at_gate
q -d postgres -c "SELECT pg_cancel_backend($pid)" >/dev/null
_charged() { [ "$(q -d $db -c "SELECT retry_attempts FROM rillflow.projection_status('gated')")" -eq 1 ]; }
wait_until "the cancelled event to be charged" 30 _charged
kill $gate; wait $gate 2>/dev/null || true
got=$(q -d $db -F ' ' -c "SELECT checkpoint, retry_position, last_error->>'sqlstate',
        (SELECT string_agg(position::text, ',' ORDER BY position) FROM public.applied WHERE projection = 'gated')
   FROM rillflow.projection_status('gated')")
[ "$got" = "27 28 57014 26,27" ] || fail "after the cancel: checkpoint, retry position, sqlstate, applied = $got, want 27 28 57014 26,27"
[ "$(worker_pid $db)" = "$pid" ] || fail "the worker was replaced after pg_cancel_backend"
echo "ok: pg_cancel_backend on the worker charges the event it interrupted and keeps the ones before it"
echo "worker timeouts: ok"
