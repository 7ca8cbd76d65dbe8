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
