-- Aggregates in SQL: a fold over a stream's events, loaded from the newest
-- snapshot plus the tail, committed with a validator, snapshotted by the
-- snapshotter (see docs/aggregates.md). Loading and committing are C
-- (evolution/aggregates.c): the fold runs as the aggregate's owner,
-- security-restricted, once per event.

-- A fold takes (state jsonb, e rillflow.event_envelope) and returns jsonb
-- (22004, 42883, 22023).
CREATE OR REPLACE FUNCTION rillflow._check_fold_function(fn regprocedure) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    p record;
BEGIN
    IF fn IS NULL THEN
        RAISE EXCEPTION 'fold must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT prokind, pronargs, proargtypes, proretset, prorettype INTO p FROM pg_proc WHERE oid = fn;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fold function with OID % does not exist', fn::oid USING ERRCODE = '42883';
    END IF;
    IF p.prokind <> 'f' OR p.pronargs <> 2 OR p.proretset OR p.prorettype <> 'jsonb'::regtype
       OR p.proargtypes[0] <> 'jsonb'::regtype OR p.proargtypes[1] <> 'rillflow.event_envelope'::regtype THEN
        RAISE EXCEPTION 'fold % must be a function taking (jsonb, rillflow.event_envelope) and returning jsonb', fn
            USING ERRCODE = '22023',
                  DETAIL = format('It takes (%s) and returns %s%s.', pg_get_function_identity_arguments(fn),
                                  CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END, p.prorettype::regtype),
                  HINT = 'Declare it as CREATE FUNCTION f(state jsonb, e rillflow.event_envelope) RETURNS jsonb ...';
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.create_aggregate(
    name text,
    fold regprocedure,
    initial jsonb DEFAULT '{}',
    event_types text[] DEFAULT NULL,
    state_version integer DEFAULT 1
) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    r record;
    inserted integer;
