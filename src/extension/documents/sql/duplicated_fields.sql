-- Duplicated fields: a path of the documents copied into a real column of the
-- collection's table (cast to a type, optionally transformed), kept in step by
-- the C trigger rillflow._doc_sync_fields, and indexed. doc_query uses the
-- column for predicates and sorts on that path.

CREATE OR REPLACE FUNCTION rillflow._doc_sync_fields() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rillflow_doc_sync_fields'
    LANGUAGE C;

-- What the trigger writes into one duplicated field's column for a document
-- (target is NULL::the column's type); add_duplicated_field backfills with it.
CREATE OR REPLACE FUNCTION rillflow._doc_field_value(id uuid, data jsonb, column_name text, path text, type text,
                                          transform text, target anyelement) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'rillflow_doc_field_value'
    LANGUAGE C STABLE PARALLEL SAFE;   -- timestamptz input reads TimeZone

-- 22023 unless type is one a duplicated field may have (22004 for NULL): the
-- list is the trigger's, in C (doc_fields.c), so the two never disagree.
CREATE OR REPLACE FUNCTION rillflow._check_duplicated_field_type(type text) RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_check_duplicated_field_type'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The transforms add_duplicated_field accepts (doc_transform.c reads these
-- and any other nesting of the same functions).
CREATE OR REPLACE FUNCTION rillflow._duplicated_field_transforms() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['lower({value})', 'upper({value})', 'btrim({value})'];

-- The columns of every collection table, which a duplicated field must not take.
CREATE OR REPLACE FUNCTION rillflow._collection_base_columns() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['id', 'data', 'version', 'created_at', 'updated_at', 'deleted_at'];

