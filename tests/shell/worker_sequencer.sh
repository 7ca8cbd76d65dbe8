#!/usr/bin/env bash
# The background worker sequences appends with no reader involved, in the
# default store and in a tenant's store, woken at commit and at COMMIT
# PREPARED (with a naptime of an hour, nothing else would run it), and sends NOTIFY rillflow_events with
# the store and head when a tick advanced the log. A reload changes its
# naptime.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/worker.sh"

db=rillflow_worker_seq
on_exit reset_worker_settings
make_work_dir
listener=
on_exit '[ -z "$listener" ] || kill "$listener" 2>/dev/null'

worker_switch on
rf_fresh_database $db >/dev/null
q -d $db -c "SELECT rillflow.ensure_tenant('acme')" >/dev/null
wait_for_worker $db

# An hour's naptime: from here on, only a wake-up at commit moves the worker.
set_naptime 3600000 $db
echo "ok: reload set the worker's naptime"

# A listener, ready before the appends.
background_session $db ready 300 "$work/notify.out" <<<"LISTEN rillflow_events;"
listener=$!
wait_until "the listener to be ready" 30 grep -q '^ready$' "$work/notify.out"

sequenced() {	# events of store $1 that have a position, read from the tables (no tick)
    q -d $db -c "SELECT count(*) FROM $1.events e JOIN (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM $1.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p USING (seq)"
}
q -d $db -c "SELECT rillflow.append_events(gen_random_uuid(), '[{\"type\":\"A\",\"body\":{}},{\"type\":\"B\",\"body\":{}}]')" >/dev/null
q -d $db -c "SET rillflow.tenant = 'acme'" -c "SELECT rillflow.append_event(gen_random_uuid(), 'T', '{}')" >/dev/null
_seq2() { [ "$(sequenced rillflow_default)" -eq 2 ]; }
_seq1() { [ "$(sequenced rillflow_tenant_acme)" -eq 1 ]; }
wait_until "the worker to sequence the default store's appends" 20 _seq2
wait_until "the worker to sequence the tenant store's append" 20 _seq1
echo "ok: appends sequenced by the worker, woken at commit"

# read_stream shows the positions without anyone having read the log.
nulls=$(q -d $db -c "SELECT count(*) FROM rillflow_default.events e, rillflow.read_stream(e.stream_id) r WHERE r.position IS NULL")
[ "$nulls" -eq 0 ] || fail "read_stream still shows $nulls events without a position"

_notified() {
    grep -q 'payload "{"store":"rillflow_default","head":2}"' "$work/notify.out" &&
        grep -q 'payload "{"store":"rillflow_tenant_acme","head":1}"' "$work/notify.out"
}
wait_until "NOTIFY rillflow_events for both stores" 20 _notified
echo "ok: NOTIFY rillflow_events with store and head"

# COMMIT PREPARED runs none of the prepared transaction's callbacks; its own
# commit wakes the worker (with an hour's naptime, nothing else would).
q -d $db -c "BEGIN" -c "SELECT rillflow.append_event(gen_random_uuid(), 'Prepared', '{}')" \
  -c "PREPARE TRANSACTION 'rillflow_worker_seq'" >/dev/null
sleep 0.5
[ "$(sequenced rillflow_default)" -eq 2 ] || fail "an event of a prepared transaction got a position before COMMIT PREPARED"
q -d $db -c "COMMIT PREPARED 'rillflow_worker_seq'" >/dev/null
_seq3() { [ "$(sequenced rillflow_default)" -eq 3 ]; }
wait_until "the worker to sequence a prepared append at COMMIT PREPARED" 20 _seq3
echo "ok: COMMIT PREPARED wakes the worker"

# The counters of worker_status() agree.
status=$(q -d $db -c "SELECT state, events_sequenced FROM rillflow.worker_status() WHERE database = current_database()")
[ "$status" = "running|4" ] || fail "worker_status() says $status"
echo "worker sequencer: ok"
