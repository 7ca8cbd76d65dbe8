#!/usr/bin/env bash
# The worker's life: turned off and on by a reload; restarted by the
# postmaster after SIGTERM (its own, or the launcher's); started in a database
# created after the server, and in one that gets the extension later; gone
# when the extension is dropped; and out of the way of DROP DATABASE (plain
# and WITH (FORCE)), CREATE DATABASE ... TEMPLATE and ALTER DATABASE RENAME.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

on_exit 'q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS rillflow_worker_life2 WITH (FORCE)" -c "DROP DATABASE IF EXISTS rillflow_worker_copy" -c "DROP DATABASE IF EXISTS rillflow_worker_renamed" >/dev/null'
on_exit reset_worker_settings
db=rillflow_worker_life
worker_switch on

# --- a database created after the server started gets a worker
rf_fresh_database $db >/dev/null
wait_for_worker $db
echo "ok: a database created after start has a worker"

sequenced() { q -d "$1" -c "SELECT count(*) FROM rillflow_default.events e JOIN (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_default.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p USING (seq)"; }
append() { q -d "$1" -c "SELECT rillflow.append_event(gen_random_uuid(), 'E', '{}')" >/dev/null; }
_sequenced_n() { [ "$(sequenced "$1")" -eq "$2" ]; }

# --- worker_enabled off: every worker leaves; on: they are back and work
worker_switch off
[ "$(worker_count)" -eq 0 ] || fail "workers still running with rillflow.worker_enabled = off"
append $db
worker_switch on
wait_for_worker $db
wait_until "the re-enabled worker to sequence" 20 _sequenced_n $db 1
echo "ok: worker_enabled off and on by reload"

# --- SIGTERM: the postmaster restarts the worker (bgw_restart_time)
old=$(worker_pid $db)
q -d postgres -c "SELECT pg_terminate_backend($old)" >/dev/null
_new_worker() { local p; p=$(worker_pid $db); [ -n "$p" ] && [ "$p" != "$old" ]; }
wait_until "a new worker after SIGTERM" 30 _new_worker
append $db
wait_until "the restarted worker to sequence" 20 _sequenced_n $db 2
echo "ok: worker restarted after SIGTERM"

# --- SIGTERM to the launcher: it comes back and so do the workers
old_launcher=$(launcher_pid)
old=$(worker_pid $db)
q -d postgres -c "SELECT pg_terminate_backend($old_launcher)" >/dev/null
_new_launcher() { local p; p=$(launcher_pid); [ -n "$p" ] && [ "$p" != "$old_launcher" ]; }
wait_until "a new launcher after SIGTERM" 30 _new_launcher
wait_until "a worker started by the new launcher" 30 _new_worker
[ "$(worker_count $db)" -eq 1 ] || fail "$(worker_count $db) workers in $db after the launcher restarted"
append $db
wait_until "the new launcher's worker to sequence" 20 _sequenced_n $db 3
echo "ok: launcher restarted after SIGTERM, one worker per database"

# --- a database without the extension, which gets it later
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS rillflow_worker_life2 WITH (FORCE)" -c "CREATE DATABASE rillflow_worker_life2" >/dev/null
_probed() {	# the launcher has looked at it: a worker came and went (or never stays)
    [ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'rillflow_worker_life2'")" -eq 0 ]
}
sleep 0.5
wait_until "no worker staying in a database without the extension" 30 _probed
q -d rillflow_worker_life2 -c "CREATE EXTENSION rillflow" >/dev/null
wait_for_worker rillflow_worker_life2
append rillflow_worker_life2
wait_until "the worker of a database that got the extension later to sequence" 20 _sequenced_n rillflow_worker_life2 1
echo "ok: CREATE EXTENSION in an existing database starts its worker"

# --- DROP EXTENSION: the worker leaves
q -d rillflow_worker_life2 -c "DROP EXTENSION rillflow" >/dev/null
_no_worker2() { [ "$(worker_count rillflow_worker_life2)" -eq 0 ]; }
wait_until "the worker to leave after DROP EXTENSION" 30 _no_worker2
echo "ok: DROP EXTENSION sends the worker away"

# --- CREATE DATABASE ... TEMPLATE a database with a worker
q -d postgres -c "CREATE DATABASE rillflow_worker_copy TEMPLATE $db" >/dev/null
[ "$(q -d rillflow_worker_copy -c "SELECT count(*) FROM rillflow_default.events")" -eq 3 ] || fail "the copy lacks events"
wait_for_worker $db
wait_for_worker rillflow_worker_copy
echo "ok: CREATE DATABASE ... TEMPLATE a database with a worker"

# --- ALTER DATABASE RENAME
q -d postgres -c "ALTER DATABASE rillflow_worker_copy RENAME TO rillflow_worker_renamed" >/dev/null
wait_for_worker rillflow_worker_renamed
echo "ok: ALTER DATABASE RENAME of a database with a worker"

# --- DROP DATABASE, plain and WITH (FORCE), with a worker connected
wait_for_worker rillflow_worker_renamed
q -d postgres -c "DROP DATABASE rillflow_worker_renamed" >/dev/null
wait_for_worker $db
q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
_all_gone() { [ "$(worker_count $db)" -eq 0 ] && [ "$(worker_count rillflow_worker_renamed)" -eq 0 ]; }
wait_until "no worker left for the dropped databases" 30 _all_gone
echo "ok: DROP DATABASE (plain and WITH (FORCE)) with a worker connected"
echo "worker lifecycle: ok"
