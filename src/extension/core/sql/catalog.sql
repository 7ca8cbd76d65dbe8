-- The catalog that spans stores, and the types of the API.
--
-- Every function in this extension pins search_path to pg_catalog, pg_temp
-- (or, for the C functions on the append path, schema-qualifies every name and
-- operator it uses), so objects planted in other schemas are never called.

-- CREATE EXTENSION installs into a schema rillflow that exists already
-- rather than failing. The owner of a schema may drop and replace anything in
-- it, so a schema another role planted (or one holding anything yet) would
-- let that role swap the API the extension's users call: refuse it. This
-- runs first, before anything is created in the schema.
DO $guard$
DECLARE
    nsp oid := pg_catalog.to_regnamespace('rillflow');
    owner name;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(n.nspowner) INTO owner FROM pg_catalog.pg_namespace n
     WHERE n.oid OPERATOR(pg_catalog.=) nsp;
    IF owner OPERATOR(pg_catalog.<>) CURRENT_USER THEN
        RAISE EXCEPTION 'schema "rillflow" already exists and is owned by role "%"', owner
            USING ERRCODE = '42P06',
                  DETAIL = 'The owner of a schema can drop and replace the functions in it; '
                           'rillflow installs only into a schema that its installer owns and that holds nothing.',
                  HINT = 'Check what the schema holds, drop it (DROP SCHEMA rillflow CASCADE), then create the extension again.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_proc WHERE pronamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_type WHERE typnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_operator WHERE oprnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_collation WHERE collnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_conversion WHERE connamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_opfamily WHERE opfnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_ts_config WHERE cfgnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_ts_dict WHERE dictnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_statistic_ext WHERE stxnamespace OPERATOR(pg_catalog.=) nsp) THEN
        RAISE EXCEPTION 'schema "rillflow" already exists and holds objects'
            USING ERRCODE = '42P06',
                  DETAIL = 'rillflow installs only into a schema that holds nothing, so no object in it is someone else''s.',
                  HINT = 'Check what the schema holds, drop it (DROP SCHEMA rillflow CASCADE), then create the extension again.';
    END IF;
END
$guard$;

COMMENT ON SCHEMA rillflow IS 'rillflow: event store and document store API';

CREATE TYPE rillflow.event_envelope AS (
    position        bigint,
    stream_id       uuid,
    version         bigint,
    type            text,
    event_version   integer,
    body            jsonb,
    headers         jsonb,
    event_id        uuid,
    causation_id    uuid,
    correlation_id  uuid,
    created_at      timestamptz
);
COMMENT ON TYPE rillflow.event_envelope IS 'An event as read back: the body and its envelope';

-- The schema of a tenant's store, after checking the name (22004, 22023):
-- the one place the tenant name rule and the schema naming live for SQL.
CREATE FUNCTION rillflow._tenant_schema(name text) RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_tenant_schema'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- One row per tenant store; the default store is not listed. schema_name
-- always follows from the name, so no row can point a tenant at a schema that
-- is not its store (rillflow.tenant is resolved through this table).
CREATE TABLE rillflow.tenants (
    name        text PRIMARY KEY,
    schema_name name NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_schema_name_rule
        CHECK (schema_name OPERATOR(pg_catalog.=) rillflow._tenant_schema(name))
);
COMMENT ON TABLE rillflow.tenants IS 'Tenants and the schemas that hold their stores';
SELECT pg_catalog.pg_extension_config_dump('rillflow.tenants', '');

CREATE FUNCTION rillflow.current_store() RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_current_store'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rillflow.current_store() IS 'The schema of the store that rillflow.tenant selects';

