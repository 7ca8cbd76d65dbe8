-- Tenants: one store (schema) each.

CREATE FUNCTION rillflow.ensure_tenant(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name;
BEGIN
    store := rillflow._tenant_schema(name);    -- checks the name (22004, 22023)
    -- The unique keys make concurrent callers queue: the first creates the
    -- store, the others find its row once it commits. No conflict target:
    -- schema_name is unique too and follows from the name, and callers racing
    -- may meet on either index; with only the primary key as arbiter, the
    -- loser could hit schema_name's and fail with 23505.
    INSERT INTO rillflow.tenants AS t (name, schema_name) VALUES (ensure_tenant.name, store)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM rillflow._create_store(store);
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.ensure_tenant(text) IS 'Create a tenant''s store unless it exists; true when created now';

CREATE FUNCTION rillflow.list_tenants()
    RETURNS TABLE (name text, schema_name name, created_at timestamptz)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT t.name, t.schema_name, t.created_at FROM rillflow.tenants t ORDER BY t.name;
END;
COMMENT ON FUNCTION rillflow.list_tenants() IS 'The tenants and their store schemas';

-- Drop a tenant's store: its schema with everything in it, and its row in
-- rillflow.tenants (a schema already dropped by hand is no error: the row goes
-- anyway). The tests' teardown until tenants can be dropped through the API;
-- internal, so not executable by PUBLIC. RF005 for a tenant with no row.
CREATE FUNCTION rillflow._drop_store(tenant text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name;
BEGIN
    PERFORM rillflow._tenant_schema(tenant);    -- checks the name (22004, 22023)
    DELETE FROM rillflow.tenants t WHERE t.name OPERATOR(pg_catalog.=) tenant
        RETURNING t.schema_name INTO store;
    IF store IS NULL THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant
            USING ERRCODE = 'RF005', HINT = 'rillflow.list_tenants() lists the tenants.';
    END IF;
    IF EXISTS (SELECT FROM pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) store) THEN
        EXECUTE format('DROP SCHEMA %I CASCADE', store);
    END IF;
END
$fn$;
REVOKE EXECUTE ON FUNCTION rillflow._drop_store(text) FROM PUBLIC;
