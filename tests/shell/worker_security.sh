#!/usr/bin/env bash
# With the worker on, a projection registered by a tenant admin (no
# superuser) runs as that admin, never as the worker's role: its handler sees
# its owner as current_user, and a handler that switches to another tenant
# reaches nothing there (its event is dead-lettered with 42501, the other
# tenant's log is unchanged). A projection registered by a superuser keeps
# running.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_sec
cleanup() {
    q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
        -c "DROP ROLE IF EXISTS rf_wsec_admin" >/dev/null 2>&1 || true
}
on_exit reset_worker_settings
on_exit cleanup
worker_switch on
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
    -c "DROP ROLE IF EXISTS rf_wsec_admin" >/dev/null
q -d postgres -c "CREATE ROLE rf_wsec_admin"
rf_fresh_database $db >/dev/null
q -d $db <<'SQL' >/dev/null
SELECT rillflow.ensure_tenant('a'), rillflow.ensure_tenant('b');
SELECT rillflow.grant_tenant('a', 'rf_wsec_admin', 'admin');
SET rillflow.tenant = 'b';
SELECT rillflow.append_event('b0000000-0000-0000-0000-000000000001', 'SecretB', '{}');
RESET rillflow.tenant;
CREATE TABLE public.seen (projection text, who name, super boolean, tenant text, what text);
GRANT INSERT ON public.seen TO rf_wsec_admin;
CREATE FUNCTION public.record(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.seen
    SELECT 'record', current_user, r.rolsuper, current_setting('rillflow.tenant'), e.type
      FROM pg_roles r WHERE r.rolname = current_user;
END $$;
ALTER FUNCTION public.record(rillflow.event_envelope) OWNER TO rf_wsec_admin;
-- (only for the event the test appends: a worker that ran it with more rights
-- than its owner's would otherwise feed it its own appends)
CREATE FUNCTION public.hop(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.type <> 'InA' THEN
        RETURN;
    END IF;
    PERFORM set_config('rillflow.tenant', 'b', true);
    INSERT INTO public.seen SELECT 'hop', current_user, false, 'b', r.type FROM rillflow.read_all() r;
    PERFORM rillflow.append_event('b0000000-0000-0000-0000-000000000001', 'Hopped', '{}');
END $$;
ALTER FUNCTION public.hop(rillflow.event_envelope) OWNER TO rf_wsec_admin;
CREATE FUNCTION public.super_record(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.seen SELECT 'super', current_user, r.rolsuper, current_setting('rillflow.tenant'), e.type
      FROM pg_roles r WHERE r.rolname = current_user;
END $$;
SET ROLE rf_wsec_admin;
SET rillflow.tenant = 'a';
SELECT rillflow.create_projection('record', 'public.record(rillflow.event_envelope)');
SELECT rillflow.create_projection('hop', 'public.hop(rillflow.event_envelope)');
SELECT rillflow.set_projection_options('hop', max_attempts => 1);
RESET ROLE;
SELECT rillflow.create_projection('super', 'public.super_record(rillflow.event_envelope)');
SQL
wait_for_worker $db

q -d $db -c "SET rillflow.tenant = 'a'" -c "SELECT rillflow.append_event(gen_random_uuid(), 'InA', '{}')" >/dev/null
_applied() {
    [ "$(q -d $db -c "SET rillflow.tenant = 'a'" \
        -c "SELECT count(*) FROM rillflow.list_projections() WHERE checkpoint >= 1")" = 3 ]
}
wait_until "the worker to pass the event in every projection of tenant a" 30 _applied

me=$(q -d $db -c "SELECT current_user")
seen=$(q -d $db -c "SELECT projection, who, super, what FROM public.seen ORDER BY projection")
[ "$seen" = "$(printf 'record|rf_wsec_admin|f|InA\nsuper|%s|t|InA' "$me")" ] ||
    fail "handlers did not run as their owners: $seen"
echo "ok: each projection runs as the role that registered it"

dead=$(q -d $db -c "SET rillflow.tenant = 'a'" \
    -c "SELECT events_dead_lettered || ':' || (last_error->>'sqlstate') FROM rillflow.projection_status('hop')")
[ "$dead" = "1:42501" ] || fail "a handler switching tenants was not stopped with 42501: $dead"
log_b=$(q -d $db -c "SET rillflow.tenant = 'b'" -c "SELECT string_agg(type, ',' ORDER BY position) FROM rillflow.read_all()")
[ "$log_b" = SecretB ] || fail "tenant b's log changed: $log_b"
echo "ok: a handler that switches tenants reaches nothing of the other tenant"
