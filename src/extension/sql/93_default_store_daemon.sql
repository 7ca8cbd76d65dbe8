-- pg_dump registration of the default store's daemon tables (one call per statement).

SELECT pg_catalog.pg_extension_config_dump('rillflow_default.daemon_clusters', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.daemon_nodes', '');
