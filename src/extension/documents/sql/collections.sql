-- Documents: the store tables and collections. CRUD is in documents.sql,
-- duplicated fields in duplicated_fields.sql, the index advisor in
-- index_advisor.sql (see docs/documents.md).

CREATE FUNCTION rillflow._collection_table(collection text) RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_collection_table'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The table of a collection in the current store; creates a missing one when
-- create is true and rillflow.auto_create_collections is on, RF004 otherwise.
CREATE FUNCTION rillflow._collection_relid(collection text, create_missing boolean) RETURNS regclass
    AS 'MODULE_PATHNAME', 'rillflow_collection_relid'
    LANGUAGE C VOLATILE;

-- The table of one collection: documents are JSON objects with a version.
CREATE FUNCTION rillflow._create_collection_table(store name, collection text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tbl name := rillflow._collection_table(collection);
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE %1$I.%2$I (
            id          uuid PRIMARY KEY,
            data        jsonb NOT NULL CONSTRAINT %3$I CHECK (jsonb_typeof(data) = 'object'),
            version     bigint NOT NULL CONSTRAINT %4$I CHECK (version > 0),
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            deleted_at  timestamptz
        )$ddl$, store, tbl, 'data_object', 'version_positive');
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', store, tbl, 'rillflow collection ' || collection);
END
$fn$;

-- The table of a collection, after registering the collection when create is
-- true; NULL when it does not exist. A collection registered without a table
-- (the default store's docs until its first use) gets one here. The row lock
-- on the collections row makes concurrent first users create the table once:
-- the second waits for the first to commit, then finds its table.
CREATE FUNCTION rillflow._ensure_collection(store name, collection text, create_missing boolean) RETURNS oid
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tbl name := rillflow._collection_table(collection);
    rel regclass;
BEGIN
    IF create_missing THEN
        -- No conflict target: table_name is unique too and follows from the
        -- name, and two first writers racing may meet on either index; with
        -- only (name) as arbiter, the loser could hit table_name's and fail.
        EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2) '
                       'ON CONFLICT DO NOTHING', store) USING collection, tbl;
    END IF;
    EXECUTE format('SELECT table_name FROM %I.collections WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE',
                   store) INTO tbl USING collection;
    IF tbl IS NULL THEN
        RETURN NULL;
    END IF;
    rel := to_regclass(format('%I.%I', store, tbl));
    IF rel IS NULL THEN
        PERFORM rillflow._create_collection_table(store, collection);
        rel := to_regclass(format('%I.%I', store, tbl));
    END IF;
    RETURN rel;
END
$fn$;

-- The document tables of one store; called by rillflow._create_store.
--
-- Collection tables are never extension members: pg_dump dumps them whole
-- (definition, duplicated-field columns, indexes, triggers, rows) like any
-- user table. So the default store, created by CREATE EXTENSION, registers
-- docs here and creates its table on first use; tenant stores do the same, so
-- every store starts with the same tables.
CREATE FUNCTION rillflow._create_store_documents(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE %1$I.collections (
            name        text PRIMARY KEY,
            table_name  name NOT NULL UNIQUE,
            created_at  timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE %1$I.duplicated_fields (
            collection  text NOT NULL REFERENCES %1$I.collections (name) ON DELETE CASCADE,
            path        text NOT NULL,
            column_name name NOT NULL,
            type        text NOT NULL,
            indexed     boolean NOT NULL,
            transform   text,
            created_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (collection, column_name),
            UNIQUE (collection, path)
        );

        CREATE TABLE %1$I.compiled_queries (
            name        text PRIMARY KEY,
            collection  text NOT NULL,
            spec        jsonb NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
    $ddl$, store);
    EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2)', store)
        USING 'docs', rillflow._collection_table('docs');
END
$fn$;

CREATE FUNCTION rillflow.create_collection(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(name);    -- checks the name (22004, 22023)
    created bigint;
BEGIN
    EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2) '
                   'ON CONFLICT DO NOTHING', store) USING create_collection.name, tbl;   -- see _ensure_collection
    GET DIAGNOSTICS created = ROW_COUNT;
    PERFORM rillflow._ensure_collection(store, create_collection.name, false);
    RETURN created OPERATOR(pg_catalog.>) 0;
END
$fn$;
COMMENT ON FUNCTION rillflow.create_collection(text)
    IS 'Create a collection unless it exists; true when created now';

-- Dropping docs drops its table, rows and duplicated fields; docs itself stays
-- (it exists in every store) and gets a new, empty table on next use.
CREATE FUNCTION rillflow.drop_collection(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(name);    -- checks the name (22004, 22023)
    found_it boolean;
BEGIN
    EXECUTE format('SELECT true FROM %I.collections WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE', store)
        INTO found_it USING drop_collection.name;
    IF found_it IS NULL THEN
        RETURN false;
    END IF;
    IF to_regclass(format('%I.%I', store, tbl)) IS NOT NULL THEN
        EXECUTE format('DROP TABLE %I.%I', store, tbl);
    END IF;
    IF drop_collection.name OPERATOR(pg_catalog.=) 'docs' THEN
        EXECUTE format('DELETE FROM %I.duplicated_fields WHERE collection OPERATOR(pg_catalog.=) $1', store)
            USING drop_collection.name;
    ELSE
        EXECUTE format('DELETE FROM %I.collections WHERE name OPERATOR(pg_catalog.=) $1', store)
            USING drop_collection.name;
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_collection(text)
    IS 'Drop a collection with its documents; false when it did not exist';

CREATE FUNCTION rillflow.list_collections()
    RETURNS TABLE (name text, table_name name, duplicated_fields integer, created_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT c.name, c.table_name,
               (SELECT count(*)::integer FROM %1$I.duplicated_fields f
                 WHERE f.collection OPERATOR(pg_catalog.=) c.name),
               c.created_at
          FROM %1$I.collections c ORDER BY c.name$q$, rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.list_collections() IS 'The collections of the current store';
