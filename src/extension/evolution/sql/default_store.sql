-- pg_dump registration of the default store's event evolution tables (one
-- call per statement).
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.upcasters', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.aggregates', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.aggregate_streams', '');
