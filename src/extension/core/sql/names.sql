-- The names of stores: which schema a tenant's store is, and which store the
-- current call uses (C, core/store.c). Before the catalog, whose tables check
-- names with them.

-- The schema of a tenant's store, after checking the name (22004, 22023):
-- the one place the tenant name rule and the schema naming live for SQL.
CREATE OR REPLACE FUNCTION rillflow._tenant_schema(name text) RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_tenant_schema'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION rillflow.current_store() RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_current_store'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rillflow.current_store() IS 'The schema of the store that rillflow.tenant selects';
