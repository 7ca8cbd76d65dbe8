-- Document queries (docs-query): doc_query, doc_count, compiled queries.
-- The C functions set no search_path: they schema-qualify every name,
-- operator and type in the statements they build (query_sql.c).

CREATE FUNCTION rillflow.doc_query(collection text, query jsonb DEFAULT '{}')
RETURNS SETOF jsonb
    AS 'MODULE_PATHNAME', 'rillflow_doc_query'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_query(text, jsonb)
    IS 'The documents (or the selected fields) a query spec matches; see docs/document-queries.md';

CREATE FUNCTION rillflow.doc_count(collection text, filter jsonb DEFAULT NULL,
                                   include_deleted boolean DEFAULT false)
RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_count'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_count(text, jsonb, boolean)
    IS 'How many documents a filter matches (soft-deleted ones only when include_deleted)';

CREATE FUNCTION rillflow.doc_query_sql(collection text, query jsonb DEFAULT '{}')
RETURNS text
    AS 'MODULE_PATHNAME', 'rillflow_query_sql'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_query_sql(text, jsonb)
    IS 'The SQL statement doc_query runs for a spec (values are $n arguments), to choose indexes';
