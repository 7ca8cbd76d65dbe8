-- Documents: the store tables and collections. CRUD is in documents.sql,
-- duplicated fields in duplicated_fields.sql, the index advisor in
-- index_advisor.sql (see docs/documents.md).

CREATE OR REPLACE FUNCTION rillflow._collection_table(collection text) RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_collection_table'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The table of a collection in the current store; creates a missing one when
-- create is true and rillflow.auto_create_collections is on, RF004 otherwise.
CREATE OR REPLACE FUNCTION rillflow._collection_relid(collection text, create_missing boolean) RETURNS regclass
    AS 'MODULE_PATHNAME', 'rillflow_collection_relid'
    LANGUAGE C VOLATILE;

-- 55000 unless rel is a plain table that its schema's owner owns: rillflow
-- never uses a collection table another role made (a role that once had
-- CREATE on a store's schema could have planted one, with triggers that would
-- run with the rights of everyone writing documents there). C, shared with
-- the lookup every document function starts with (collections.c).
CREATE OR REPLACE FUNCTION rillflow._check_collection_table(rel regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_check_collection_table'
    LANGUAGE C STABLE STRICT;

-- The table of a registered collection, created when missing; NULL when the
-- collection is not registered. The row lock on the collections row makes
-- concurrent first users create the table once: the second waits for the
-- first to commit, then finds its table.
--
-- SECURITY DEFINER: a collection table belongs to its store's owner (the
-- extension's owner), whoever writes the first document; a table the caller
-- created would be the caller's, and its owner could attach triggers that run
-- with the rights of everyone who later writes there. It takes no
-- instruction from its caller beyond a store and a collection: it creates
-- only the table of a collection the store's registry lists, which only the
-- store's admins can write, so calling it directly grants nothing.
CREATE OR REPLACE FUNCTION rillflow._create_collection_table(store name, collection text) RETURNS regclass
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    owner oid := rillflow._store_owner(store);          -- 22023 unless a store
    tbl name := rillflow._collection_table(collection);  -- checks the name (22004, 22023)
    registered boolean;
    rel regclass;
    writer oid;
BEGIN
    EXECUTE format('SELECT true FROM %I.collections WHERE name = $1 AND table_name = $2 FOR UPDATE', store)
        INTO registered USING collection, tbl;
    IF registered IS NULL THEN
        RETURN NULL;
    END IF;
    rel := to_regclass(format('%I.%I', store, tbl));
    IF rel IS NOT NULL THEN
        PERFORM rillflow._check_collection_table(rel);   -- 55000 unless the owner's own table
        RETURN rel;
    END IF;
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
    IF owner <> current_user::regrole::oid THEN
        EXECUTE format('ALTER TABLE %I.%I OWNER TO %s', store, tbl, owner::regrole);
    END IF;
    -- Readers read it through the default privileges grant_tenant set; the
    -- store's writers (the roles that may insert events) write it.
    FOR writer IN SELECT DISTINCT a.grantee
                    FROM pg_class c, aclexplode(c.relacl) a
                   WHERE c.oid = format('%I.events', store)::regclass
                     AND a.privilege_type = 'INSERT' AND a.grantee <> c.relowner LOOP
        EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %I.%I TO %s', store, tbl,
                       CASE WHEN writer = 0 THEN 'PUBLIC' ELSE writer::regrole::text END);
    END LOOP;
    RETURN to_regclass(format('%I.%I', store, tbl));
END
$fn$;

