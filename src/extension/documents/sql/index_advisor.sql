-- The index advisor: what to build for queries on one path of a collection,
-- from the collection's size, its indexes and duplicated fields, and the JSON
-- types the path holds in a sample of the documents.

CREATE OR REPLACE FUNCTION rillflow.index_advisor(collection text, field text, gin boolean DEFAULT false)
    RETURNS TABLE (kind text, ddl text, reason text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(collection);
    rel regclass;
    parts text[];
    n bigint;
    size_note text;
    dup record;
    types jsonb;
    sampled bigint;
    json_type text;
    all_integral boolean;
    all_uuid boolean;
    all_timestamp boolean;
    col_type text;
    col_name text;
    idx_name text;
    expr text;
    chain text := 'data';
BEGIN
    IF gin IS NULL THEN
        RAISE EXCEPTION 'gin must not be null' USING ERRCODE = '22004';
    END IF;
    parts := rillflow._check_field_path(field, 'field');   -- 22004, 22023
    rel := rillflow._collection_relid(collection, false);   -- 22004, 22023, RF004

    SELECT c.reltuples::bigint INTO n FROM pg_class c WHERE c.oid = rel;
    IF n < 0 THEN   -- never analyzed
        EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;   -- rel: maybe the read-only stand-in
    END IF;
    size_note := CASE WHEN n < 10000
        THEN format('The collection holds about %s documents: a sequential scan is cheap at this size, the index pays off as it grows.', n)
        ELSE format('The collection holds about %s documents.', n) END;

    -- A duplicated field already covers the path.
    EXECUTE format('SELECT * FROM %I.duplicated_fields WHERE collection = $1 AND path = $2', store)
        INTO dup USING collection, field;
    IF dup.column_name IS NOT NULL THEN
        IF dup.indexed THEN
            RETURN QUERY SELECT 'covered'::text, NULL::text,
                format('"%s" is duplicated into the indexed %s column "%s"; doc_query uses it for equality, range and sort. %s',
                       field, dup.type, dup.column_name, size_note);
        ELSE
            RETURN QUERY SELECT 'btree'::text,
                format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (%I)', left(tbl || '_' || dup.column_name, 59) || '_idx',
                       store, tbl, dup.column_name),
                format('"%s" is duplicated into column "%s", which has no index. %s', field, dup.column_name, size_note);
        END IF;
        RETURN;
    END IF;

    -- The JSON types the path holds, in a sample.
    EXECUTE format($q$
        SELECT coalesce(jsonb_object_agg(t, c), '{}'), coalesce(sum(c), 0)::bigint,
               bool_and(integral), bool_and(is_uuid), bool_and(is_ts)
          FROM (SELECT jsonb_typeof(v) AS t, count(*) AS c,
                       bool_and(jsonb_typeof(v) <> 'number' OR v::text !~ '[.eE]') AS integral,
                       bool_and(jsonb_typeof(v) <> 'string' OR (v #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') AS is_uuid,
                       bool_and(jsonb_typeof(v) <> 'string' OR (v #>> '{}') ~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$') AS is_ts
                  FROM (SELECT data #> $1 AS v FROM %s LIMIT 1000) s
                 WHERE v IS NOT NULL AND jsonb_typeof(v) <> 'null'
                 GROUP BY 1) g$q$, rel)
        INTO types, sampled, all_integral, all_uuid, all_timestamp USING parts;
    IF (SELECT count(*) FROM jsonb_object_keys(types)) = 1 THEN
        json_type := (SELECT k FROM jsonb_object_keys(types) k);
    END IF;
    -- The expressions doc_query emits (docs/document-queries.md): data->'a'->>'b' for
    -- strings, data->'a'->'b' (jsonb, which orders numbers numerically) for numbers and
    -- booleans; an index on anything else would never be used by doc_query.
    FOR i IN 1 .. array_length(parts, 1) - 1 LOOP
        chain := chain || '->' || CASE WHEN parts[i] ~ '^[0-9]+$' THEN parts[i] ELSE quote_literal(parts[i]) END;
    END LOOP;
    expr := format('(%s->>%s)', chain, CASE WHEN parts[array_length(parts, 1)] ~ '^[0-9]+$'
                                          THEN parts[array_length(parts, 1)]
                                          ELSE quote_literal(parts[array_length(parts, 1)]) END);

    IF json_type IN ('string', 'number', 'boolean') THEN
        col_type := CASE json_type
            WHEN 'number' THEN CASE WHEN all_integral THEN 'bigint' ELSE 'numeric' END
            WHEN 'boolean' THEN 'boolean'
            ELSE CASE WHEN all_uuid THEN 'uuid' WHEN all_timestamp THEN 'timestamptz' ELSE 'text' END END;
        col_name := left(lower(replace(field, '.', '_')), 63);
        IF col_name = ANY (rillflow._collection_base_columns())
           OR EXISTS (SELECT FROM pg_attribute WHERE attrelid = rel AND attname = col_name AND NOT attisdropped) THEN
            col_name := left(col_name, 59) || '_dup';
        END IF;
        RETURN QUERY SELECT 'duplicated_field'::text,
            format('SELECT rillflow.add_duplicated_field(%L, %L, %L, %L)', collection, field, col_name, col_type),
            format('In %s sampled documents "%s" holds only %ss: a %s column with a btree index serves equality, range and sort, and doc_query uses it without changes to the queries. %s',
                   sampled, field, json_type, col_type, size_note);
        idx_name := left(tbl || '_' || replace(field, '.', '_'), 54) || '_expr_idx';
        IF json_type IN ('number', 'boolean') THEN
            expr := format('(%s->%s)', chain, CASE WHEN parts[array_length(parts, 1)] ~ '^[0-9]+$'
                                              THEN parts[array_length(parts, 1)]
                                              ELSE quote_literal(parts[array_length(parts, 1)]) END);
        END IF;
        RETURN QUERY SELECT 'expression_btree'::text,
            format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (%s)', idx_name, store, tbl, expr),
            format('An expression index on %s serves equality, range and sort on "%s" without a new column; queries must use that same expression. %s',
                   expr, field, size_note);
    ELSIF sampled = 0 THEN
        RETURN QUERY SELECT 'none'::text, NULL::text,
            format('No sampled document has a value at "%s"; ask again once documents hold it. %s', field, size_note);
    ELSE
        gin := true;
    END IF;

    IF gin THEN
        idx_name := left(tbl || '_data_path_ops', 59) || '_idx';
        IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                    JOIN pg_opclass o ON o.oid = i.indclass[0]
                    WHERE i.indrelid = rel AND a.amname = 'gin' AND o.opcname = 'jsonb_path_ops'
                      AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = rel AND attname = 'data')) THEN
            RETURN QUERY SELECT 'covered'::text, NULL::text,
                format('A GIN jsonb_path_ops index on data already serves containment (contains) on any path. %s', size_note);
        ELSE
            RETURN QUERY SELECT 'gin'::text,
                format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin (data jsonb_path_ops)', idx_name, store, tbl),
                concat_ws(' ',
                    CASE WHEN sampled > 0 AND json_type IS DISTINCT FROM 'string' AND json_type IS DISTINCT FROM 'number'
                              AND json_type IS DISTINCT FROM 'boolean'
                         THEN format('"%s" holds mixed or nested JSON types (%s) in %s sampled documents, which no btree serves.',
                                     field, types, sampled) END,
                    format('A GIN jsonb_path_ops index serves containment (contains, {"%s": value}) on any path but not range or sort.', field),
                    size_note);
        END IF;
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.index_advisor(text, text, boolean)
    IS 'The index or duplicated field to build for queries on one path of a collection, and why';
