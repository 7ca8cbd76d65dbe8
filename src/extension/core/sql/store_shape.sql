-- The shape of a store: its catalog as rows, so that a store can be compared
-- with the shape its version should have (schema_health) and repaired
-- (schema_sync). See docs/upgrades.md, "Drift".

-- Whether a relation is a collection's table (made by
-- _create_collection_table, in a schema only the store's owner may create in):
-- one per collection, made on demand, so not part of a store's shape. Read
-- from the catalog alone, so health needs no right on the store.
CREATE OR REPLACE FUNCTION rillflow._is_collection_table(rel oid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_class c
                WHERE c.oid = rel AND c.relkind = 'r' AND c.relname LIKE 'doc\_%'
                  AND obj_description(c.oid, 'pg_class') = 'rillflow collection ' || substr(c.relname, 5));

-- One row per object of the store: its relations (tables, sequences, views,
-- foreign tables) with their kind and owner, their columns, constraints,
-- indexes and triggers, and what PUBLIC may do with the schema and each
-- relation. The store's name is written @store@ in every definition, so two
-- stores of one version have equal shapes. The collection tables (doc_*, one
-- per collection, made on demand) are not part of it: health checks them
-- apart. definition is jsonb text, so the repairs can read it back. On the
-- partitioned archive backend (archive/sql/backend.sql) the hot partition
-- events_hot stands for events and the partitioned parent is left out: both
-- backends have the one shape of their version.
CREATE OR REPLACE FUNCTION rillflow._store_shape(store name)
    RETURNS TABLE (kind text, object text, definition text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    nsp oid := to_regnamespace(quote_ident(store));
    prefix text := quote_ident(store) || '.';
BEGIN
    IF nsp IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH parted AS (
        SELECT c.oid FROM pg_class c WHERE c.relnamespace = nsp AND c.relname = 'events' AND c.relkind = 'p'
    ), rel AS (
        SELECT c.oid,
               CASE WHEN c.relname = 'events_hot' AND EXISTS (SELECT FROM parted) THEN 'events'
                    ELSE c.relname::text END AS relname,
               c.relkind, c.relowner, c.relacl
          FROM pg_class c
         WHERE c.relnamespace = nsp AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
           AND c.oid NOT IN (SELECT oid FROM parted)
           AND NOT rillflow._is_collection_table(c.oid)
    ), owner AS (
        SELECT n.nspowner FROM pg_namespace n WHERE n.oid = nsp
    )
    SELECT 'relation', r.relname,
           jsonb_build_object('relkind', r.relkind::text,
                              'owner', CASE WHEN r.relowner = (SELECT nspowner FROM owner) THEN 'store owner'
                                            ELSE r.relowner::regrole::text END)::text
      FROM rel r
    UNION ALL
    SELECT 'column', r.relname || '.' || a.attname,
           jsonb_build_object('type', format_type(a.atttypid, a.atttypmod),
                              'not_null', a.attnotnull,
                              'default', replace(pg_get_expr(d.adbin, d.adrelid), prefix, '@store@.'))::text
      FROM rel r
      JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
     WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT 'constraint', r.relname || '.' || k.conname,
           jsonb_build_object('table', r.relname,
                              'definition', replace(pg_get_constraintdef(k.oid), prefix, '@store@.'))::text
      FROM rel r
      JOIN pg_constraint k ON k.conrelid = r.oid
    UNION ALL
    SELECT 'index', r.relname || '.' || i.relname,
           jsonb_build_object('table', r.relname,
                              'constraint', EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.oid
                                                                               AND k.conrelid = r.oid),
                              'definition', replace(replace(pg_get_indexdef(i.oid), prefix, '@store@.'),
                                                    '@store@.events_hot USING', '@store@.events USING'))::text
      FROM rel r
      JOIN pg_index x ON x.indrelid = r.oid
      JOIN pg_class i ON i.oid = x.indexrelid
    UNION ALL
    SELECT 'trigger', r.relname || '.' || t.tgname,
           jsonb_build_object('table', r.relname,
                              'definition', replace(pg_get_triggerdef(t.oid), prefix, '@store@.'))::text
      FROM rel r
      JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL
    -- PUBLIC has no right on a store (tenants are isolated by grants)
    SELECT 'public_access', r.relname,
           jsonb_build_object('relkind', r.relkind::text,
                              'privileges', coalesce((SELECT string_agg(p.privilege_type, ', ' ORDER BY p.privilege_type)
                                                        FROM aclexplode(r.relacl) p WHERE p.grantee = 0), ''))::text
      FROM rel r
    UNION ALL
    SELECT 'public_access', '',
           jsonb_build_object('relkind', 'schema',
                              'privileges', coalesce((SELECT string_agg(p.privilege_type, ', ' ORDER BY p.privilege_type)
                                                        FROM pg_namespace n, aclexplode(n.nspacl) p
                                                       WHERE n.oid = nsp AND p.grantee = 0), ''))::text;