BEGIN
    PERFORM rillflow._check_aggregate_name(name);
    PERFORM rillflow._check_fold_function(fold);
    IF initial IS NULL THEN
        RAISE EXCEPTION 'initial must not be null' USING ERRCODE = '22004', HINT = 'Pass ''{}'' for an empty state.';
    END IF;
    PERFORM rillflow._check_event_types(event_types);
    PERFORM rillflow._check_event_version('state_version', state_version);
    IF NOT has_function_privilege(fold, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for fold function %', fold
            USING ERRCODE = '42501',
                  DETAIL = 'A fold runs as the role that registers the aggregate, which must have EXECUTE on it.';
    END IF;
    EXECUTE format($q$
        INSERT INTO %I.aggregates (name, fold, initial, event_types, state_version, owner)
        VALUES ($1, $2, $3, $4, $5, current_user::regrole) ON CONFLICT (name) DO NOTHING$q$, store)
        USING name, rillflow._function_ref_text(fold, 'fold'), initial, event_types, state_version;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 1 THEN
        RETURN true;
    END IF;
    EXECUTE format('SELECT fold, initial, event_types, state_version FROM %I.aggregates WHERE name = $1', store)
        INTO r USING name;
    IF (r.fold, r.initial, r.event_types, r.state_version)
       IS DISTINCT FROM (rillflow._function_ref_text(fold, 'fold'), initial, event_types, state_version) THEN
        RAISE EXCEPTION 'aggregate "%" already exists with another definition', name
            USING ERRCODE = '42710',
                  DETAIL = format('Its fold is %s, initial %s, event_types %s, state_version %s.',
                                  r.fold, r.initial, coalesce(r.event_types::text, 'NULL'), r.state_version),
                  HINT = 'Drop it with rillflow.drop_aggregate() first; give a changed fold a new state_version.';
    END IF;
    RETURN false;
END
$fn$;
COMMENT ON FUNCTION rillflow.create_aggregate(text, regprocedure, jsonb, text[], integer)
    IS 'Register an aggregate folded in SQL; true when created now, false when it exists as given';

CREATE OR REPLACE FUNCTION rillflow.drop_aggregate(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    deleted integer;
BEGIN
    PERFORM rillflow._check_aggregate_name(name);
    EXECUTE format('DELETE FROM %I.aggregates WHERE name = $1', rillflow.current_store()) USING name;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    IF deleted = 0 THEN
        RAISE EXCEPTION 'aggregate "%" does not exist', name USING ERRCODE = 'RF004';
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_aggregate(text) IS 'Drop an aggregate''s definition (its snapshots stay)';

CREATE OR REPLACE FUNCTION rillflow.list_aggregates()
    RETURNS TABLE (name text, fold regprocedure, initial jsonb, event_types text[], state_version integer,
                   owner regrole, streams bigint, snapshots bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT a.name, rillflow._function_ref(a.fold), a.initial, a.event_types, a.state_version, a.owner,
               (SELECT count(*) FROM %1$I.aggregate_streams m WHERE m.aggregate = a.name),
               (SELECT count(*) FROM %1$I.snapshots s WHERE s.aggregate = a.name AND s.state_version = a.state_version)
          FROM %1$I.aggregates a ORDER BY a.name$q$, rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.list_aggregates() IS 'The store''s aggregates, with their streams and snapshots';

CREATE OR REPLACE FUNCTION rillflow.aggregate_load(name text, stream_id uuid)
    RETURNS TABLE (state jsonb, version bigint)
    AS 'MODULE_PATHNAME', 'rillflow_aggregate_load'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rillflow.aggregate_load(text, uuid)
    IS 'An aggregate''s state: its newest snapshot plus the events after it, folded (upcast first)';

CREATE OR REPLACE FUNCTION rillflow.aggregate_commit(
    name text,
    stream_id uuid,
    events jsonb,
    expected_version bigint DEFAULT NULL,
    validator regprocedure DEFAULT NULL
) RETURNS TABLE (state jsonb, version bigint)
    AS 'MODULE_PATHNAME', 'rillflow_aggregate_commit'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rillflow.aggregate_commit(text, uuid, jsonb, bigint, regprocedure)
    IS 'Fold new events onto an aggregate, let the validator reject the new state, then append them';

-- The snapshotter: snapshots up to `batch` streams (of one aggregate, or of
-- every aggregate in name order) with at least `threshold` events since their
-- last snapshot; returns how many. Streams another snapshotter holds are
-- skipped (snapshot_candidates).
CREATE OR REPLACE FUNCTION rillflow.run_snapshotter(
    threshold integer DEFAULT 200,
    batch integer DEFAULT 200,
    aggregate text DEFAULT NULL
) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    a record;
    c record;
    l record;
    done integer := 0;
BEGIN
    IF aggregate IS NOT NULL THEN
        PERFORM rillflow._check_aggregate_name(aggregate);
        EXECUTE format('SELECT FROM %I.aggregates WHERE name = $1', store) USING aggregate;
        GET DIAGNOSTICS done = ROW_COUNT;
        IF done = 0 THEN
            RAISE EXCEPTION 'aggregate "%" does not exist', aggregate USING ERRCODE = 'RF004';
        END IF;
        done := 0;
    END IF;
    IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
        RAISE EXCEPTION 'batch must be from 1 to 100000, not %', coalesce(batch::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    FOR a IN EXECUTE format('SELECT name, state_version FROM %I.aggregates WHERE $1::text IS NULL OR name = $1 ORDER BY name',
                            store) USING aggregate LOOP
        EXIT WHEN done >= batch;
        FOR c IN SELECT * FROM rillflow.snapshot_candidates(a.name, threshold, batch - done, a.state_version) LOOP
            SELECT * INTO l FROM rillflow.aggregate_load(a.name, c.stream_id);
            PERFORM rillflow.snapshot_save(c.stream_id, a.name, l.version, l.state, a.state_version);
            done := done + 1;
        END LOOP;
    END LOOP;
    RETURN done;
END
$fn$;
COMMENT ON FUNCTION rillflow.run_snapshotter(integer, integer, text)
    IS 'Snapshot the aggregates'' streams that are at least threshold events past their last snapshot';
