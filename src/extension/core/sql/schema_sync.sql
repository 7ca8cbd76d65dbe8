-- schema_plan, schema_sync and schema_health: what a store lacks or has
-- changed, compared with the store steps and the shape of its version
-- (docs/upgrades.md).

-- The stores a call names: NULL every store, '' the default store, else the
-- tenant's (22023 for a malformed name, RF005 for an unknown tenant).
CREATE OR REPLACE FUNCTION rillflow._stores_for(tenant text)
    RETURNS SETOF rillflow.stores
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF tenant IS NULL THEN
        RETURN QUERY SELECT * FROM rillflow.stores s ORDER BY s.tenant NULLS FIRST;
    ELSIF tenant = '' THEN
        RETURN QUERY SELECT * FROM rillflow.stores s WHERE s.tenant IS NULL;
    ELSE
        PERFORM rillflow._tenant_schema(tenant);       -- 22023 for a malformed name
        RETURN QUERY SELECT * FROM rillflow.stores s WHERE s.tenant = _stores_for.tenant;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'tenant "%" does not exist', tenant
                USING ERRCODE = 'RF005', HINT = 'rillflow.list_tenants() lists the tenants.';
        END IF;
    END IF;
END
$fn$;

-- The version of the store steps a store has (NULL for a schema that is not
-- a store).
CREATE OR REPLACE FUNCTION rillflow._store_schema_version(store name) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN (SELECT s.schema_version FROM rillflow.stores s WHERE s.schema_name = store);

-- Whether a store differs from the shape of its version (or its schema has gone).
CREATE OR REPLACE FUNCTION rillflow._store_has_drift(store name) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN to_regnamespace(quote_ident(store)) IS NULL
    OR EXISTS (SELECT FROM rillflow._store_problems(store));

