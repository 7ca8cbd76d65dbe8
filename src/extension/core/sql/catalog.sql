-- The catalog that spans stores, and the types of the API.
--
-- Every function in this extension pins search_path to pg_catalog, pg_temp
-- (or, for the C functions on the append path, schema-qualifies every name and
-- operator it uses), so objects planted in other schemas are never called.

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

-- One row per tenant store; the default store is not listed.
CREATE TABLE rillflow.tenants (
    name        text PRIMARY KEY,
    schema_name name NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE rillflow.tenants IS 'Tenants and the schemas that hold their stores';
SELECT pg_catalog.pg_extension_config_dump('rillflow.tenants', '');

CREATE FUNCTION rillflow.current_store() RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_current_store'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rillflow.current_store() IS 'The schema of the store that rillflow.tenant selects';

CREATE FUNCTION rillflow._tenant_schema(name text) RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_tenant_schema'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
