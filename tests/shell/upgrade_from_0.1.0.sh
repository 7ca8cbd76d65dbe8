#!/usr/bin/env bash
# The upgrade from the released 0.1.0, as a user makes it (modelled on
# pg_stat_statements' oldextversions test): a cluster runs rillflow 0.1.0
# (built from its release commit), gets data in two tenants and the default
# store (events, aliases, idempotency keys, documents with a duplicated
# field, projections that the 0.1.0 worker ran, an external projection's
# checkpoint); the binaries are replaced by this tree's; the 0.1.0 SQL keeps
# being served until ALTER EXTENSION rillflow UPDATE; after it and
# schema_sync(), every event, position, version, document and checkpoint is
# there, schema_health() reports no drift, projections go on from their
# checkpoints, and the catalog is exactly that of a fresh install.
#
# The cluster runs on a private copy of the PostgreSQL installation, so the
# 0.1.0 library never touches the one the other tests use.
set -euo pipefail
source "$(dirname "$0")/lib/preamble.sh"

release=f828851    # 0.1.0 (src/extension/released/rillflow--0.1.0.sql)
git cat-file -e "$release^{commit}" 2>/dev/null ||
    fail "needs the git history of commit $release (0.1.0) to build the released binaries: run it in a full clone"

make_work_dir
# its own cluster, with the worker on whatever the caller's has: projections
# run in it before and after the upgrade
export RILLFLOW_CLUSTER=upgrade RILLFLOW_PGPORT= RILLFLOW_WORKER_ENABLED=on
on_exit 'bash scripts/cluster.sh destroy'

# --- a private PostgreSQL installation (Debian's layout, relocatable)
bindir=$(pg_config --bindir)
pg=$work/pg
mkdir -p "$pg/lib/postgresql" "$pg/share/postgresql" "$pg/include"
cp -a "$(dirname "$bindir")" "$pg/lib/postgresql/"
cp -a "$(pg_config --sharedir)" "$pg/share/postgresql/"
cp -a "$(dirname "$(dirname "$(pg_config --includedir-server)")")" "$pg/include/"
chmod -R a+rX "$work"
export PATH=$pg/lib/postgresql/15/bin:$PATH
private_config=$pg/lib/postgresql/15/bin/pg_config
[ "$(pg_config --bindir)" = "$pg/lib/postgresql/15/bin" ] || fail "the private installation is not first on PATH"
rm -f "$(pg_config --sharedir)"/extension/rillflow*

# --- 0.1.0, built from its release commit
mkdir -p "$work/v0.1.0"
git archive "$release" | tar -x -C "$work/v0.1.0"
make -s -C "$work/v0.1.0" PG_CONFIG="$private_config" >"$work/build-0.1.0.log" 2>&1 ||
    { cat "$work/build-0.1.0.log"; fail "0.1.0 did not build"; }
make -s -C "$work/v0.1.0" PG_CONFIG="$private_config" install >>"$work/build-0.1.0.log" 2>&1 ||
    fail "0.1.0 did not install"

bash scripts/cluster.sh destroy
bash scripts/cluster.sh start || fail "the 0.1.0 cluster did not start"
eval "$(bash scripts/cluster.sh env)"
q -d postgres -c "CREATE DATABASE rf_upgrade" -c "CREATE DATABASE rf_fresh"
q -d rf_upgrade -c "CREATE EXTENSION rillflow"
[ "$(q -d rf_upgrade -c "SELECT extversion FROM pg_extension WHERE extname = 'rillflow'")" = 0.1.0 ] ||
    fail "the old cluster does not run 0.1.0"

