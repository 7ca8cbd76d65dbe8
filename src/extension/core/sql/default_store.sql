-- The shapes schema_health compares stores with, then the default store,
-- created with the extension; its tables are extension members, registered
-- for pg_dump.

SELECT rillflow._store_record_shapes();
SELECT rillflow._create_store('rillflow_default', NULL);
SELECT rillflow._register_default_store_dump();
