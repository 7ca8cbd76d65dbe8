-- Document queries (docs-query): doc_query, doc_count, compiled queries.
-- The C functions set no search_path: they schema-qualify every name,
-- operator and type in the statements they build (query_sql.c).

CREATE OR REPLACE FUNCTION rillflow.doc_query(collection text, query jsonb DEFAULT '{}')
RETURNS SETOF jsonb
    AS 'MODULE_PATHNAME', 'rillflow_doc_query'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_query(text, jsonb)
    IS 'The documents (or the selected fields) a query spec matches; see docs/document-queries.md';

CREATE OR REPLACE FUNCTION rillflow.doc_count(collection text, filter jsonb DEFAULT NULL,
                                   include_deleted boolean DEFAULT false)
RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_count'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_count(text, jsonb, boolean)
    IS 'How many documents a filter matches (soft-deleted ones only when include_deleted)';

CREATE OR REPLACE FUNCTION rillflow.doc_query_sql(collection text, query jsonb DEFAULT '{}')
RETURNS text
    AS 'MODULE_PATHNAME', 'rillflow_query_sql'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_query_sql(text, jsonb)
    IS 'The SQL statement doc_query runs for a spec (values are $n arguments), to choose indexes';

-- Compiled queries: named specs with "$name" parameters, planned once per backend.
CREATE OR REPLACE FUNCTION rillflow.compile_query(name text, collection text, query jsonb) RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_compile_query'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.compile_query(text, text, jsonb)
    IS 'Check a query spec with "$name" parameters and store it under a name (replacing one)';

CREATE OR REPLACE FUNCTION rillflow.run_query(name text, params jsonb DEFAULT '{}') RETURNS SETOF jsonb
    AS 'MODULE_PATHNAME', 'rillflow_run_query'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_query(text, jsonb)
    IS 'Run a compiled query with its parameters; the plan is prepared once per backend';

CREATE OR REPLACE FUNCTION rillflow._query_params(spec jsonb) RETURNS text[]
    AS 'MODULE_PATHNAME', 'rillflow_query_params'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION rillflow._compiled_query_cache(
    OUT store_oid oid, OUT name text, OUT plans integer, OUT prepared bigint, OUT reused bigint)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'rillflow_compiled_query_cache'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION rillflow._compiled_query_cache()
    IS 'This backend''s kept plans of compiled queries (for tests and diagnosis)';

CREATE OR REPLACE FUNCTION rillflow.drop_query(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    found boolean;
BEGIN
    IF drop_query.name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('DELETE FROM %I.compiled_queries WHERE name = $1 RETURNING true', store)
        INTO found USING drop_query.name;
    IF found IS NULL THEN
        RAISE EXCEPTION 'compiled query "%" does not exist', drop_query.name
            USING ERRCODE = 'RF004', HINT = 'rillflow.list_queries() lists the compiled queries.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_query(text) IS 'Drop a compiled query';

CREATE OR REPLACE FUNCTION rillflow.list_queries()
RETURNS TABLE(name text, collection text, spec jsonb, params text[], created_at timestamptz,
              updated_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT q.name, q.collection, q.spec, rillflow._query_params(q.spec), q.created_at, q.updated_at
         FROM %I.compiled_queries q ORDER BY q.name', rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.list_queries() IS 'The compiled queries of the current store';