q -d rf_upgrade <<'SQL' >/dev/null
CREATE ROLE rf_upgrade_handler_owner;
CREATE TABLE applied (store text, position bigint, type text, PRIMARY KEY (store, position));
GRANT INSERT ON applied TO rf_upgrade_handler_owner;
CREATE FUNCTION record_event(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$INSERT INTO public.applied VALUES (rillflow.current_store(), e.position, e.type)$$;
ALTER FUNCTION record_event(rillflow.event_envelope) OWNER TO rf_upgrade_handler_owner;

SELECT rillflow.ensure_tenant('acme'), rillflow.ensure_tenant('globex');
SELECT rillflow.append_events(rillflow.resolve_stream_alias('order-' || i),
         jsonb_build_array(jsonb_build_object('type', 'Placed', 'body', jsonb_build_object('i', i)),
                           jsonb_build_object('type', 'Paid', 'body', jsonb_build_object('i', i))),
         0, 'key-' || i, '{"src": "upgrade"}')
  FROM generate_series(1, 20) i;
SELECT rillflow.doc_put('people', md5('p' || i)::uuid, jsonb_build_object('name', 'n' || i, 'age', i))
  FROM generate_series(1, 30) i;
SELECT rillflow.add_duplicated_field('people', 'age', 'age', 'integer', true);
SELECT rillflow.create_projection('recorder', 'record_event(rillflow.event_envelope)'::regprocedure);
SELECT rillflow.create_external_projection('outside');
SET rillflow.tenant = 'acme';
SELECT rillflow.append_event(rillflow.resolve_stream_alias('t-' || i), 'TenantEvent', jsonb_build_object('i', i))
  FROM generate_series(1, 5) i;
SELECT rillflow.create_projection('recorder', 'record_event(rillflow.event_envelope)'::regprocedure);
SELECT rillflow.doc_put('things', md5('t' || i)::uuid, jsonb_build_object('i', i)) FROM generate_series(1, 3) i;
SET rillflow.tenant = 'globex';
SELECT rillflow.append_event(rillflow.resolve_stream_alias('g'), 'GlobexEvent', '{}');
SQL

# The 0.1.0 worker runs both projections to the head of their logs.
caught_up() {
    [ "$(q -d rf_upgrade -c "SELECT count(*) FROM applied WHERE store = 'rillflow_default'")" = 40 ] &&
    [ "$(q -d rf_upgrade -c "SELECT count(*) FROM applied WHERE store = 'rillflow_tenant_acme'")" = 5 ]
}
wait_until "the 0.1.0 worker to run the projections" 60 caught_up
# An external daemon's checkpoint, through 0.1.0's lease API.
q -d rf_upgrade <<'SQL' >/dev/null
SELECT rillflow.projection_commit('outside', l.token, 17, 17)
  FROM rillflow.projection_acquire('outside', 'daemon-1', '1 minute') l;
SELECT rillflow.projection_release('outside', l.lease_token)
  FROM rillflow.projection_status('outside') l;
SQL

state() {	# everything that must survive, in a canonical order
    local db=$1
    for s in rillflow_default rillflow_tenant_acme rillflow_tenant_globex; do
        # the log: a row per position in 0.1.0, segments since store step 12
        local log="$s.positions"
        if [ "$(q -d "$db" -c "SELECT to_regclass('$s.log_segments') IS NOT NULL")" = t ]; then
            log="(SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq
                    FROM $s.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o))"
        fi
        q -d "$db" \
          -c "SELECT '$s event', p.position, e.event_id, e.stream_id, e.version, e.type, e.body, e.headers
                FROM $s.events e LEFT JOIN $log p USING (seq) ORDER BY e.seq" \
          -c "SELECT '$s stream', stream_id, version FROM $s.streams ORDER BY 2" \
          -c "SELECT '$s alias', alias, stream_id FROM $s.stream_aliases ORDER BY 2" \
          -c "SELECT '$s key', key, stream_id, first_version, last_version FROM $s.idempotency_keys ORDER BY 2" \
          -c "SELECT '$s projection', name, kind, CASE WHEN kind = 'external' THEN checkpoint END
                FROM $s.projections ORDER BY 2"
    done
    q -d "$db" -c "SELECT 'doc', id, data, version, age FROM rillflow_default.doc_people ORDER BY id" \
               -c "SELECT 'doc', id, data, version FROM rillflow_tenant_acme.doc_things ORDER BY id" \
               -c "SELECT 'tenant', name, schema_name FROM rillflow.tenants ORDER BY 2"
}
# --- replace the binaries with this tree's, restart
bash scripts/cluster.sh stop
make -s PG_CONFIG="$private_config" install >"$work/install-new.log" 2>&1 ||
    { cat "$work/install-new.log"; fail "this tree did not install"; }
# (its port may have been taken meanwhile: start then says which one it took)
bash scripts/cluster.sh start || fail "the cluster did not start on the new binaries"
eval "$(bash scripts/cluster.sh env)"

# Until the update, the library serves 0.1.0's SQL: reads, appends and
# documents work; running a projection says what to do.
[ "$(q -d rf_upgrade -c "SELECT extversion FROM pg_extension WHERE extname = 'rillflow'")" = 0.1.0 ] ||
    fail "the extension changed version before ALTER EXTENSION UPDATE"
q -d rf_upgrade <<'SQL' >/dev/null || fail "0.1.0's SQL on the new library"
SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-1'), 'BeforeUpdate', '{}', 2);
SELECT count(*) FROM rillflow.read_all(0, 1000);
SELECT rillflow.head_position();
SELECT rillflow.doc_get('people', md5('p1')::uuid);
SQL
[ "$(q -d rf_upgrade -c "SELECT max(position) FROM rillflow.read_all(0, 1000)")" = 41 ] ||
    fail "the event appended before the update has no position 41"
out=$(q -d rf_upgrade -c "SELECT rillflow.run_projection('recorder', 1)" 2>&1 || true)
echo "$out" | grep -q "ALTER EXTENSION rillflow UPDATE" || fail "run_projection before the update: $out"
# What must survive the update, the event appended meanwhile included.
state rf_upgrade >"$work/before.state"
grep -q "rillflow_default projection|outside|external|17$" "$work/before.state" ||
    fail "the external checkpoint was not recorded: $(grep outside "$work/before.state")"


