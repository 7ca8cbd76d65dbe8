#!/usr/bin/env bash
# A pg_dump/pg_restore round trip keeps every event, position, stream version,
# alias, idempotency key and tenant: into a new database of the same cluster,
# and into another cluster (where the recorded transaction ids mean nothing
# and the sequencer repairs the log on its first tick). Events that had no
# position at dump time get the next positions after restore, none twice.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"

make_work_dir


# --- the source database: two stores, sequenced and unsequenced events
rf_fresh_database rillflow_dump_src >/dev/null
q -d rillflow_dump_src <<'SQL' >/dev/null
SELECT rillflow.append_events(rillflow.resolve_stream_alias('order-' || i),
         jsonb_build_array(jsonb_build_object('type', 'Placed', 'body', jsonb_build_object('i', i)),
                           jsonb_build_object('type', 'Paid', 'body', jsonb_build_object('i', i))),
         0, 'key-' || i, '{"src": "dump"}')
  FROM generate_series(1, 20) i;
SELECT count(*) FROM rillflow.read_all(0, 100000);
SELECT rillflow.ensure_tenant('dumped');
SET rillflow.tenant = 'dumped';
SELECT rillflow.append_event(rillflow.resolve_stream_alias('t-' || i), 'TenantEvent', jsonb_build_object('i', i))
  FROM generate_series(1, 5) i;
SELECT count(*) FROM rillflow.read_all(0, 100000);
SELECT rillflow.append_event(rillflow.resolve_stream_alias('t-1'), 'Unsequenced', '{}');
RESET rillflow.tenant;
-- committed after the last tick: no position yet when dumped
SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-' || i), 'Shipped', '{}', 2)
  FROM generate_series(1, 3) i;
SQL

state() {	# everything that must survive, in a canonical order
    local db=$1 tenant=${2:-}
    q -d "$db" -c "SET rillflow.tenant = '$tenant'" \
      -c "SELECT 'event', e.event_id, e.stream_id, e.version, e.type, e.body, e.headers FROM $3.events e ORDER BY e.event_id" \
      -c "SELECT 'stream', stream_id, version FROM $3.streams ORDER BY 2" \
      -c "SELECT 'alias', alias, stream_id FROM $3.stream_aliases ORDER BY 2" \
      -c "SELECT 'key', key, stream_id, first_version, last_version FROM $3.idempotency_keys ORDER BY 2"
}
positions() {	# position -> event, for what was sequenced
    q -d "$1" -c "SELECT p.position, e.event_id FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM $2.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p JOIN $2.events e USING (seq) ORDER BY 1"
}

state rillflow_dump_src '' rillflow_default >"$work/src_default.state"
state rillflow_dump_src dumped rillflow_tenant_dumped >"$work/src_tenant.state"
positions rillflow_dump_src rillflow_default >"$work/src_default.positions"
positions rillflow_dump_src rillflow_tenant_dumped >"$work/src_tenant.positions"
[ "$(wc -l <"$work/src_default.positions")" -eq 40 ] || fail "expected 40 sequenced events before the dump"
[ "$(grep -c '^event' "$work/src_default.state")" -eq 43 ] || fail "expected 43 events before the dump"
q -d rillflow_dump_src -c "SELECT name FROM rillflow.tenants ORDER BY 1" >"$work/src.tenants"

pg_dump -Fc -d rillflow_dump_src -f "$work/dump.pgc"

check_restored() {	# db, psql connection options...
    local db=$1; shift
    local label="$db $*"
    for s in default tenant; do
        local tenant='' schema=rillflow_default
        [ $s = tenant ] && { tenant=dumped; schema=rillflow_tenant_dumped; }
        PGOPTS=("$@")
        q "${PGOPTS[@]}" -d "$db" -c "SET rillflow.tenant = '$tenant'" \
          -c "SELECT 'event', e.event_id, e.stream_id, e.version, e.type, e.body, e.headers FROM $schema.events e ORDER BY e.event_id" \
          -c "SELECT 'stream', stream_id, version FROM $schema.streams ORDER BY 2" \
          -c "SELECT 'alias', alias, stream_id FROM $schema.stream_aliases ORDER BY 2" \
          -c "SELECT 'key', key, stream_id, first_version, last_version FROM $schema.idempotency_keys ORDER BY 2" \
          >"$work/dst_$s.state"
        diff -u "$work/src_$s.state" "$work/dst_$s.state" || fail "$label: $s store differs after restore"
        # sequenced positions are kept as they were
        q "${PGOPTS[@]}" -d "$db" -c "SELECT p.position, e.event_id FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM $schema.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p JOIN $schema.events e USING (seq) ORDER BY 1" \
          >"$work/dst_$s.positions"
        diff -u "$work/src_$s.positions" "$work/dst_$s.positions" || fail "$label: $s positions changed by the restore"
        # the first read sequences the rest: dense, each event once
        local n events dense
        n=$(q "${PGOPTS[@]}" -d "$db" -c "SET rillflow.tenant = '$tenant'" -c "SELECT count(*) FROM rillflow.read_all(0, 100000)")
        events=$(grep -c '^event' "$work/src_$s.state")
        [ "$n" -eq "$events" ] || fail "$label: read_all returns $n of $events events"
        dense=$(q "${PGOPTS[@]}" -d "$db" -c "SET rillflow.tenant = '$tenant'" \
            -c "SELECT max(position) = count(*) AND count(DISTINCT event_id) = count(*) FROM rillflow.read_all(0, 100000)")
        [ "$dense" = t ] || fail "$label: $s log is not dense after restore"
        # the restored stores keep working: OCC, idempotency, aliases, appends
        q "${PGOPTS[@]}" -d "$db" -c "SET rillflow.tenant = '$tenant'" \
          -c "SELECT rillflow.append_event(rillflow.resolve_stream_alias('after-restore'), 'New', '{}', 0)" >/dev/null
        local last
        last=$(q "${PGOPTS[@]}" -d "$db" -c "SET rillflow.tenant = '$tenant'" \
            -c "SELECT max(position) || ':' || (array_agg(type ORDER BY position DESC))[1] FROM rillflow.read_all(0, 100000)")
        [ "$last" = "$((events + 1)):New" ] || fail "$label: new append got $last, expected $((events + 1)):New"
    done
    if q "$@" -d "$db" -c "SELECT rillflow.append_events(rillflow.resolve_stream_alias('order-1'), '[{\"type\":\"X\",\"body\":{}}]', NULL, 'key-1')" 2>"$work/err"; then
        fail "$label: a restored idempotency key was accepted twice"
    fi
    grep -q 'idempotency key "key-1" was already used' "$work/err" || fail "$label: wrong error for a restored key: $(cat "$work/err")"
    q "$@" -d "$db" -c "SELECT name FROM rillflow.tenants ORDER BY 1" >"$work/dst.tenants"
    diff -u "$work/src.tenants" "$work/dst.tenants" || fail "$label: tenants differ"
    echo "ok: restore into $label"
}

# --- a new database of this cluster, then another cluster
restore_round_trip "$work/dump.pgc" rillflow_dump_dst
frozen=$(q "${other[@]}" -d rillflow_dump_dst_other -c "SELECT count(*) FROM rillflow_default.events WHERE tx <> '1'::xid8 AND type <> 'New'")
[ "$frozen" -eq 0 ] || fail "cross-cluster restore left $frozen events with foreign transaction ids"
echo "dump/restore round trip: ok"
