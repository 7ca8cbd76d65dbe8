#!/usr/bin/env bash
# A pg_dump/pg_restore round trip keeps archived streams archived: every
# event with its position, version and retention class, streams.archived_at,
# each store's backend (the default store on dual_table, a tenant on
# partitioned), the archive's counters; after restore the stores are healthy,
# reads are hot-only unless asked, an append to an archived stream reactivates
# it, and archiving goes on. Into a new database of the same cluster and into
# another cluster (foreign transaction ids; archived events that had no
# position at dump time get the next ones, none twice).
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"
source "$(dirname "$0")/lib/clusters.sh"

make_work_dir

rf_fresh_database rillflow_arch_src >/dev/null
q -d rillflow_arch_src <<'SQL' >/dev/null
SELECT rillflow.append_events(rillflow.resolve_stream_alias('acct-' || i),
         jsonb_build_array(jsonb_build_object('type', 'Opened', 'body', jsonb_build_object('i', i)),
                           jsonb_build_object('type', 'Paid', 'body', jsonb_build_object('i', i))), 0)
  FROM generate_series(1, 10) i;
SELECT count(*) FROM rillflow.read_all(0, 100000);
SELECT rillflow.archive_stream(rillflow.resolve_stream_alias('acct-' || i)) FROM generate_series(1, 4) i;
SELECT rillflow.ensure_tenant('cold');
SET rillflow.tenant = 'cold';
SELECT rillflow.set_archive_backend('partitioned');
SELECT rillflow.append_event(rillflow.resolve_stream_alias('t-' || i), 'TenantEvent', jsonb_build_object('i', i))
  FROM generate_series(1, 6) i;
SELECT count(*) FROM rillflow.read_all(0, 100000);
SELECT rillflow.archive_streams('0 seconds', 3);
-- archived before the log placed it: no position when dumped
SELECT rillflow.append_event(rillflow.resolve_stream_alias('t-9'), 'Late', '{}');
SELECT rillflow.archive_stream(rillflow.resolve_stream_alias('t-9'));
SQL

state() {	# db schema tenant [psql options]: everything that must survive
    local db=$1 schema=$2 tenant=$3; shift 3
    q "$@" -d "$db" -c "SET rillflow.tenant = '$tenant'" \
      -c "SELECT 'event', e.event_id, e.stream_id, e.version, e.type, e.body, e.retention_class FROM $schema.events e ORDER BY e.event_id" \
      -c "SELECT 'stream', stream_id, version, archived_at IS NOT NULL FROM $schema.streams ORDER BY 2" \
      -c "SELECT 'backend', rillflow.archive_backend()" \
      -c "SELECT 'metric', name, value FROM rillflow.archive_metrics() WHERE name NOT IN ('archive_events_hot_bytes', 'archive_move_duration_seconds') ORDER BY 2"
}
positions() {
    q "$@" -c "SELECT p.position, e.event_id FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM $schema.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p JOIN $schema.events e USING (seq) ORDER BY 1"
}

for s in default cold; do
    schema=rillflow_default; tenant=''
    [ $s = cold ] && { schema=rillflow_tenant_cold; tenant=cold; }
    state rillflow_arch_src $schema "$tenant" >"$work/src_$s.state"
    positions -d rillflow_arch_src >"$work/src_$s.positions"
done
[ "$(grep -c "^event.*|cold$" "$work/src_default.state")" -eq 8 ] || fail "expected 8 archived events in the default store"
[ "$(grep -c "^event.*|cold$" "$work/src_cold.state")" -eq 4 ] || fail "expected 4 archived events in the tenant's store"
grep -q '^backend|partitioned$' "$work/src_cold.state" || fail "the tenant's store is not partitioned before the dump"
[ "$(wc -l <"$work/src_cold.positions")" -eq 6 ] || fail "expected 6 sequenced events in the tenant's store"

pg_dump -Fc -d rillflow_arch_src -f "$work/dump.pgc"

check_restored() {	# db [psql options]
    local db=$1; shift
    local label="$db $*"
    for s in default cold; do
        schema=rillflow_default; tenant=''
        [ $s = cold ] && { schema=rillflow_tenant_cold; tenant=cold; }
        state "$db" $schema "$tenant" "$@" >"$work/dst_$s.state"
        diff -u "$work/src_$s.state" "$work/dst_$s.state" || fail "$label: $s store differs after restore"
        positions "$@" -d "$db" >"$work/dst_$s.positions"
        diff -u "$work/src_$s.positions" "$work/dst_$s.positions" || fail "$label: $s positions changed by the restore"
        local all hot dense health
        all=$(q "$@" -d "$db" -c "SET rillflow.tenant = '$tenant'" -c "SELECT count(*) FROM rillflow.read_all(0, 100000, include_archived => true)")
        [ "$all" -eq "$(grep -c '^event' "$work/src_$s.state")" ] || fail "$label: $s read_all(include_archived) returns $all events"
        hot=$(q "$@" -d "$db" -c "SET rillflow.tenant = '$tenant'" -c "SELECT count(*) FROM rillflow.read_all(0, 100000)")
        [ "$hot" -eq "$(grep -c '^event.*|hot$' "$work/src_$s.state")" ] || fail "$label: $s hot read_all returns $hot events"
        dense=$(q "$@" -d "$db" -c "SET rillflow.tenant = '$tenant'" \
            -c "SELECT max(position) = count(*) AND count(DISTINCT event_id) = count(*) FROM rillflow.read_all(0, 100000, include_archived => true)")
        [ "$dense" = t ] || fail "$label: $s log is not dense after restore"
        health=$(q "$@" -d "$db" -c "SELECT status FROM rillflow.schema_health() WHERE store = '$schema'")
        [ "$health" = ok ] || fail "$label: $s store is $health after restore"
        # an append to an archived stream reactivates it; archiving goes on
        local alias=acct-1 version
        [ $s = cold ] && alias=t-1
        version=$(q "$@" -d "$db" -c "SET rillflow.tenant = '$tenant'" \
            -c "SELECT rillflow.append_event(rillflow.resolve_stream_alias('$alias'), 'After', '{}', expected_version => -1)")
        [ "$(q "$@" -d "$db" -c "SET rillflow.tenant = '$tenant'" -c "SELECT count(*) FROM rillflow.read_stream(rillflow.resolve_stream_alias('$alias'))")" -eq "$version" ] \
            || fail "$label: $s append did not reactivate $alias"
        [ "$(q "$@" -d "$db" -c "SET rillflow.tenant = '$tenant'" -c "SELECT rillflow.archive_streams('0 seconds')")" -gt 0 ] \
            || fail "$label: $s archive_streams archived nothing after restore"
    done
    echo "ok: restore into $label"
}

restore_round_trip "$work/dump.pgc" rillflow_arch_dst
echo "archive dump/restore round trip: ok"
