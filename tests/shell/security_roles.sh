#!/usr/bin/env bash
# The privilege rules of docs/security.md that need their own databases or
# logins: CREATE EXTENSION refuses schemas a hostile role planted; a login role
# with only USAGE on the API cannot crash the server through an internal
# trigger; a role granted one tenant reaches no other through any connection
# setting; the CLI grants and revokes tenant access.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"

make_work_dir
# sqlstate DB SQL...: the SQLSTATE the statements stop at ("ok" when they all
# succeed); the whole error, with its detail and hint, is left in $work/err
sqlstate() {
    local db=$1
    shift
    psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@" >/dev/null 2>"$work/err" && { echo ok; return; }
    sed -nE 's/^(psql:[^:]*:[0-9]+: )?ERROR:  ([0-9A-Z]{5}): .*/\2/p' "$work/err" | tail -n 1
}
# scripts/cluster.sh keeps the server's log next to its socket folder
serverlog=$(dirname "$PGHOST")/server.log
[ -r "$serverlog" ] || fail "cannot read the server log $serverlog"
crashes() { grep -c 'terminated by signal' "$serverlog" || true; }
crashes_before=$(crashes)

roles="rf_sec_squatter rf_sec_mallory rf_sec_reader rf_sec_other"
cleanup_roles() {
    for r in $roles; do
        q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true
    done
}
drop_databases() {
    for db in rillflow_sec_planted rillflow_sec; do
        q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    done
}
drop_databases
cleanup_roles
on_exit cleanup_roles
on_exit drop_databases
for r in $roles; do q -d postgres -c "CREATE ROLE $r LOGIN"; done

# 1. CREATE EXTENSION refuses a rillflow schema it did not create.
q -d postgres -c "CREATE DATABASE rillflow_sec_planted" -c "GRANT CREATE ON DATABASE rillflow_sec_planted TO rf_sec_squatter"
q -d rillflow_sec_planted -U rf_sec_squatter -c "CREATE SCHEMA rillflow" \
    -c "CREATE FUNCTION rillflow.spy() RETURNS int LANGUAGE sql AS 'SELECT 1'"
[ "$(sqlstate rillflow_sec_planted -c 'CREATE EXTENSION rillflow')" = 42P06 ] ||
    fail "CREATE EXTENSION adopted a schema rillflow owned by another role: $(cat "$work/err")"
grep -q '^HINT: ' "$work/err" || fail "the refusal gives no hint: $(cat "$work/err")"
# the installer's own schema, holding something already: refused as well
q -d rillflow_sec_planted -c "SET client_min_messages = warning" -c "DROP SCHEMA rillflow CASCADE" -c "CREATE SCHEMA rillflow" \
    -c "CREATE TABLE rillflow.planted (x int)"
[ "$(sqlstate rillflow_sec_planted -c 'CREATE EXTENSION rillflow')" = 42P06 ] ||
    fail "CREATE EXTENSION adopted a schema rillflow that held objects"
# a planted store schema
q -d rillflow_sec_planted -c "SET client_min_messages = warning" -c "DROP SCHEMA rillflow CASCADE"
q -d rillflow_sec_planted -U rf_sec_squatter -c "CREATE SCHEMA rillflow_default"
[ "$(sqlstate rillflow_sec_planted -c 'CREATE EXTENSION rillflow')" = 42P06 ] ||
    fail "CREATE EXTENSION adopted a planted rillflow_default schema"
q -d rillflow_sec_planted -U rf_sec_squatter -c "DROP SCHEMA rillflow_default"
# nothing planted: it installs, and the schemas are the installer's
q -d rillflow_sec_planted -c "CREATE EXTENSION rillflow"
[ "$(q -d rillflow_sec_planted -c "SELECT count(*) FROM pg_namespace WHERE nspname IN ('rillflow', 'rillflow_default') AND nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)")" = 2 ] ||
    fail "the extension's schemas are not the installer's"
# a planted tenant schema is refused too
q -d rillflow_sec_planted -U rf_sec_squatter -c "CREATE SCHEMA rillflow_tenant_squat"
[ "$(sqlstate rillflow_sec_planted -c "SELECT rillflow.ensure_tenant('squat')")" = 42P06 ] ||
    fail "ensure_tenant adopted a planted schema"
q -d rillflow_sec_planted -c "SELECT count(*) FROM rillflow.tenants WHERE name = 'squat'" | grep -qx 0 ||
    fail "ensure_tenant registered a planted schema"

# 2. A login role with only USAGE on the API cannot read server memory or
# crash the server through the duplicated-fields trigger.
rf_fresh_database rillflow_sec >/dev/null
q -d rillflow_sec -c "GRANT USAGE ON SCHEMA rillflow TO rf_sec_mallory" -c "GRANT CREATE ON SCHEMA public TO rf_sec_mallory"
state=$(sqlstate rillflow_sec -U rf_sec_mallory \
    -c "CREATE TABLE public.t (id int, data int, f bigint)" \
    -c "CREATE TRIGGER t BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields('f', 'a', 'text', '')" \
    -c "INSERT INTO public.t VALUES (1, 12345, NULL)")
