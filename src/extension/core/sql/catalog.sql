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
