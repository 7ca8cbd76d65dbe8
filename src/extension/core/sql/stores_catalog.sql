-- The stores and the steps that build them (docs/upgrades.md).

-- Every store, the default store included (tenant NULL): which version of the
-- store steps it has. Written only by rillflow._store_migrate and the
-- functions that create and drop stores.
CREATE TABLE rillflow.stores (
    schema_name     name PRIMARY KEY,
    tenant          text UNIQUE,
    schema_version  integer NOT NULL DEFAULT 0 CHECK (schema_version >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    migrated_at     timestamptz,
    CONSTRAINT stores_schema_name_rule CHECK (
        schema_name OPERATOR(pg_catalog.=) CASE WHEN tenant IS NULL THEN 'rillflow_default'::name
                                                ELSE rillflow._tenant_schema(tenant) END)
);
COMMENT ON TABLE rillflow.stores IS 'Every store and the version of the store steps it has';
-- The default store's row is made by CREATE EXTENSION; the tenants' rows are
-- data, dumped with the tenants' schemas.
SELECT pg_catalog.pg_extension_config_dump('rillflow.stores', 'WHERE tenant IS NOT NULL');

-- The store steps this version knows (src/extension/store/): version N turns a
-- store of version N - 1 into one of version N. '@store@' in ddl stands for the
-- quoted schema name. Filled by the install and upgrade scripts, never dumped.
CREATE TABLE rillflow.store_steps (
    version     integer PRIMARY KEY CHECK (version > 0),
    name        text NOT NULL UNIQUE,
    ddl         text NOT NULL
);
COMMENT ON TABLE rillflow.store_steps IS 'The ordered DDL steps that build a store';

-- The shape a store of each version has (rillflow._store_shape of a store
-- built by the steps up to that version, with the schema written @store@):
-- what schema_health compares a store with. Computed by the install and
-- upgrade scripts (rillflow._store_record_shapes).
CREATE TABLE rillflow.store_shapes (
    version     integer NOT NULL,
    kind        text NOT NULL,
    object      text NOT NULL,
    definition  text NOT NULL,
    PRIMARY KEY (version, kind, object)
);
COMMENT ON TABLE rillflow.store_shapes IS 'The catalog of a store of each version, as schema_health compares it';