-- Drop the table of a collection that is no longer registered (the caller
-- deleted its row); false when there is none.
--
-- SECURITY DEFINER, for the reason _create_collection_table is: only the
-- store's owner may drop its tables. It drops only the table of a collection
-- the store's registry no longer lists, which only the store's admins can
-- change, so calling it directly grants nothing.
CREATE OR REPLACE FUNCTION rillflow._drop_collection_table(store name, collection text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    owner oid := rillflow._store_owner(store);          -- 22023 unless a store
    tbl name := rillflow._collection_table(collection);  -- checks the name (22004, 22023)
    registered boolean;
    rel regclass;
BEGIN
    EXECUTE format('SELECT true FROM %I.collections WHERE name = $1 OR table_name = $2', store)
        INTO registered USING collection, tbl;
    rel := to_regclass(format('%I.%I', store, tbl));
    IF registered OR rel IS NULL THEN
        RETURN false;
    END IF;
    PERFORM rillflow._check_collection_table(rel);   -- 55000 unless the owner's own table
    EXECUTE format('DROP TABLE %I.%I', store, tbl);
    RETURN true;
END
$fn$;

-- The table of a collection, after registering the collection when
-- create_missing is true; NULL when it does not exist. Registering a
-- collection is an admin's act: INSERT on the store's collections.
CREATE OR REPLACE FUNCTION rillflow._ensure_collection(store name, collection text, create_missing boolean) RETURNS oid
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tbl name := rillflow._collection_table(collection);
    registered boolean;
BEGIN
    EXECUTE format('SELECT true FROM %I.collections WHERE name = $1', store) INTO registered USING collection;
    IF registered IS NULL THEN
        IF NOT create_missing THEN
            RETURN NULL;
        END IF;
        PERFORM rillflow._check_store_admin(store, 'collections', 'INSERT',
                                            format('create collection %I', collection));   -- 42501
        -- No conflict target: table_name is unique too and follows from the
        -- name, and two first writers racing may meet on either index; with
        -- only (name) as arbiter, the loser could hit table_name's and fail.
        EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2) '
                       'ON CONFLICT DO NOTHING', store) USING collection, tbl;
    END IF;
    RETURN rillflow._create_collection_table(store, collection);
END
$fn$;

-- 42501 unless the current user may change the registry table of store
-- (privilege on it): the admin level (docs/security.md). Checked before any
-- lock is taken; action says what was refused.
CREATE OR REPLACE FUNCTION rillflow._check_store_admin(store name, registry name, privilege text, action text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT has_table_privilege(format('%I.%I', store, registry), privilege) THEN
        RAISE EXCEPTION 'permission denied to % in store "%"', action, store
            USING ERRCODE = '42501',
                  DETAIL = 'That needs admin access to the store.',
                  HINT = 'Ask the store''s owner for it (rillflow.grant_tenant).';
    END IF;
END
$fn$;


CREATE OR REPLACE FUNCTION rillflow.create_collection(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(name);    -- checks the name (22004, 22023)
    created bigint;
BEGIN
    PERFORM rillflow._check_store_admin(store, 'collections', 'INSERT',
                                        format('create collection %I', create_collection.name));   -- 42501
    EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2) '
                   'ON CONFLICT DO NOTHING', store) USING create_collection.name, tbl;   -- see _ensure_collection
    GET DIAGNOSTICS created = ROW_COUNT;
    PERFORM rillflow._create_collection_table(store, create_collection.name);
    RETURN created OPERATOR(pg_catalog.>) 0;
END
$fn$;
COMMENT ON FUNCTION rillflow.create_collection(text)
    IS 'Create a collection unless it exists; true when created now';

-- Dropping docs drops its table, rows and duplicated fields; docs itself stays
-- (it exists in every store) and gets a new, empty table on next use. The
-- registry rows go first (an admin's right), then the table, which only the
-- store's owner may drop (_drop_collection_table).
CREATE OR REPLACE FUNCTION rillflow.drop_collection(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(name);    -- checks the name (22004, 22023)
    found_it boolean;
BEGIN
    PERFORM rillflow._check_store_admin(store, 'collections', 'DELETE',
                                        format('drop collection %I', drop_collection.name));   -- 42501
    EXECUTE format('SELECT true FROM %I.collections WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE', store)
        INTO found_it USING drop_collection.name;
    IF found_it IS NULL THEN
        RETURN false;
    END IF;
    -- its duplicated fields go with it (ON DELETE CASCADE)
    EXECUTE format('DELETE FROM %I.collections WHERE name OPERATOR(pg_catalog.=) $1', store)
        USING drop_collection.name;
    PERFORM rillflow._drop_collection_table(store, drop_collection.name);
    IF drop_collection.name OPERATOR(pg_catalog.=) 'docs' THEN
        EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2)', store)
            USING drop_collection.name, tbl;
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_collection(text)
    IS 'Drop a collection with its documents; false when it did not exist';

CREATE OR REPLACE FUNCTION rillflow.list_collections()
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