[ "$state" = 42501 ] || fail "a role with only USAGE on rillflow used the internal trigger (SQLSTATE $state)"
[ "$(q -d rillflow_sec -c 'SELECT 1')" = 1 ] || fail "the server does not answer"
[ "$(crashes)" = "$crashes_before" ] || fail "a backend crashed: $(grep 'terminated by signal' "$serverlog" | tail -n 1)"

# 3. A role granted tenant a reaches nothing of tenant b, however it picks
# the tenant: a SET, the connection's options, or its role's settings.
q -d rillflow_sec -c "SELECT rillflow.ensure_tenant('a'), rillflow.ensure_tenant('b')" \
    -c "SET rillflow.tenant = 'b'" \
    -c "SELECT rillflow.append_event('b0000000-0000-0000-0000-000000000001', 'SecretB', '{}')" \
    -c "SELECT rillflow.doc_put('docs', 'b0000000-0000-0000-0000-0000000000d1', '{\"secret\": 1}')" >/dev/null
q -d rillflow_sec -c "SELECT rillflow.grant_tenant('a', 'rf_sec_reader', 'write')" >/dev/null
[ "$(sqlstate rillflow_sec -U rf_sec_reader -c "SET rillflow.tenant = 'a'" -c "SELECT rillflow.append_event(gen_random_uuid(), 'InA', '{}')" -c "SELECT count(*) FROM rillflow.read_all()")" = ok ] ||
    fail "a writer of tenant a cannot use it: $(cat "$work/err")"
for how in set options role; do
    case $how in
    set) args=(-c "SET rillflow.tenant = 'b'") ;;
    options) args=() ; export PGOPTIONS='-c rillflow.tenant=b' ;;
    role) args=() ; q -d rillflow_sec -c "ALTER ROLE rf_sec_reader IN DATABASE rillflow_sec SET rillflow.tenant = 'b'" ;;
    esac
    for stmt in "SELECT count(*) FROM rillflow.read_all()" \
                "SELECT rillflow.head_position()" \
                "SELECT rillflow.run_sequencer()" \
                "SELECT count(*) FROM rillflow.read_stream('b0000000-0000-0000-0000-000000000001')" \
                "SELECT rillflow.append_event('b0000000-0000-0000-0000-000000000001', 'Forged', '{}')" \
                "SELECT count(*) FROM rillflow.doc_get('docs', 'b0000000-0000-0000-0000-0000000000d1')" \
                "SELECT rillflow.doc_put('docs', 'b0000000-0000-0000-0000-0000000000d1', '{}')"; do
        state=$(sqlstate rillflow_sec -U rf_sec_reader "${args[@]}" -c "$stmt")
        [ "$state" = 42501 ] || fail "tenant b reached by a role of tenant a ($how): $stmt gave $state"
    done
    unset PGOPTIONS
    q -d rillflow_sec -c "ALTER ROLE rf_sec_reader IN DATABASE rillflow_sec RESET rillflow.tenant"
done
q -d rillflow_sec -c "SET rillflow.tenant = 'b'" -c "SELECT string_agg(type, ',' ORDER BY position) FROM rillflow.read_all()" |
    grep -qx SecretB || fail "tenant b's log changed"

# 4. The CLI grants and revokes tenant access.
cli=build/cmake/cli/rillflow
[ -x "$cli" ] || fail "no CLI at $cli (make client)"
url_as() { echo "postgresql://$1@/rillflow_sec?host=$PGHOST&port=$PGPORT"; }
"$cli" --database-url "$(url_as postgres)" tenants grant --tenant a --role rf_sec_other --level read >/dev/null
PGUSER=rf_sec_other "$cli" --database-url "$(url_as rf_sec_other)" --tenant a events tail >/dev/null ||
    fail "a reader granted by the CLI cannot read"
if "$cli" --database-url "$(url_as rf_sec_other)" --tenant b events tail >"$work/out" 2>&1; then
    fail "a reader of a read b through the CLI"
fi
grep -q 42501 "$work/out" || fail "the CLI did not name SQLSTATE 42501: $(cat "$work/out")"
"$cli" --database-url "$(url_as postgres)" tenants revoke --tenant a --role rf_sec_other --level read >/dev/null
if "$cli" --database-url "$(url_as rf_sec_other)" --tenant a events tail >/dev/null 2>&1; then
    fail "a revoked reader still reads"
fi
if "$cli" --database-url "$(url_as postgres)" tenants grant --tenant a --role rf_sec_other --level owner >"$work/out" 2>&1; then
    fail "the CLI granted an unknown level"
fi
grep -q 22023 "$work/out" || fail "an unknown level is not 22023: $(cat "$work/out")"

[ "$(crashes)" = "$crashes_before" ] || fail "a backend crashed during the test"
echo "ok: planted schemas refused, the internal trigger unreachable, tenants isolated, CLI grants"
