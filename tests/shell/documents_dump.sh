#!/usr/bin/env bash
# A pg_dump/pg_restore round trip keeps every collection: documents with their
# versions and soft-deletes, duplicated-field columns, their indexes and the
# trigger that keeps them in step, in the default store (whose collection
# tables are not extension members, so pg_dump dumps them whole) and in a
# tenant's store.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"

make_work_dir


rf_fresh_database rillflow_docdump_src >/dev/null
q -d rillflow_docdump_src <<'SQL' >/dev/null
SELECT rillflow.doc_put('docs', ('d0000000-0000-0000-0000-00000000000' || i)::uuid, jsonb_build_object('i', i)) FROM generate_series(1, 3) i;
SELECT rillflow.doc_put('people', ('e0000000-0000-0000-0000-00000000000' || i)::uuid,
                        jsonb_build_object('email', 'P' || i || '@X', 'age', i)) FROM generate_series(1, 5) i;
SELECT rillflow.doc_put('people', 'e0000000-0000-0000-0000-000000000001', '{"email": "Again@X", "age": 10}');
SELECT rillflow.doc_soft_delete('people', 'e0000000-0000-0000-0000-000000000002');
SELECT rillflow.add_duplicated_field('people', 'email', 'email', 'text', transform => 'lower({value})');
SELECT rillflow.add_duplicated_field('docs', 'i', 'i', 'integer');
SELECT rillflow.ensure_tenant('docdump');
SET rillflow.tenant = 'docdump';
SELECT rillflow.doc_put('orders', 'f0000000-0000-0000-0000-000000000001', '{"total": 5}');
SELECT rillflow.add_duplicated_field('orders', 'total', 'total', 'numeric');
SQL

state() {
    local db=$1
    q -d "$db" -c "SELECT 'coll', name, table_name FROM rillflow.list_collections()" \
      -c "SELECT 'field', collection, path, column_name, type, indexed, transform FROM rillflow_default.duplicated_fields ORDER BY 2, 4" \
      -c "SELECT 'doc', id, data, version, deleted_at IS NOT NULL, email FROM rillflow_default.doc_people ORDER BY id" \
      -c "SELECT 'doc', id, data, version, i FROM rillflow_default.doc_docs ORDER BY id" \
      -c "SELECT 'tenant', id, data, version, total FROM rillflow_tenant_docdump.doc_orders ORDER BY id" \
      -c "SET rillflow.tenant = 'docdump'" -c "SELECT 'tcoll', name FROM rillflow.list_collections()" \
      -c "SELECT 'index', indexrelid::regclass FROM pg_index WHERE indrelid IN ('rillflow_default.doc_people'::regclass, 'rillflow_default.doc_docs'::regclass, 'rillflow_tenant_docdump.doc_orders'::regclass) ORDER BY indexrelid::regclass::text"
}
state rillflow_docdump_src >"$work/src.state"
grep -q '^field|people|email|email|text|t|lower({value})$' "$work/src.state" || fail "source state lacks the field: $(cat "$work/src.state")"

pg_dump -Fc -d rillflow_docdump_src -f "$work/dump.pgc"
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS rillflow_docdump_dst WITH (FORCE)" -c "CREATE DATABASE rillflow_docdump_dst"
pg_restore -d rillflow_docdump_dst "$work/dump.pgc"
state rillflow_docdump_dst >"$work/dst.state"
diff -u "$work/src.state" "$work/dst.state" || fail "documents differ after restore"

# the restored collections keep working: versions, the trigger, auto-creation
out=$(q -d rillflow_docdump_dst \
    -c "SELECT rillflow.doc_put('people', 'e0000000-0000-0000-0000-000000000001', '{\"email\": \"After@Restore\"}', 2)" \
    -c "SELECT email FROM rillflow_default.doc_people WHERE id = 'e0000000-0000-0000-0000-000000000001'" \
    -c "SELECT rillflow.doc_put('brand_new', gen_random_uuid(), '{}')")
[ "$out" = "$(printf '3\nafter@restore\n1')" ] || fail "restored store misbehaves: $out"
if q -d rillflow_docdump_dst -c "SELECT rillflow.doc_put('docs', gen_random_uuid(), '{\"i\": \"x\"}')" 2>"$work/err"; then
    fail "the restored trigger accepted a value that does not convert"
fi
grep -q 'does not convert to integer' "$work/err" || fail "wrong error: $(cat "$work/err")"
q -d postgres -c "DROP DATABASE rillflow_docdump_dst WITH (FORCE)" -c "DROP DATABASE rillflow_docdump_src WITH (FORCE)"
echo "documents dump/restore round trip: ok"