# --- the update
q -d rf_upgrade -c "ALTER EXTENSION rillflow UPDATE" 2>"$work/update.err" ||
    { cat "$work/update.err"; fail "ALTER EXTENSION rillflow UPDATE failed"; }
# Handlers ran as the worker's role in 0.1.0 and run as their owner now: the
# update names each projection whose owner may not read its store.
grep -q 'projection "recorder" of store "rillflow_tenant_acme" now runs as its owner rf_upgrade_handler_owner' \
    "$work/update.err" || { cat "$work/update.err"; fail "no warning about the projection owners' access"; }
q -d rf_upgrade -c "SELECT * FROM rillflow.schema_sync()" >"$work/sync.out" || fail "schema_sync failed"
[ "$(q -d rf_upgrade -c "SELECT extversion FROM pg_extension WHERE extname = 'rillflow'")" = 0.2.0 ] ||
    fail "not at 0.2.0 after the update"
health=$(q -d rf_upgrade -c "SELECT store, status, problems FROM rillflow.schema_health() WHERE status <> 'ok'")
[ -z "$health" ] || fail "drift after the upgrade: $health"

# Everything that was there still is.
state rf_upgrade >"$work/after.state"
diff "$work/before.state" "$work/after.state" >"$work/state.diff" || { cat "$work/state.diff"; fail "data changed in the upgrade"; }

# Projections have owners (the handler's owner) and, once their owners may
# read their stores (what the warning says to do), go on from their checkpoints.
q -d rf_upgrade <<'SQL' >/dev/null
SELECT rillflow.grant_tenant('', 'rf_upgrade_handler_owner', 'read');
SELECT rillflow.grant_tenant('acme', 'rf_upgrade_handler_owner', 'read');
SELECT rillflow.resume_projection('recorder');
SET rillflow.tenant = 'acme';
SELECT rillflow.resume_projection('recorder');
SQL
[ "$(q -d rf_upgrade -c "SELECT owner FROM rillflow.list_projections() WHERE name = 'recorder'")" = rf_upgrade_handler_owner ] ||
    fail "the migrated projection's owner is not its handler's owner"
q -d rf_upgrade -c "SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-2'), 'AfterUpdate', '{}', 2)" >/dev/null
caught_up_after() {
    [ "$(q -d rf_upgrade -c "SELECT count(*) FROM applied WHERE store = 'rillflow_default'")" = 42 ]
}
if ! (wait_until "the new worker to go on with the projection" 60 caught_up_after); then
    q -d rf_upgrade -c "SELECT * FROM rillflow.projection_status('recorder')"
    tail -n 20 "$(dirname "$PGHOST")/server.log"
    fail "the projection did not go on after the upgrade"
fi
# (applied's key refuses a second application: it would be a dead letter)
[ "$(q -d rf_upgrade -c "SELECT count(*) FROM rillflow_default.projection_dlq")" = 0 ] ||
    fail "dead letters after the upgrade: $(q -d rf_upgrade -c "SELECT * FROM rillflow_default.projection_dlq")"
[ "$(q -d rf_upgrade -c "SELECT checkpoint FROM rillflow.projection_status('recorder')")" = 42 ] ||
    fail "the projection's checkpoint is not at the head"
[ "$(q -d rf_upgrade -c "SELECT checkpoint FROM rillflow.projection_status('outside')")" = 17 ] ||
    fail "the external checkpoint moved"

# --- the catalog of the upgraded database is that of a fresh install
q -d rf_fresh <<'SQL' >/dev/null
CREATE EXTENSION rillflow;
SELECT rillflow.ensure_tenant('acme'), rillflow.ensure_tenant('globex');
SELECT rillflow.grant_tenant('', 'rf_upgrade_handler_owner', 'read');
SELECT rillflow.grant_tenant('acme', 'rf_upgrade_handler_owner', 'read');
SQL
q -d rf_upgrade -f tests/shell/lib/catalog_fingerprint.sql >"$work/upgraded.catalog"
q -d rf_fresh -f tests/shell/lib/catalog_fingerprint.sql >"$work/fresh.catalog"
[ "$(wc -l <"$work/fresh.catalog")" -gt 500 ] || fail "the catalog fingerprint is too small to mean anything"
diff "$work/fresh.catalog" "$work/upgraded.catalog" >"$work/catalog.diff" ||
    { cat "$work/catalog.diff"; fail "the upgraded catalog differs from a fresh install (< fresh, > upgraded)"; }

# The tenants' stores stayed out of the extension (pg_dump dumps them as data).
members=$(q -d rf_upgrade -c "SELECT count(*) FROM pg_depend d, pg_identify_object(d.classid, d.objid, 0) i
                               WHERE d.deptype = 'e' AND i.schema LIKE 'rillflow_tenant_%'")
[ "$members" = 0 ] || fail "$members objects of tenants' stores became extension members"
echo "ok: 0.1.0 -> 0.2.0 upgrade"
