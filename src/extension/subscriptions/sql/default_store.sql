-- pg_dump registration of the default store's subscription tables (one call
-- per statement).
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.stream_categories', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.subscription_groups', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.subscription_outstanding', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.subscription_consumers', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.subscription_dlq', '');
