#!/usr/bin/env bash
# A tenant's archive brings the tenant back whole: `rillflow tenants archive`
# writes a dump of its store and a manifest; after `tenants drop --force`
# (with the worker running, which neither errors nor ticks the dropped store),
# `tenants restore` puts back every event with its position and version,
# every stream, alias, document (with its version) and the projection's
# checkpoint, so appends go on at the next version and position and the
# projection applies only the new events, each once. A restore over a live
# tenant, or of an archive whose manifest does not match (another tenant, a
# changed dump) is refused and changes nothing.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_tenant_archive
cli=build/cmake/cli/rillflow
[ -x $cli ] || fail "build the CLI first (make client)"
make_work_dir
on_exit reset_worker_settings
worker_switch on
rf_fresh_database $db >/dev/null
url="postgresql:///$db?host=$PGHOST&port=$PGPORT&user=$PGUSER"
rf() { $cli --database-url "$url" "$@"; }

# --- a tenant with events, documents and a projection that has applied them
rf tenants ensure acme >/dev/null
q -d $db <<'SQL' >/dev/null
CREATE TABLE public.seen (position bigint PRIMARY KEY, type text);
CREATE FUNCTION public.note(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS 'INSERT INTO public.seen VALUES (e.position, e.type)';
SET rillflow.tenant = 'acme';
SELECT rillflow.create_projection('notes', 'public.note(rillflow.event_envelope)');
SELECT rillflow.append_events(rillflow.resolve_stream_alias('order-' || i),
         jsonb_build_array(jsonb_build_object('type', 'Placed', 'body', jsonb_build_object('i', i)),
                           jsonb_build_object('type', 'Paid', 'body', jsonb_build_object('i', i))),
         0, 'key-' || i)
  FROM generate_series(1, 10) i;
SELECT rillflow.doc_put('docs', ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,
                        jsonb_build_object('i', i))
  FROM generate_series(1, 4) i;
SELECT rillflow.doc_put('docs', '00000000-0000-0000-0000-000000000001', '{"i": 1, "again": true}');
SELECT rillflow.create_collection('orders');
SELECT rillflow.doc_put('orders', '00000000-0000-0000-0000-0000000000aa', '{"sku": "x"}');
SQL
checkpoint() { q -d $db -c "SET rillflow.tenant = 'acme'" -c "SELECT checkpoint FROM rillflow_tenant_acme.projections WHERE name = 'notes'"; }
applied_all() { [ "$(checkpoint)" = "$1" ] && [ "$(q -d $db -c "SELECT count(*) FROM public.seen")" = "$1" ]; }
wait_until "the worker to apply the 20 events" 60 applied_all 20

state() {	# what must survive, in a canonical order
    q -d $db -c "SET rillflow.tenant = 'acme'" \
      -c "SELECT 'event', p.position, e.stream_id, e.version, e.type, e.body, e.event_id FROM rillflow_tenant_acme.events e JOIN (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_tenant_acme.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p USING (seq) ORDER BY p.position" \
      -c "SELECT 'stream', stream_id, version FROM rillflow_tenant_acme.streams ORDER BY 2" \
      -c "SELECT 'alias', alias, stream_id FROM rillflow_tenant_acme.stream_aliases ORDER BY 2" \
      -c "SELECT 'key', key, stream_id, first_version, last_version FROM rillflow_tenant_acme.idempotency_keys ORDER BY 2" \
      -c "SELECT 'doc', id, data, version FROM rillflow_tenant_acme.doc_docs ORDER BY 2" \
      -c "SELECT 'order', id, data, version FROM rillflow_tenant_acme.doc_orders ORDER BY 2" \
      -c "SELECT 'projection', name, checkpoint, status, handler FROM rillflow_tenant_acme.projections ORDER BY 2" \
      -c "SELECT 'head', rillflow.head_position()"
}
state >"$work/before.txt"
[ "$(grep -c '^event' "$work/before.txt")" = 20 ] || fail "expected 20 events before archiving"
errors_before=$(q -d $db -c "SELECT errors FROM rillflow.worker_status() WHERE database = current_database()")

# --- archive: a dump and a manifest that says what the store held
rf tenants archive acme --output "$work/acme" >/dev/null
[ -s "$work/acme/store.dump" ] || fail "no dump written"
manifest=$(cat "$work/acme/manifest.json")
for want in '"tenant": "acme"' '"schema": "rillflow_tenant_acme"' '"events": 20' '"streams": 10' \
            '"documents": 5' '"projections": 1' '"log_head": 20'; do
    grep -qF "$want" <<<"$manifest" || fail "manifest lacks $want: $manifest"
done
grep -q '"extension_version": "' <<<"$manifest" || fail "manifest lacks the extension version"
steps=$(q -d $db -c "SELECT rillflow._store_steps_version()")
grep -qF "\"schema_version\": $steps" <<<"$manifest" || fail "manifest lacks schema_version $steps: $manifest"
grep -q '"created_at": "' <<<"$manifest" || fail "manifest lacks created_at"
# an archive is never written over another
if rf tenants archive acme --output "$work/acme" 2>"$work/err.txt"; then fail "archive wrote over an archive"; fi
grep -q '58P02' "$work/err.txt" || fail "expected 58P02: $(cat "$work/err.txt")"

# --- restoring over the live tenant is refused, and changes nothing
if rf tenants restore acme --input "$work/acme" 2>"$work/err.txt"; then fail "restored over a live tenant"; fi
grep -q '42710' "$work/err.txt" || fail "expected 42710: $(cat "$work/err.txt")"
state >"$work/still.txt"
diff "$work/before.txt" "$work/still.txt" >/dev/null || fail "a refused restore changed the tenant"

# --- drop: refused while it holds data, then forced; the worker stays quiet
if rf tenants drop acme 2>"$work/err.txt"; then fail "dropped a tenant holding data without --force"; fi
grep -q 'RF007' "$work/err.txt" || fail "expected RF007: $(cat "$work/err.txt")"
rf tenants drop acme --force >/dev/null
[ "$(rf tenants status acme --json | grep -c '"exists": false')" = 1 ] || fail "acme still exists"
[ "$(q -d $db -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'rillflow_tenant_acme'")" = 0 ] \
    || fail "the store's schema is still there"
# appends to the default store wake the worker for passes over the stores that are left
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Ping', '{}') FROM generate_series(1, 3)" >/dev/null
passes() { q -d $db -c "SELECT passes FROM rillflow.worker_status() WHERE database = current_database()"; }
p0=$(passes)
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Ping', '{}')" >/dev/null
wait_until "the worker to make a pass after the drop" 30 bash -c "[ \"\$(psql -X -At -d $db -c \"SELECT passes FROM rillflow.worker_status() WHERE database = current_database()\")\" -gt $p0 ]"
errors_after=$(q -d $db -c "SELECT errors FROM rillflow.worker_status() WHERE database = current_database()")
[ "$errors_after" = "$errors_before" ] || fail "the worker counted errors after the drop ($errors_before -> $errors_after)"

# --- archives whose manifest does not match are refused before anything is restored
cp -r "$work/acme" "$work/renamed"
if rf tenants restore globex --input "$work/renamed" 2>"$work/err.txt"; then fail "restored acme's archive as globex"; fi
grep -q '22023' "$work/err.txt" || fail "expected 22023 for another tenant: $(cat "$work/err.txt")"
cp -r "$work/acme" "$work/changed"
printf 'x' >>"$work/changed/store.dump"
if rf tenants restore acme --input "$work/changed" 2>"$work/err.txt"; then fail "restored a changed dump"; fi
grep -q '22023' "$work/err.txt" || fail "expected 22023 for a changed dump: $(cat "$work/err.txt")"
sed 's/"format_version": 1/"format_version": 99/' "$work/acme/manifest.json" >"$work/changed/manifest.json"
if rf tenants restore acme --input "$work/changed" 2>"$work/err.txt"; then fail "restored an unknown format"; fi
grep -q '22023' "$work/err.txt" || fail "expected 22023 for an unknown format: $(cat "$work/err.txt")"
[ "$(q -d $db -c "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rillflow_tenant_%'")" = 0 ] \
    || fail "a refused restore left a schema"

# --- restore: everything is back, as it was
rf tenants restore acme --input "$work/acme" >/dev/null
state >"$work/after.txt"
diff "$work/before.txt" "$work/after.txt" || fail "the restored tenant differs from the archived one"
rf tenants status acme --json | grep -q '"events": 20' || fail "status does not show the 20 events"
rf tenants list | grep -q '^acme ' || fail "list does not show acme"

# --- appends continue at the next version and position; the projection applies only them
q -d $db <<'SQL' >/dev/null
SET rillflow.tenant = 'acme';
SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-1'), 'Shipped', '{}', expected_version => 2);
SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-11'), 'Placed', '{}', expected_version => 0);
SQL
[ "$(q -d $db -c "SET rillflow.tenant = 'acme'" -c "SELECT string_agg(position || ':' || version || ':' || type, ' ' ORDER BY position) FROM rillflow.read_all(20)")" \
  = "21:3:Shipped 22:1:Placed" ] || fail "appends after the restore did not continue at positions 21, 22"
# an idempotency key used before the archive is still known
if q -d $db -c "SET rillflow.tenant = 'acme'" -c "SELECT rillflow.append_events(rillflow.resolve_stream_alias('order-2'), '[{\"type\": \"X\", \"body\": {}}]', NULL, 'key-2')" 2>"$work/err.txt"; then
    fail "an idempotency key from before the archive was forgotten"
fi
grep -q 'RF002\|idempotency' "$work/err.txt" || fail "expected RF002: $(cat "$work/err.txt")"
wait_until "the worker to apply the 2 new events" 60 applied_all 22
[ "$(q -d $db -c "SELECT string_agg(position::text, ' ' ORDER BY position) FROM public.seen WHERE position > 20")" = "21 22" ] \
    || fail "the projection did not apply exactly the new events"
errors_end=$(q -d $db -c "SELECT errors FROM rillflow.worker_status() WHERE database = current_database()")
[ "$errors_end" = "$errors_before" ] || fail "the worker counted errors ($errors_before -> $errors_end)"

echo "ok: archive, drop and restore keep a tenant whole"
