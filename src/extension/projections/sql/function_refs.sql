-- Function references kept as text (projections/function_refs.c): a
-- projection's handler and reset function are stored as their signature, so
-- pg_upgrade, which refuses regprocedure columns in user tables, can upgrade
-- a database with projections (docs/operations.md). The API keeps its
-- regprocedure arguments and result columns. Store step 0008 made the
-- columns text.

-- The function a stored signature names; NULL when none exists (dropped,
-- renamed). Cached per backend, emptied when pg_proc, pg_namespace or pg_type
-- change. search_path pinned: the one the signature was written under.
CREATE OR REPLACE FUNCTION rillflow._function_ref(signature text) RETURNS regprocedure
    AS 'MODULE_PATHNAME', 'rillflow_function_ref'
    LANGUAGE C STABLE STRICT
    SET search_path = pg_catalog, pg_temp;

-- The signature to store for fn: regprocedure's output under the pinned
-- search_path (schema-qualified but for pg_catalog's functions), checked to
-- name fn again. what names the argument in the error.
CREATE OR REPLACE FUNCTION rillflow._function_ref_text(fn regprocedure, what text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    signature text := fn::text;
BEGIN
    IF fn IS NULL THEN
        RETURN NULL;
    END IF;
    IF to_regprocedure(signature) IS DISTINCT FROM fn THEN
        RAISE EXCEPTION '% % cannot be named by its signature', what, signature
            USING ERRCODE = '22023',
                  DETAIL = format('Its signature %s names another function, or none, under search_path pg_catalog, pg_temp.',
                                  signature),
                  HINT = 'Use a function in a regular schema.';
    END IF;
    RETURN signature;
END
$fn$;
