-- pg_dump registration of the default store's projections and daemon cluster
-- tables (one call per statement).
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.projections', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.projection_dlq', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.projection_dlq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.daemon_clusters', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.daemon_nodes', '');