-- What schema_sync would run on a store, in order: first the repairs that
-- bring it back to the shape of its version (ddl NULL where only a person
-- can decide), then the steps it lacks.
CREATE OR REPLACE FUNCTION rillflow._store_plan(store name)
    RETURNS TABLE (step text, ddl text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v integer := rillflow._store_schema_version(store);
BEGIN
    IF to_regnamespace(quote_ident(store)) IS NULL THEN
        RETURN QUERY SELECT 'manual: the schema has gone', NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT format('%s: %s %s %s', CASE WHEN x.ddl IS NULL THEN 'manual' ELSE 'repair' END,
                  x.problem, x.kind, coalesce(nullif(x.object, ''), 'schema')), x.ddl
      FROM (SELECT p.*, rillflow._store_repair(store, p.kind, p.object, p.problem, p.expected, p.actual) AS ddl
              FROM rillflow._store_problems(store) p
             WHERE NOT rillflow._store_index_made_by_constraint(p.kind, p.problem, p.expected)) x;
    RETURN QUERY
    SELECT format('step %s: %s', s.version, s.name), replace(s.ddl, '@store@', quote_ident(store))
      FROM rillflow.store_steps s WHERE s.version > v ORDER BY s.version;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.schema_plan(tenant text DEFAULT NULL)
    RETURNS TABLE (store name, tenant_name text, step text, ddl text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT s.schema_name, s.tenant, p.step, p.ddl
      FROM rillflow._stores_for(schema_plan.tenant) s
     CROSS JOIN LATERAL rillflow._store_plan(s.schema_name) p;
END;
COMMENT ON FUNCTION rillflow.schema_plan(text)
    IS 'What schema_sync would run on each store (NULL: every store, '''': the default store), without running it';

-- Sync one store: repairs, then steps, as its owner, holding its row in
-- rillflow.stores (callers racing queue; the later ones find nothing to do).
CREATE OR REPLACE FUNCTION rillflow._store_sync(store name,
                                                OUT steps_applied integer, OUT repaired integer,
                                                OUT unrepaired jsonb)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    owner regrole;
    caller text := current_setting('role');
    switched boolean;
    r record;
BEGIN
    owner := rillflow._store_owner(store)::regrole;      -- 22023, 55000
    IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied to sync store "%"', store
            USING ERRCODE = '42501',
                  DETAIL = format('Only the store''s owner (role %s), its members and superusers may.', owner);
    END IF;
    PERFORM FROM rillflow.stores s WHERE s.schema_name = store FOR UPDATE;
    repaired := 0;
    unrepaired := '[]';
    -- as the owner (a security-definer caller, ensure_tenant, is it already)
    switched := current_user::regrole <> owner;
    IF switched THEN
        PERFORM set_config('role', owner::text, true);
    END IF;
    FOR r IN SELECT * FROM rillflow._store_plan(store) p WHERE p.step LIKE 'repair: %' OR p.step LIKE 'manual: %' LOOP
        IF r.ddl IS NULL THEN
            unrepaired := unrepaired || to_jsonb(substr(r.step, strpos(r.step, ': ') + 2));
        ELSE
            EXECUTE r.ddl;
            repaired := repaired + 1;
        END IF;
    END LOOP;
    IF switched THEN
        PERFORM set_config('role', caller, true);
    END IF;
    steps_applied := rillflow._store_migrate(store);
END
$fn$;

-- Each store in a subtransaction of its own when syncing every store, so one
-- store that fails (reported in its row) leaves the others synced; a single
-- store's failure is the call's error. The CLI's schema-sync commits each
-- store on its own.
CREATE OR REPLACE FUNCTION rillflow.schema_sync(tenant text DEFAULT NULL)
    RETURNS TABLE (store name, tenant_name text, schema_version integer, steps_applied integer, repaired integer,
                   unrepaired jsonb)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
    r record;
    msg text;
    code text;
BEGIN
    FOR s IN SELECT * FROM rillflow._stores_for(schema_sync.tenant) LOOP
        store := s.schema_name;
        tenant_name := s.tenant;
        IF schema_sync.tenant IS NOT NULL THEN
            r := rillflow._store_sync(s.schema_name);
        ELSE
            BEGIN
                r := rillflow._store_sync(s.schema_name);
            EXCEPTION WHEN OTHERS THEN
                r := NULL;
                GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, code = RETURNED_SQLSTATE;
                unrepaired := jsonb_build_array(format('failed: %s (SQLSTATE %s)', msg, code));
            END;
        END IF;
        IF r IS NOT NULL THEN
            steps_applied := r.steps_applied;
            repaired := r.repaired;
            unrepaired := r.unrepaired;
        ELSE
            steps_applied := 0;
            repaired := 0;
        END IF;
        schema_version := rillflow._store_schema_version(s.schema_name);
        RAISE NOTICE 'store %: version %, % steps applied, % repaired, % left to a person', s.schema_name,
            schema_version, steps_applied, repaired, jsonb_array_length(unrepaired);
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION rillflow.schema_sync(text)
    IS 'Repair drift and apply the store steps each store lacks (NULL: every store, '''': the default store)';

CREATE OR REPLACE FUNCTION rillflow.schema_health(tenant text DEFAULT NULL)
    RETURNS TABLE (store name, tenant_name text, schema_version integer, status text, problems jsonb)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
    newest integer := rillflow._store_steps_version();
BEGIN
    FOR s IN SELECT * FROM rillflow._stores_for(schema_health.tenant) LOOP
        store := s.schema_name;
        tenant_name := s.tenant;
        schema_version := s.schema_version;
        IF to_regnamespace(quote_ident(s.schema_name)) IS NULL THEN
            status := 'missing';
            problems := jsonb_build_array(jsonb_build_object('kind', 'schema', 'object', s.schema_name,
                                                             'problem', 'missing', 'repairable', false));
        ELSE
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'kind', p.kind, 'object', p.object, 'problem', p.problem,
                       'expected', p.expected::jsonb, 'actual', p.actual::jsonb,
                       'repairable', rillflow._store_repair(s.schema_name, p.kind, p.object, p.problem,
                                                            p.expected, p.actual) IS NOT NULL
                                     OR rillflow._store_index_made_by_constraint(p.kind, p.problem, p.expected))
                       ORDER BY p.kind, p.object), '[]')
              INTO problems
              FROM rillflow._store_problems(s.schema_name) p;
            status := CASE WHEN jsonb_array_length(problems) > 0 THEN 'drift'
                           WHEN s.schema_version < newest THEN 'behind'
                           ELSE 'ok' END;
            IF s.schema_version < newest THEN
                problems := problems || jsonb_build_object('kind', 'steps', 'object', '', 'problem', 'behind',
                                                           'expected', newest, 'actual', s.schema_version,
                                                           'repairable', true);
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION rillflow.schema_health(text)
    IS 'Compare each store with the shape of its version: ok, behind, drift (each difference named) or missing';
