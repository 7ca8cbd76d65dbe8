#!/usr/bin/env bash
# A COPY into a store's tables holds the sequencer still only as long as it
# must (issue 8). It used to mark the whole database, for every store, until
# the copying session disconnected, for any role with INSERT on the table:
# one COPY into a tenant's stream_aliases by a writer froze the log of every
# store in the database for as long as that session stayed open.
#
# 1. A role that does not own the store COPYs into one of its tables and
#    stays connected: every store goes on being sequenced.
# 2. The store's owner COPYs inside a transaction and stays connected: the
#    other stores go on meanwhile, and the owner's store is sequenced as soon
#    as that transaction ends, not when the session does.
# (Restores, which copy the log's own tables, are worker_restore.sh.)
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

make_work_dir
db=rillflow_copy_mark
session=
on_exit 'q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS rillflow_copy_writer" -c "DROP ROLE IF EXISTS rillflow_copy_owner" >/dev/null 2>&1'
on_exit '[ -z "$session" ] || kill "$session" 2>/dev/null'

worker_switch on
rf_fresh_database $db >/dev/null
q -d postgres -c "SET client_min_messages = warning" \
  -c "DROP ROLE IF EXISTS rillflow_copy_writer" -c "DROP ROLE IF EXISTS rillflow_copy_owner" \
  -c "CREATE ROLE rillflow_copy_writer LOGIN" -c "CREATE ROLE rillflow_copy_owner LOGIN" >/dev/null
# One transaction: the worker sees the store only with its new owner, so its
# first tick never meets the ALTERs (each side would hold a lock the other wants).
q -d $db <<'SQL' >/dev/null
BEGIN;
SELECT rillflow.ensure_tenant('copied');
DO $$
DECLARE
    r record;
BEGIN
    ALTER SCHEMA rillflow_tenant_copied OWNER TO rillflow_copy_owner;
    FOR r IN SELECT relname FROM pg_class
              WHERE relnamespace = 'rillflow_tenant_copied'::regnamespace AND relkind = 'r' LOOP
        EXECUTE format('ALTER TABLE rillflow_tenant_copied.%I OWNER TO rillflow_copy_owner', r.relname);
    END LOOP;
END $$;
GRANT USAGE ON SCHEMA rillflow_tenant_copied TO rillflow_copy_writer;
GRANT INSERT ON rillflow_tenant_copied.stream_aliases TO rillflow_copy_writer;
COMMIT;
SQL
wait_for_worker $db

appended=0
append_both() {	# one event in the default store and one in the tenant's
    q -d $db -c "SELECT rillflow.append_event(gen_random_uuid(), 'Default', '{}')" >/dev/null
    q -d $db -c "SET rillflow.tenant = 'copied'" -c "SELECT rillflow.append_event(gen_random_uuid(), 'Tenant', '{}')" >/dev/null
    appended=$((appended + 1))
}
positioned() { q -d $db -c "SELECT count(*) FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM $1.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) AS positions"; }
_default_done() { [ "$(positioned rillflow_default)" -eq $appended ]; }
_tenant_done() { [ "$(positioned rillflow_tenant_copied)" -eq $appended ]; }

open_session() {	# role: a psql session fed through a fifo (fd 3), output in $work/session.out
    rm -f "$work/fifo" "$work/session.out"
    mkfifo "$work/fifo"
    psql -X -q -At -U "$1" -d $db <"$work/fifo" >"$work/session.out" 2>&1 &
    session=$!
    exec 3>"$work/fifo"
}
say() { echo "$*" >&3; }
close_session() { exec 3>&-; wait "$session" 2>/dev/null || true; session=; }
_session_says() { grep -q "^$1\$" "$work/session.out"; }

# --- 1. a writer's COPY holds nothing still
open_session rillflow_copy_writer
say "COPY rillflow_tenant_copied.stream_aliases (alias, stream_id) FROM stdin;"
printf 'by-writer\t5e000000-0000-0000-0000-00000000c0c1\n\\.\n' >&3
say "SELECT 'copied';"
wait_until "the writer's COPY" 30 _session_says copied
append_both
wait_until "the default store to be sequenced beside the writer's idle session" 30 _default_done
wait_until "the tenant store to be sequenced beside the writer's idle session" 30 _tenant_done
close_session
echo "ok: a COPY by a role that does not own the store holds no log still"

# --- 2. the owner's COPY holds its own store, until its transaction ends
open_session rillflow_copy_owner
say "BEGIN;"
say "COPY rillflow_tenant_copied.stream_aliases (alias, stream_id) FROM stdin;"
printf 'by-owner\t5e000000-0000-0000-0000-00000000c0c2\n\\.\n' >&3
say "SELECT 'copied';"
wait_until "the owner's COPY" 30 _session_says copied
append_both
wait_until "the default store to be sequenced while the owner's COPY is open" 30 _default_done
say "COMMIT;"
say "SELECT 'committed';"
wait_until "the owner's commit" 30 _session_says committed
wait_until "the owner's store to be sequenced once its COPY committed, the session still open" 30 _tenant_done
append_both
wait_until "both stores to go on" 30 _default_done
wait_until "both stores to go on" 30 _tenant_done
close_session
echo "ok: the owner's COPY holds only its own store, and only until its transaction ends"
