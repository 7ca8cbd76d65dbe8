-- Documents: reads and writes (C, documents.c). Like the event functions, the
-- C functions set no search_path and schema-qualify every name and operator.

CREATE OR REPLACE FUNCTION rillflow._check_field_path(path text, argname text DEFAULT 'path') RETURNS text[]
    AS 'MODULE_PATHNAME', 'rillflow_check_field_path'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Set dotted paths of a document (an object of path -> value), parents before
-- children (jsonb keeps an object's keys shortest first), creating missing
-- parent objects. Paths are checked by the caller.
CREATE OR REPLACE FUNCTION rillflow._doc_patch(data jsonb, fields jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f record;
    parts text[];
    node jsonb;
BEGIN
    FOR f IN SELECT key, value FROM jsonb_each(fields) LOOP
        parts := string_to_array(f.key, '.');
        FOR i IN 1 .. cardinality(parts) - 1 LOOP
            node := data #> parts[1:i];
            IF node IS NULL OR jsonb_typeof(node) = 'null' THEN
                data := jsonb_set(data, parts[1:i], '{}', true);
                IF data #> parts[1:i] IS NULL THEN
                    RAISE EXCEPTION 'cannot set path "%": "%" is past the end of an array',
                        f.key, array_to_string(parts[1:i], '.') USING ERRCODE = '22023';
                END IF;
            ELSIF jsonb_typeof(node) NOT IN ('object', 'array') THEN
                RAISE EXCEPTION 'cannot set path "%": "%" holds a %, not an object',
                    f.key, array_to_string(parts[1:i], '.'), jsonb_typeof(node)
                    USING ERRCODE = '22023',
                          HINT = 'Set the parent to an object first, or patch the parent itself.';
            ELSIF jsonb_typeof(node) = 'array' AND parts[i + 1] !~ '^[0-9]+$' THEN
                RAISE EXCEPTION 'cannot set path "%": "%" holds an array, and "%" is not an index',
                    f.key, array_to_string(parts[1:i], '.'), parts[i + 1] USING ERRCODE = '22023';
            END IF;
        END LOOP;
        data := jsonb_set(data, parts, f.value, true);
    END LOOP;
    RETURN data;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.doc_get(collection text, id uuid)
    RETURNS TABLE (data jsonb, version bigint)
    AS 'MODULE_PATHNAME', 'rillflow_doc_get'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rillflow.doc_get(text, uuid)
    IS 'A document and its version; no row when it does not exist or is soft-deleted';

CREATE OR REPLACE FUNCTION rillflow.doc_get_many(collection text, ids uuid[])
    RETURNS TABLE (id uuid, data jsonb, version bigint)
    AS 'MODULE_PATHNAME', 'rillflow_doc_get_many'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rillflow.doc_get_many(text, uuid[])
    IS 'The live documents among ids, each once, in the order of the ids';

CREATE OR REPLACE FUNCTION rillflow.doc_put(collection text, id uuid, data jsonb, expected_version bigint DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_put'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_put(text, uuid, jsonb, bigint)
    IS 'Insert or replace a document; returns its new version';

CREATE OR REPLACE FUNCTION rillflow.doc_update(collection text, id uuid, data jsonb, expected_version bigint)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_update'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_update(text, uuid, jsonb, bigint)
    IS 'Replace a live document at the expected version; returns its new version';

CREATE OR REPLACE FUNCTION rillflow.doc_patch(collection text, id uuid, path text, value jsonb,
                                   expected_version bigint DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_patch'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_patch(text, uuid, text, jsonb, bigint)
    IS 'Set one dotted path of a live document; returns its new version';

CREATE OR REPLACE FUNCTION rillflow.doc_patch_fields(collection text, id uuid, fields jsonb,
                                          expected_version bigint DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_patch_fields'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_patch_fields(text, uuid, jsonb, bigint)
    IS 'Set many dotted paths (an object of path -> value) of a live document; returns its new version';

CREATE OR REPLACE FUNCTION rillflow.doc_soft_delete(collection text, id uuid, expected_version bigint DEFAULT NULL)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_doc_soft_delete'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_soft_delete(text, uuid, bigint)
    IS 'Mark a live document deleted; false when there was none';

CREATE OR REPLACE FUNCTION rillflow.doc_restore(collection text, id uuid, expected_version bigint DEFAULT NULL)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_doc_restore'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_restore(text, uuid, bigint)
    IS 'Bring back a soft-deleted document; false when there was none';

CREATE OR REPLACE FUNCTION rillflow.doc_delete(collection text, id uuid, expected_version bigint DEFAULT NULL)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_doc_delete'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_delete(text, uuid, bigint)
    IS 'Remove a document for good (live or soft-deleted); false when there was none';