END
$fn$;

-- Record the shape of a store of every version of the steps this install
-- has, each built in a scratch schema that is dropped afterwards. Run by the
-- install and upgrade scripts, after the steps and the functions they use.
CREATE OR REPLACE FUNCTION rillflow._store_record_shapes() RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    scratch CONSTANT name := 'rillflow_store_shape';
    v integer;
BEGIN
    DELETE FROM rillflow.store_shapes;
    EXECUTE format('CREATE SCHEMA %I', scratch);
    FOR v IN SELECT s.version FROM rillflow.store_steps s ORDER BY s.version LOOP
        PERFORM rillflow._store_apply_steps(scratch, v - 1, v);
        INSERT INTO rillflow.store_shapes (version, kind, object, definition)
            SELECT v, s.kind, s.object, s.definition FROM rillflow._store_shape(scratch) s;
    END LOOP;
    EXECUTE format('DROP SCHEMA %I CASCADE', scratch);
END
$fn$;

-- What differs between a store and the shape of its version: 'missing' (the
-- version has it, the store does not), 'changed' (both, defined otherwise)
-- and 'unexpected' (the store has it, the version does not); plus 'missing'
-- for a collection table whose base columns are gone or of another type.
CREATE OR REPLACE FUNCTION rillflow._store_problems(store name)
    RETURNS TABLE (kind text, object text, problem text, expected text, actual text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v integer;
BEGIN
    SELECT s.schema_version INTO v FROM rillflow.stores s WHERE s.schema_name = store;
    RETURN QUERY
    WITH expected AS (
        SELECT h.kind, h.object, h.definition FROM rillflow.store_shapes h WHERE h.version = v
    ), actual AS (
        SELECT * FROM rillflow._store_shape(store)
    )
    , diff AS (
        SELECT coalesce(e.kind, a.kind) AS kind, coalesce(e.object, a.object) AS object,
               CASE WHEN a.kind IS NULL THEN 'missing' WHEN e.kind IS NULL THEN 'unexpected' ELSE 'changed' END
                   AS problem,
               e.definition AS expected, a.definition AS actual
          FROM expected e
          FULL JOIN actual a ON a.kind = e.kind AND a.object = e.object
         WHERE e.definition IS DISTINCT FROM a.definition
    )
    -- a relation missing or unexpected is one problem, not one per column
    SELECT d.kind, d.object, d.problem, d.expected, d.actual
      FROM diff d
     WHERE d.kind = 'relation'
        OR NOT EXISTS (SELECT FROM diff r
                        WHERE r.kind = 'relation' AND r.problem <> 'changed'
                          AND r.object = CASE WHEN d.kind = 'public_access' THEN d.object
                                              ELSE split_part(d.object, '.', 1) END)
     ORDER BY 1, 2;
END
$fn$;

-- An index a constraint owns (a primary key's, a unique constraint's) comes
-- back with its constraint: its own repair is the constraint's, so a plan
-- lists it once and health still counts it repairable.
CREATE OR REPLACE FUNCTION rillflow._store_index_made_by_constraint(kind text, problem text, expected text)
    RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    RETURN kind = 'index' AND problem <> 'unexpected'
       AND coalesce((expected::jsonb->>'constraint')::boolean, false);

-- The DDL that turns a problem back into the shape of the store's version,
-- or NULL when only a person can decide (a column of another type, a table
-- gone, something the version does not have: never dropped, it may hold data).
CREATE OR REPLACE FUNCTION rillflow._store_repair(store name, kind text, object text, problem text,
                                                  expected text, actual text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    e jsonb := expected::jsonb;
    a jsonb := actual::jsonb;
    s text := quote_ident(store);
    tbl text;
    col text;
    ddl text := '';
BEGIN
    IF problem = 'unexpected' THEN
        RETURN NULL;
    END IF;
    CASE kind
    WHEN 'index' THEN
        IF rillflow._store_index_made_by_constraint(kind, problem, expected) THEN
            RETURN NULL;
        END IF;
        IF problem = 'changed' THEN
            ddl := format('DROP INDEX %s.%I; ', s, split_part(object, '.', 2));
        END IF;
        RETURN ddl || replace(e->>'definition', '@store@.', s || '.');
    WHEN 'constraint' THEN
        IF problem = 'changed' THEN
            ddl := format('ALTER TABLE %s.%I DROP CONSTRAINT %I; ', s, e->>'table', split_part(object, '.', 2));
        END IF;
        RETURN ddl || format('ALTER TABLE %s.%I ADD CONSTRAINT %I %s', s, e->>'table', split_part(object, '.', 2),
                             replace(e->>'definition', '@store@.', s || '.'));
    WHEN 'trigger' THEN
        IF problem = 'changed' THEN
            ddl := format('DROP TRIGGER %I ON %s.%I; ', split_part(object, '.', 2), s, e->>'table');
        END IF;
        RETURN ddl || replace(e->>'definition', '@store@.', s || '.');
    WHEN 'public_access' THEN
        IF object = '' THEN
            RETURN format('REVOKE ALL ON SCHEMA %s FROM PUBLIC', s);
        END IF;
        RETURN format('REVOKE ALL ON %s %s.%I FROM PUBLIC',
                      CASE e->>'relkind' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, s, object);
    WHEN 'relation' THEN
        IF problem = 'missing' OR e->>'relkind' <> a->>'relkind' THEN
            RETURN NULL;
        END IF;
        RETURN format('ALTER %s %s.%I OWNER TO %s',
                      CASE e->>'relkind' WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END,
                      s, object, (SELECT n.nspowner::regrole FROM pg_namespace n WHERE n.nspname = store));
    WHEN 'column' THEN
        IF problem = 'missing' OR e->>'type' <> a->>'type' THEN
            RETURN NULL;
        END IF;
        tbl := split_part(object, '.', 1);
        col := split_part(object, '.', 2);
        IF (e->>'default') IS DISTINCT FROM (a->>'default') THEN
            ddl := ddl || CASE WHEN e->>'default' IS NULL
                               THEN format('ALTER TABLE %s.%I ALTER COLUMN %I DROP DEFAULT; ', s, tbl, col)
                               ELSE format('ALTER TABLE %s.%I ALTER COLUMN %I SET DEFAULT %s; ', s, tbl, col,
                                           replace(e->>'default', '@store@.', s || '.')) END;
        END IF;
        IF (e->>'not_null') IS DISTINCT FROM (a->>'not_null') THEN
            ddl := ddl || format('ALTER TABLE %s.%I ALTER COLUMN %I %s NOT NULL; ', s, tbl, col,
                                 CASE WHEN (e->>'not_null')::boolean THEN 'SET' ELSE 'DROP' END);
        END IF;
        RETURN rtrim(ddl, '; ');
    ELSE
        RETURN NULL;
    END CASE;
END
$fn$;
