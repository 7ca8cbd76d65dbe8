#!/usr/bin/env bash
# The DDL hook stops a database's worker only for a command PostgreSQL will
# let run (issue 8). It used to stop the worker before PostgreSQL's own
# permission checks, so any login role could restart the worker of any
# database, as often as it liked, with a command that then failed: ALTER
# DATABASE ... RENAME, CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... SET
# TABLESPACE. Each is tried here as a role that may not run it; the worker
# must keep running, with the same pid, and keep sequencing. Then the same
# commands by the database's owner still work with the worker on.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_ddl_checks
worker_switch on
rf_fresh_database $db >/dev/null
wait_for_worker $db
q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS rillflow_ddl_stranger" \
  -c "CREATE ROLE rillflow_ddl_stranger LOGIN CREATEDB" >/dev/null
on_exit 'q -d postgres -c "DROP DATABASE IF EXISTS rillflow_ddl_copy" -c "DROP DATABASE IF EXISTS rillflow_ddl_renamed WITH (FORCE)" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS rillflow_ddl_stranger" >/dev/null 2>&1' 
pid=$(worker_pid $db)

refused() {	# sql, what PostgreSQL says: run as the stranger, expect the refusal
    local out
    if out=$(psql -X -q -At -U rillflow_ddl_stranger -d postgres -c "$1" 2>&1); then
        fail "the stranger could run: $1"
    fi
    echo "$out" | grep -q "$2" || fail "unexpected answer to $1: $out"
    [ "$(worker_pid $db)" = "$pid" ] || fail "a refused '$1' stopped the worker of $db"
}
refused "ALTER DATABASE $db RENAME TO rillflow_ddl_renamed" "must be owner of database"
refused "CREATE DATABASE rillflow_ddl_copy TEMPLATE $db" "permission denied to copy database"
refused "ALTER DATABASE $db SET TABLESPACE pg_default" "must be owner of database"
refused "DROP DATABASE $db" "must be owner of database"
q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'E', '{}')" >/dev/null
_sequenced() { [ "$(q -d $db -c "SELECT count(*) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions")" -eq 1 ]; }
wait_until "the worker to sequence after the refused commands" 30 _sequenced
[ "$(worker_pid $db)" = "$pid" ] || fail "the worker of $db was restarted"
echo "ok: commands a role may not run leave the worker alone"

# The owner's commands still get the database to themselves.
q -d postgres -c "ALTER DATABASE $db RENAME TO rillflow_ddl_renamed" >/dev/null
q -d postgres -c "ALTER DATABASE rillflow_ddl_renamed RENAME TO $db" >/dev/null
q -d postgres -c "CREATE DATABASE rillflow_ddl_copy TEMPLATE $db" >/dev/null
q -d postgres -c "DROP DATABASE rillflow_ddl_copy" >/dev/null
echo "ok: the owner renames and copies the database with its worker on"
