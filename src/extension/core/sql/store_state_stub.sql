-- STUB, replaced by the stores work of issue 11 (the rillflow.stores catalog
-- and _store_migrate), which defines these two functions for real; this part
-- is dropped from SQL_PARTS when that work is merged. The tenant lifecycle
-- (tenant_lifecycle.sql: tenant_status, list_tenants, the archive manifest)
-- calls them and nothing else of that work.

-- The schema version of a store's tables (the last step applied to it).
CREATE OR REPLACE FUNCTION rillflow._store_schema_version(store name) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT 1
$fn$;

-- Whether a store's catalog differs from the shape of its version.
CREATE OR REPLACE FUNCTION rillflow._store_has_drift(store name) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT false
$fn$;
