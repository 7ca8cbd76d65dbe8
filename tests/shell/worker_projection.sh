#!/usr/bin/env bash
# The worker runs projections on its own: events appended reach a read model
# with no explicit call, in the default store and a tenant's; a client reads
# its own write through wait_for_projection; a handler that errors has its
# event retried and dead-lettered while the worker lives on; a handler that
# loops is cut by rillflow.batch_statement_timeout while the other
# projections keep running; every handler runs as the role that registered
# its projection.
#
# RILLFLOW_TEST_OWNER=role registers the projections, handlers and read-model
# tables as that role (a login role that is not a superuser, with the grants
# a projection owner needs): worker_nonsuper_owner.sh runs it so.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_proj
owner=${RILLFLOW_TEST_OWNER:-}
on_exit reset_worker_settings
worker_switch on
rf_fresh_database $db >/dev/null
q -d $db -c "SELECT rillflow.ensure_tenant('acme')" >/dev/null
if [ -n "$owner" ]; then
    q -d $db <<SQL >/dev/null
GRANT CREATE ON SCHEMA public TO $owner;
GRANT USAGE ON SCHEMA rillflow, rillflow_default, rillflow_tenant_acme TO $owner;
GRANT SELECT ON ALL TABLES IN SCHEMA rillflow TO $owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rillflow_default, rillflow_tenant_acme TO $owner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA rillflow_default, rillflow_tenant_acme TO $owner;
SQL
fi
# as the projections' owner
qo() { q -d $db ${owner:+-c "SET ROLE $owner"} "$@"; }
qo -f - <<'SQL' >/dev/null
CREATE TABLE public.totals (store text, projection text, n bigint, sum bigint, PRIMARY KEY (store, projection));
-- who the handlers ran as
CREATE TABLE public.handler_roles (usr name PRIMARY KEY, super boolean NOT NULL);
-- one handler per projection, so each counts into its own row
CREATE FUNCTION public.count_added(e rillflow.event_envelope, proj text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.handler_roles SELECT current_user, r.rolsuper FROM pg_catalog.pg_roles r
        WHERE r.rolname = current_user ON CONFLICT DO NOTHING;
    IF e.type = 'Bad' THEN
        RAISE EXCEPTION 'bad event %', e.position USING ERRCODE = '22000';
    ELSIF e.type = 'Loop' THEN
        PERFORM pg_sleep(3600);
    END IF;
    INSERT INTO public.totals VALUES (rillflow.current_store(), proj, 1, coalesce((e.body->>'v')::bigint, 0))
        ON CONFLICT (store, projection) DO UPDATE SET n = totals.n + 1, sum = totals.sum + excluded.sum;
END $$;
CREATE FUNCTION public.counter(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    BEGIN ATOMIC SELECT public.count_added(e, 'counter'); END;
CREATE FUNCTION public.fragile(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    BEGIN ATOMIC SELECT public.count_added(e, 'fragile'); END;
CREATE FUNCTION public.looping(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    BEGIN ATOMIC SELECT public.count_added(e, 'looping'); END;
SELECT rillflow.create_projection('counter', 'public.counter(rillflow.event_envelope)', ARRAY['Added']);
SELECT rillflow.create_projection('fragile', 'public.fragile(rillflow.event_envelope)', ARRAY['Added', 'Bad']);
SELECT rillflow.set_projection_options('fragile', max_attempts => 2, backoff_base => '10 ms');
SET rillflow.tenant = 'acme';
SELECT rillflow.create_projection('counter', 'public.counter(rillflow.event_envelope)', ARRAY['Added']);
SQL
wait_for_worker $db

total() { q -d $db -c "SELECT coalesce((SELECT n || ':' || sum FROM public.totals WHERE store = '$1' AND projection = '$2'), '0:0')"; }
_total_is() { [ "$(total "$1" "$2")" = "$3" ]; }
added() { q -d $db -c "SET rillflow.tenant = '${2:-}'" -c "SELECT rillflow.append_event(gen_random_uuid(), 'Added', jsonb_build_object('v', $1))" >/dev/null; }

# --- projected with no explicit call, in both stores
added 5
added 7
added 11 acme
wait_until "the worker to project the default store's events" 20 _total_is rillflow_default counter 2:12
wait_until "the worker to project the tenant's event" 20 _total_is rillflow_tenant_acme counter 1:11
echo "ok: events projected by the worker with no explicit call"

# --- read-your-writes: append, take the head in a statement of its own (a
# statement that ticks holds its positions until it ends), wait for the
# projection to pass it, then read the read model
seen=$(q -d $db <<'SQL'
SELECT rillflow.append_event(gen_random_uuid(), 'Added', '{"v": 100}') \gset
SELECT rillflow.head_position() AS head \gset
SELECT rillflow.wait_for_projection('counter', :head, '20 seconds');
SELECT sum FROM public.totals WHERE store = 'rillflow_default' AND projection = 'counter';
SQL
)
[ "$(echo $seen)" = "t 112" ] || fail "wait_for_projection did not show the client its own write: $seen"
late=$(q -d $db -c "SELECT rillflow.wait_for_projection('counter', rillflow.head_position() + 1000, '300 ms')")
[ "$late" = f ] || fail "wait_for_projection past the head returned $late instead of false"
echo "ok: wait_for_projection true after an append, false on timeout"

# --- a handler error: retried, dead-lettered, and the worker goes on
pid=$(worker_pid $db)
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Bad', '{}')" >/dev/null
added 1
_dead_lettered() { [ "$(q -d $db -c "SELECT count(*) FROM rillflow.dlq_list('fragile') WHERE event->>'type' = 'Bad'")" -eq 1 ]; }
wait_until "the failing event in the dead-letter queue" 30 _dead_lettered
# fragile saw Added 5, 7, 100 and then 1 after the bad event
wait_until "the fragile projection to go past the bad event" 20 _total_is rillflow_default fragile 4:113
[ "$(worker_pid $db)" = "$pid" ] || fail "the worker was replaced after a handler error"
echo "ok: a handler error is dead-lettered and the worker lives on"

# --- a looping handler is cut by batch_statement_timeout; the rest keeps running
q -d postgres -c "ALTER SYSTEM SET rillflow.batch_statement_timeout = '500ms'" -c "SELECT pg_reload_conf()" >/dev/null
qo -c "SELECT rillflow.create_projection('looping', 'public.looping(rillflow.event_envelope)', ARRAY['Added', 'Loop'])" \
   -c "SELECT rillflow.set_projection_options('looping', max_attempts => 2, backoff_base => '10 ms')" >/dev/null
_looping_caught_up() { [ "$(total rillflow_default looping)" = "4:113" ]; }
wait_until "the looping projection to catch up" 30 _looping_caught_up
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Loop', '{}')" >/dev/null
added 1000
wait_until "the counter projection to go on while another loops" 20 _total_is rillflow_default counter 5:1113
_loop_dead() { [ "$(q -d $db -c "SELECT count(*) FROM rillflow.dlq_list('looping') WHERE event->>'type' = 'Loop' AND sqlstate = '57014'")" -eq 1 ]; }
wait_until "the looping event in the dead-letter queue with 57014" 60 _loop_dead
wait_until "the looping projection to go past the looping event" 20 _total_is rillflow_default looping 5:1113
[ "$(worker_pid $db)" = "$pid" ] || fail "the worker was replaced after a statement timeout"
echo "ok: a looping handler is cut by batch_statement_timeout, the others keep running"

# --- every handler ran as the projections' owner: the given role, or the
# superuser that registered them here
want=postgres:true
[ -z "$owner" ] || want=$owner:false
seen=$(q -d $db -c "SELECT string_agg(usr || ':' || super, ',' ORDER BY usr) FROM public.handler_roles")
[ "$seen" = "$want" ] || fail "the handlers ran as $seen, want $want"
echo "ok: every handler ran as its projection's owner ($want)"
echo "worker projections: ok"