-- Make a collection's table match its duplicated_fields rows: add the column
-- of each new field (backfilled as the trigger computes it, in one UPDATE of
-- that column alone, and indexed when asked), rewrite the trigger, which
-- carries the fields as its arguments (column, path, type, transform), and
-- drop the columns of the fields the old trigger carried and the registry no
-- longer lists (no other column: one the table's owner added by hand stays).
--
-- SECURITY DEFINER: only the table's owner (the store's owner) may alter it.
-- It takes no instruction from its caller beyond a store and a collection: it
-- makes the table match the store's registry, which only the store's admins
-- can write, and it checks every value it reads from there again before
-- using it, so calling it directly grants nothing.
CREATE OR REPLACE FUNCTION rillflow._sync_collection_table(store name, collection text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    owner oid := rillflow._store_owner(store);          -- 22023 unless a store
    tbl name := rillflow._collection_table(collection);  -- checks the name (22004, 22023)
    rel regclass := to_regclass(format('%I.%I', store, tbl));
    f record;
    existing_type regtype;
    args text := '';
    listed name[] := '{}';
    previous name[];
    added jsonb := '[]';   -- the new fields, to backfill once the trigger is in place
    a jsonb;
    col name;
BEGIN
    IF rel IS NULL THEN
        RETURN;
    END IF;
    PERFORM rillflow._check_collection_table(rel);   -- 55000 unless the owner's own table
    EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE', store, tbl);
    -- the columns the trigger carries now: every fourth argument from the
    -- first (tgargs holds them NUL-terminated)
    SELECT array_agg(x.arg::name) INTO previous
      FROM pg_trigger t,
           unnest(string_to_array(encode(t.tgargs, 'escape'), '\000')) WITH ORDINALITY AS x (arg, i)
     WHERE t.tgrelid = rel AND t.tgname = 'rillflow_duplicated_fields'
       AND x.i <= t.tgnargs AND x.i % 4 = 1;
    FOR f IN EXECUTE format('SELECT column_name, path, type, transform, indexed FROM %I.duplicated_fields '
                            'WHERE collection = $1 ORDER BY column_name', store) USING collection LOOP
        -- (the column name is only ever quoted; a base column would be
        -- overwritten by the trigger)
        IF f.column_name = ANY (rillflow._collection_base_columns())
           OR NOT coalesce(f.transform = ANY (rillflow._duplicated_field_transforms()), true) THEN
            RAISE EXCEPTION 'duplicated field "%" of collection "%" in store "%" is malformed', f.column_name,
                            collection, store
                USING ERRCODE = '22023',
                      DETAIL = format('Its row in %I.duplicated_fields has type %L and transform %L.',
                                      store, f.type, f.transform),
                      HINT = 'Add duplicated fields with rillflow.add_duplicated_field.';
        END IF;
        PERFORM rillflow._check_field_path(f.path, 'path');     -- 22004, 22023
        PERFORM rillflow._check_duplicated_field_type(f.type);   -- 22004, 22023: the trigger's own list
        SELECT a.atttypid INTO existing_type FROM pg_attribute a
         WHERE a.attrelid = rel AND a.attname = f.column_name AND a.attnum > 0 AND NOT a.attisdropped;
        IF existing_type IS NULL THEN
            -- f.type passed _check_duplicated_field_type: each of those is a type's name
            EXECUTE format('ALTER TABLE %I.%I ADD COLUMN %I %s', store, tbl, f.column_name, f.type);
            added := added || jsonb_build_object('column_name', f.column_name, 'path', f.path, 'type', f.type,
                                                 'transform', coalesce(f.transform, ''), 'indexed', f.indexed);
        ELSIF existing_type <> f.type::regtype THEN
            RAISE EXCEPTION 'column "%" of %.% is of type %, not the duplicated field''s type %', f.column_name,
                            quote_ident(store), quote_ident(tbl), existing_type, f.type
                USING ERRCODE = '55000',
                      HINT = 'Drop the duplicated field and add it again.';
        END IF;
        args := args || CASE WHEN args = '' THEN '' ELSE ', ' END
                || format('%L, %L, %L, %L', f.column_name, f.path, f.type, coalesce(f.transform, ''));
        listed := listed || f.column_name;
    END LOOP;

    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = rel AND tgname = 'rillflow_duplicated_fields') THEN
        EXECUTE format('DROP TRIGGER rillflow_duplicated_fields ON %I.%I', store, tbl);
    END IF;
    IF args <> '' THEN
        EXECUTE format('CREATE TRIGGER rillflow_duplicated_fields BEFORE INSERT OR UPDATE OF data ON %I.%I '
                       'FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields(%s)', store, tbl, args);
    END IF;

    -- Backfill: one UPDATE of each new column alone, computed as the trigger
    -- computes it (which fires neither the trigger, on UPDATE OF data, nor a
    -- rewrite of data). A document whose value does not convert fails the
    -- whole call, which adds nothing.
    FOR a IN SELECT value FROM jsonb_array_elements(added) LOOP
        EXECUTE format('UPDATE %I.%I SET %I = rillflow._doc_field_value(id, data, $1, $2, $3, $4, NULL::%s)',
                       store, tbl, a->>'column_name', a->>'type')
            USING a->>'column_name', a->>'path', a->>'type', a->>'transform';
        IF (a->>'indexed')::boolean THEN
            EXECUTE format('CREATE INDEX ON %I.%I (%I)', store, tbl, a->>'column_name');
        END IF;
    END LOOP;

    FOR col IN SELECT a.attname FROM pg_attribute a
                WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
                  AND a.attname = ANY (previous) AND NOT a.attname = ANY (listed)
                  AND NOT a.attname::text = ANY (rillflow._collection_base_columns()) LOOP
        EXECUTE format('ALTER TABLE %I.%I DROP COLUMN %I', store, tbl, col);
    END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.add_duplicated_field(
    collection text,
    path text,
    column_name text,
    type text,
    indexed boolean DEFAULT true,
    transform text DEFAULT NULL
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name;
    canonical_transform text;
    existing text;
BEGIN
    IF indexed IS NULL THEN
        RAISE EXCEPTION 'indexed must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._check_field_path(path, 'path');     -- 22004, 22023
    IF column_name IS NULL THEN
        RAISE EXCEPTION 'column_name must not be null' USING ERRCODE = '22004';
    END IF;
    IF column_name !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid column_name %', quote_literal(left(column_name, 100))
            USING ERRCODE = '22023',
                  HINT = 'A column name is 1 to 63 characters of a-z, 0-9 and _, not starting with a digit.';
    END IF;
    IF column_name = ANY (rillflow._collection_base_columns()) THEN
        RAISE EXCEPTION 'column_name "%" is one of the columns every collection has', column_name
            USING ERRCODE = '22023',
                  HINT = format('Pick a name other than %s.', array_to_string(rillflow._collection_base_columns(), ', '));
    END IF;
    PERFORM rillflow._check_duplicated_field_type(type);     -- 22004, 22023
    IF transform IS NOT NULL THEN
        canonical_transform := regexp_replace(transform, '\s', '', 'g');
        IF NOT canonical_transform = ANY (rillflow._duplicated_field_transforms()) THEN
            RAISE EXCEPTION 'invalid transform %', quote_literal(left(transform, 100))
                USING ERRCODE = '22023',
                      HINT = format('The transform is NULL or one of %s.',
                                    array_to_string(rillflow._duplicated_field_transforms(), ', '));
        END IF;
    END IF;

    tbl := rillflow._collection_table(collection);
    PERFORM rillflow._collection_relid(collection, false);   -- RF004 unless it exists
    PERFORM rillflow._check_store_admin(store, 'duplicated_fields', 'INSERT',
                                        format('add a duplicated field to collection %I', collection));   -- 42501
    -- Field changes of one collection queue here, before any check.
    EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE', store, tbl);
    EXECUTE format('SELECT column_name FROM %I.duplicated_fields WHERE collection = $1 AND path = $2', store)
        INTO existing USING collection, path;
    IF existing IS NOT NULL THEN
        RAISE EXCEPTION 'path "%" of collection "%" is already duplicated into column "%"', path, collection, existing
            USING ERRCODE = '42710',
                  HINT = 'Drop that duplicated field first to change its type, transform or index.';
    END IF;
    IF EXISTS (SELECT FROM pg_attribute
                WHERE attrelid = format('%I.%I', store, tbl)::regclass
                  AND attname = column_name AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'collection "%" already has a column "%"', collection, column_name
            USING ERRCODE = '42701';
    END IF;

    EXECUTE format('INSERT INTO %I.duplicated_fields (collection, path, column_name, type, indexed, transform) '
                   'VALUES ($1, $2, $3, $4, $5, $6)', store)
        USING collection, path, column_name, type, indexed, canonical_transform;
    -- The column, its backfill, index and trigger, made by the table's owner.
    -- A document whose value does not convert fails the whole call, which
    -- adds nothing. The table is locked throughout, so batches would bound
    -- nothing.
    PERFORM rillflow._sync_collection_table(store, collection);
END
$fn$;
COMMENT ON FUNCTION rillflow.add_duplicated_field(text, text, text, text, boolean, text)
    IS 'Copy a document path into a typed, indexed column kept in step by a trigger';

CREATE OR REPLACE FUNCTION rillflow.drop_duplicated_field(collection text, column_name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(collection);
    n bigint;
BEGIN
    IF column_name IS NULL THEN
        RAISE EXCEPTION 'column_name must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._collection_relid(collection, false);   -- RF004 unless it exists
    PERFORM rillflow._check_store_admin(store, 'duplicated_fields', 'DELETE',
                                        format('drop a duplicated field of collection %I', collection));   -- 42501
    EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE', store, tbl);
    EXECUTE format('DELETE FROM %I.duplicated_fields WHERE collection = $1 AND column_name = $2', store)
        USING collection, column_name;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN false;
    END IF;
    PERFORM rillflow._sync_collection_table(store, collection);   -- the trigger, then the column
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_duplicated_field(text, text)
    IS 'Drop a duplicated field with its column and index; false when there was none';

CREATE OR REPLACE FUNCTION rillflow.list_duplicated_fields(collection text)
    RETURNS TABLE (path text, column_name name, type text, indexed boolean, transform text,
                   created_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM rillflow._collection_relid(collection, false);   -- 22004, 22023, RF004
    RETURN QUERY EXECUTE format(
        'SELECT f.path, f.column_name, f.type, f.indexed, f.transform, f.created_at '
        'FROM %I.duplicated_fields f WHERE f.collection = $1 ORDER BY f.column_name',
        rillflow.current_store()) USING collection;
END
$fn$;
COMMENT ON FUNCTION rillflow.list_duplicated_fields(text) IS 'The duplicated fields of a collection';
