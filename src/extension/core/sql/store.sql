-- Stores: one schema each with a complete set of data tables, built by the
-- store steps (src/extension/store/) and listed in rillflow.stores. The
-- default store is created with the extension; each tenant gets one from
-- rillflow.ensure_tenant. See docs/upgrades.md.

-- The version of the store steps this install has: a store migrated to it
-- has every table this version's functions use.
CREATE OR REPLACE FUNCTION rillflow._store_steps_version() RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(max(s.version), 0) FROM rillflow.store_steps s);

-- The owner of a store's schema: 22023 unless store is a store in
-- rillflow.stores, 55000 when its schema has gone (dropped by hand).
CREATE OR REPLACE FUNCTION rillflow._store_owner(store name) RETURNS oid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    owner oid;
BEGIN
    IF NOT EXISTS (SELECT FROM rillflow.stores s WHERE s.schema_name = store) THEN
        RAISE EXCEPTION 'schema % is not a rillflow store', coalesce(quote_ident(store), 'NULL')
            USING ERRCODE = '22023', HINT = 'rillflow.schema_health() lists the stores.';
    END IF;
    SELECT n.nspowner INTO owner FROM pg_namespace n WHERE n.nspname = store;
    IF owner IS NULL THEN
        RAISE EXCEPTION 'the store schema "%" does not exist', store USING ERRCODE = '55000',
            HINT = 'rillflow.schema_health() lists the stores and what is wrong with each.';
    END IF;
    RETURN owner;
END
$fn$;

-- Bring a store from its recorded version to target (NULL: the newest), one
-- step at a time, in order, holding its row in rillflow.stores FOR UPDATE
-- (callers racing queue there; the later ones find nothing left to do).
-- Returns how many steps it applied. Runs the steps as the store's owner, so
-- everything they create is the owner's; the caller must be that role, a
-- member of it or a superuser (42501). A step that fails fails the call,
-- which changes nothing.
CREATE OR REPLACE FUNCTION rillflow._store_migrate(store name, target integer DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    current_version integer;
    newest integer := rillflow._store_steps_version();
    owner regrole;
    caller text := current_setting('role');
    switched boolean;
    applied integer;
BEGIN
    target := coalesce(target, newest);
    IF target > newest OR target < 0 THEN
        RAISE EXCEPTION 'store version % does not exist', target
            USING ERRCODE = '22023', DETAIL = format('This install has store steps 1 to %s.', newest);
    END IF;
    owner := rillflow._store_owner(store)::regrole;    -- 22023, 55000
    IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied to migrate store "%"', store
            USING ERRCODE = '42501',
                  DETAIL = format('Only the store''s owner (role %s), its members and superusers may.', owner);
    END IF;
    SELECT s.schema_version INTO current_version FROM rillflow.stores s WHERE s.schema_name = store FOR UPDATE;
    IF current_version >= target THEN
        RETURN 0;
    END IF;
    -- as the owner (a security-definer caller, ensure_tenant, is it already)
    switched := current_user::regrole <> owner;
    IF switched THEN
        PERFORM set_config('role', owner::text, true);
    END IF;
    applied := rillflow._store_apply_steps(store, current_version, target);
    IF switched THEN
        PERFORM set_config('role', caller, true);
    END IF;
    UPDATE rillflow.stores s SET schema_version = target, migrated_at = now() WHERE s.schema_name = store;
    -- Inside CREATE EXTENSION or ALTER EXTENSION UPDATE what a step creates
    -- becomes a member of the extension; a tenant's store is not (pg_dump
    -- dumps it as user data), so it gives them back.
    IF store <> 'rillflow_default' THEN
        PERFORM rillflow._store_release_members(store);
    END IF;
    RETURN applied;
END
$fn$;

-- Run the steps after version from_version up to to_version on a schema, in
-- order, as the current user; how many ran. No bookkeeping: _store_migrate's
-- and _store_record_shapes' part.
CREATE OR REPLACE FUNCTION rillflow._store_apply_steps(store name, from_version integer, to_version integer)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    step record;
    applied integer := 0;
BEGIN
    FOR step IN SELECT * FROM rillflow.store_steps s
                 WHERE s.version > from_version AND s.version <= to_version ORDER BY s.version LOOP
        EXECUTE replace(step.ddl, '@store@', quote_ident(store));
        applied := applied + 1;
    END LOOP;
    RETURN applied;
END
$fn$;

-- Make the objects of a tenant's store that are members of the extension
-- (created by a step inside an extension script) plain objects again.
CREATE OR REPLACE FUNCTION rillflow._store_release_members(store name) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    obj record;
BEGIN
    FOR obj IN
        SELECT i.type, i.identity
          FROM pg_depend d
          JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rillflow'
          CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) i
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND i.schema = store
    LOOP
        EXECUTE format('ALTER EXTENSION rillflow DROP %s %s', obj.type, obj.identity);
    END LOOP;
END
$fn$;

-- Create a store: its schema, its row in rillflow.stores (tenant NULL for the
-- default store), and every step. A schema of that name made by anyone else
-- is never adopted: its owner could drop and replace the store's tables.
CREATE OR REPLACE FUNCTION rillflow._create_store(store name, tenant text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    BEGIN
        EXECUTE format('CREATE SCHEMA %I', store);
    EXCEPTION WHEN duplicate_schema THEN
        RAISE EXCEPTION 'schema "%" already exists', store
            USING ERRCODE = '42P06',
                  DETAIL = 'rillflow creates each store''s schema itself and never adopts one made before.',
                  HINT = 'Check what the schema holds (\dn+ shows its owner), then drop or rename it and try again.';
    END;
    INSERT INTO rillflow.stores (schema_name, tenant) VALUES (store, tenant);
    PERFORM rillflow._store_migrate(store);
END
$fn$;

-- Register the default store's tables and sequences for pg_dump: their rows
-- are dumped and restored, and CREATE EXTENSION recreates their definitions.
-- The row of docs in collections is made by CREATE EXTENSION, so it is left
-- out. The collection tables (doc_*) are not extension members: pg_dump dumps
-- them whole, like any user table (docs/documents.md, "Backups"). Only inside
-- the extension's scripts (pg_extension_config_dump's rule).
CREATE OR REPLACE FUNCTION rillflow._register_default_store_dump() RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel record;
BEGIN
    FOR rel IN
        SELECT c.oid, c.relname
          FROM pg_class c
          JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
          JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rillflow'
         WHERE c.relnamespace = 'rillflow_default'::regnamespace AND c.relkind IN ('r', 'S')
           AND NOT c.oid = ANY (coalesce(e.extconfig, '{}'))
         ORDER BY c.relname
    LOOP
        PERFORM pg_extension_config_dump(rel.oid::regclass,
            CASE WHEN rel.relname = 'collections' THEN $$WHERE name OPERATOR(pg_catalog.<>) 'docs'$$ ELSE '' END);
    END LOOP;
END
$fn$;
