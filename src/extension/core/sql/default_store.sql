-- The default store, created with the extension. Its tables are extension
-- members, so they are registered for pg_dump: their rows are dumped and
-- restored, and CREATE EXTENSION recreates their definitions.

SELECT rillflow._create_store('rillflow_default');

-- One call per statement: each call updates the extension's catalog row.
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.streams', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.events', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.events_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.positions', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.log_state', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.idempotency_keys', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.stream_aliases', '');
