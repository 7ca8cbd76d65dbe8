-- pg_dump registration of the default store's documents tables (one call per statement).
--
-- The row of docs is made by CREATE EXTENSION, so it is left out of the dump.
-- The collection tables (doc_*) are not extension members: pg_dump dumps them
-- whole, like any user table (docs/documents.md, "Backups").
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.collections',
    $$WHERE name OPERATOR(pg_catalog.<>) 'docs'$$);
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.duplicated_fields', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.compiled_queries', '');
