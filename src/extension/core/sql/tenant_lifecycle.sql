-- The tenant lifecycle (docs/tenancy.md): what a tenant's store holds
-- (tenant_status, list_tenants), dropping it (drop_tenant), and taking back a
-- store restored from an archive (_register_restored_store). Re-runnable: the
-- upgrade scripts run this part again.

-- What a store holds, for tenant_status and list_tenants. A count is NULL
-- when the caller may not read the table it counts (tenants are isolated by
-- grants: docs/security.md); the size on disk is every role's to see, as
-- pg_total_relation_size is. documents counts every row of every collection,
-- soft-deleted ones too; the counts scan their tables.
CREATE OR REPLACE FUNCTION rillflow._store_status(store name)
    RETURNS TABLE (schema_version integer, drift boolean, streams bigint, events bigint,
                   documents bigint, projections bigint, size_bytes bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    nsp oid := to_regnamespace(store);
    readable boolean;
    tbl name;
    n bigint;
BEGIN
    IF nsp IS NULL THEN
        RETURN NEXT;    -- all NULL: the schema is gone
        RETURN;
    END IF;
    schema_version := rillflow._store_schema_version(store);
    drift := rillflow._store_has_drift(store);
    SELECT sum(pg_total_relation_size(c.oid))::bigint INTO size_bytes
      FROM pg_class c WHERE c.relnamespace = nsp AND c.relkind IN ('r', 'p', 'm', 'S');
    readable := has_schema_privilege(nsp, 'USAGE');
    IF readable AND has_table_privilege(format('%I.streams', store), 'SELECT') THEN
        EXECUTE format('SELECT count(*) FROM %I.streams', store) INTO streams;
    END IF;
    IF readable AND has_table_privilege(format('%I.events', store), 'SELECT') THEN
        EXECUTE format('SELECT count(*) FROM %I.events', store) INTO events;
    END IF;
    IF readable AND has_table_privilege(format('%I.projections', store), 'SELECT') THEN
        EXECUTE format('SELECT count(*) FROM %I.projections', store) INTO projections;
    END IF;
    IF readable AND has_table_privilege(format('%I.collections', store), 'SELECT') THEN
        documents := 0;
        FOR tbl IN SELECT * FROM rillflow._collection_tables(store) LOOP
            IF NOT has_table_privilege(format('%I.%I', store, tbl), 'SELECT') THEN
                documents := NULL;
                EXIT;
            END IF;
            EXECUTE format('SELECT count(*) FROM %I.%I', store, tbl) INTO n;
            documents := documents + n;
        END LOOP;
    END IF;
    RETURN NEXT;
END
$fn$;

-- One tenant's store: whether it exists and what it holds. '' is the default
-- store. An unknown tenant is a row with exists false, not an error; a
-- malformed name is 22023, NULL 22004.
CREATE OR REPLACE FUNCTION rillflow.tenant_status(name text)
    RETURNS TABLE ("exists" boolean, schema_name name, created_at timestamptz,
                   schema_version integer, drift boolean, streams bigint, events bigint,
                   documents bigint, projections bigint, size_bytes bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tenant text := tenant_status.name;
    store name;
    t rillflow.tenants;
    s record;
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'tenant name must not be null' USING ERRCODE = '22004',
            HINT = 'Pass '''' for the default store.';
    END IF;
    IF tenant = '' THEN
        store := 'rillflow_default';
        "exists" := to_regnamespace(store) IS NOT NULL;
    ELSE
        store := rillflow._tenant_schema(tenant);     -- 22023 for a malformed name
        SELECT * INTO t FROM rillflow.tenants x WHERE x.name OPERATOR(pg_catalog.=) tenant;
        "exists" := FOUND;
        created_at := t.created_at;
    END IF;
    schema_name := store;
    IF "exists" THEN
        SELECT * INTO s FROM rillflow._store_status(store);
        schema_version := s.schema_version;
        drift := s.drift;
        streams := s.streams;
        events := s.events;
        documents := s.documents;
        projections := s.projections;
        size_bytes := s.size_bytes;
    END IF;
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION rillflow.tenant_status(text)
    IS 'Whether a tenant exists, its store''s schema version and drift, what it holds and its size on disk';

-- list_tenants gained the columns of tenant_status: a new return type, so an
-- older one (0.1.0's) is dropped first rather than replaced.
DO $drop$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_proc p
                WHERE p.pronamespace OPERATOR(pg_catalog.=) 'rillflow'::pg_catalog.regnamespace
                  AND p.proname OPERATOR(pg_catalog.=) 'list_tenants'
                  AND NOT 'size_bytes' OPERATOR(pg_catalog.=) ANY (p.proargnames)) THEN
        DROP FUNCTION rillflow.list_tenants();
    END IF;
END
$drop$;
CREATE OR REPLACE FUNCTION rillflow.list_tenants()
    RETURNS TABLE (name text, schema_name name, created_at timestamptz,
                   schema_version integer, drift boolean, streams bigint, events bigint,
                   documents bigint, projections bigint, size_bytes bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT t.name, t.schema_name, t.created_at, s.schema_version, s.drift, s.streams, s.events,
           s.documents, s.projections, s.size_bytes
      FROM rillflow.tenants t CROSS JOIN LATERAL rillflow._store_status(t.schema_name) s
     ORDER BY t.name;
$fn$;
COMMENT ON FUNCTION rillflow.list_tenants()
    IS 'The tenants, their store schemas, schema versions, drift, what each holds and its size on disk';

-- Lock a store's schema exclusively to the end of the transaction, once every
-- call that resolved the store has ended; false when there is no such schema
-- (core/store.c). The owner of the schema only (42501).
CREATE OR REPLACE FUNCTION rillflow._lock_store(store name) RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_lock_store'
    LANGUAGE C VOLATILE;

-- The schema an object lives in, for the kinds a store's dependencies come
-- in (a column default, a constraint, a trigger or a rule: its table's);
-- NULL for a kind that has none (a publication's table, say).
CREATE OR REPLACE FUNCTION rillflow._object_namespace(classid regclass, objid oid) RETURNS oid
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE classid
        WHEN 'pg_class'::regclass THEN (SELECT c.relnamespace FROM pg_class c WHERE c.oid = objid)
        WHEN 'pg_type'::regclass THEN (SELECT t.typnamespace FROM pg_type t WHERE t.oid = objid)
        WHEN 'pg_proc'::regclass THEN (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = objid)
        WHEN 'pg_attrdef'::regclass THEN
            (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid WHERE a.oid = objid)
        WHEN 'pg_constraint'::regclass THEN (SELECT c.connamespace FROM pg_constraint c WHERE c.oid = objid)
        WHEN 'pg_trigger'::regclass THEN
            (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.oid = objid)
        WHEN 'pg_rewrite'::regclass THEN
            (SELECT c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = objid)
        WHEN 'pg_policy'::regclass THEN
            (SELECT c.relnamespace FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.oid = objid)
        WHEN 'pg_statistic_ext'::regclass THEN (SELECT s.stxnamespace FROM pg_statistic_ext s WHERE s.oid = objid)
    END
$fn$;

-- Objects outside a store that depend on something in it (a view over its
-- events in another schema, say): DROP SCHEMA ... CASCADE would drop them
-- too, so drop_tenant refuses while there are any.
CREATE OR REPLACE FUNCTION rillflow._store_outside_dependents(store name) RETURNS SETOF text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT DISTINCT CASE WHEN d.classid OPERATOR(pg_catalog.=) 'pg_rewrite'::regclass    -- a view: name it
                         THEN pg_describe_object('pg_class'::regclass,
                                                 (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid OPERATOR(pg_catalog.=) d.objid), 0)
                         ELSE pg_describe_object(d.classid, d.objid, 0) END
      FROM pg_depend d
     WHERE d.deptype IN ('n', 'a')
       AND d.refclassid IN ('pg_class'::regclass, 'pg_type'::regclass, 'pg_proc'::regclass)
       AND rillflow._object_namespace(d.refclassid, d.refobjid) OPERATOR(pg_catalog.=) to_regnamespace(store)
       AND rillflow._object_namespace(d.classid, d.objid) IS DISTINCT FROM to_regnamespace(store)
       AND rillflow._object_namespace(d.classid, d.objid) IS DISTINCT FROM 'pg_toast'::regnamespace
     ORDER BY 1;
$fn$;

-- Drop a tenant: its store's schema with everything in it and its rows in
-- rillflow.tenants and rillflow.stores; nothing of it is left (docs/tenancy.md, "Dropping a
-- tenant"). Not SECURITY DEFINER: only the store's owner (a member of that
-- role, or a superuser) may drop a store, so the caller needs that role's
-- rights anyway; an admin of the tenant (grant_tenant) may not (42501).
-- EXECUTE is not granted to PUBLIC, as for ensure_tenant.
--
-- In this order: the tenants row, locked, queues a racing ensure_tenant or
-- drop_tenant of the name behind this one; the store's schema, locked
-- exclusively (_lock_store), waits for every call that is using the store
-- (its appends and projection batches commit or roll back first) and holds
-- off every new one, which then fails with RF005; only then is the store
-- looked at, so what a committed append wrote is seen. Unless forced, a
-- store that holds events, documents or projections is refused (RF007).
-- The worker and the projection daemons stop with it: the worker skips a
-- store that is gone, a daemon's next lease call gets RF005.
CREATE OR REPLACE FUNCTION rillflow.drop_tenant(name text, force boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning    -- no NOTICE listing the store's tables
AS $fn$
DECLARE
    tenant text := drop_tenant.name;
    store name := rillflow._tenant_schema(tenant);    -- checks the name (22004, 22023)
    owner regrole;
    n_events bigint := 0;
    n_documents bigint := 0;
    n_projections bigint := 0;
    n bigint;
    tbl name;
    dependents text[];
BEGIN
    IF force IS NULL THEN
        RAISE EXCEPTION 'force must not be null' USING ERRCODE = '22004',
            HINT = 'Pass force => true to drop a tenant that holds data.';
    END IF;
    -- The store's owner; with the schema gone already, the owner of the
    -- catalog it would have been made by.
    SELECT coalesce((SELECT n.nspowner FROM pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) store),
                    (SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) 'rillflow.tenants'::regclass))::regrole
      INTO owner;
    IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied to drop tenant "%"', tenant
            USING ERRCODE = '42501',
                  DETAIL = format('Only the store''s owner (role %s), its members and superusers may drop a tenant; '
                                  'an access level (grant_tenant) is no right to drop it.', owner),
                  HINT = 'Ask the extension''s owner to drop it.';
    END IF;
    PERFORM FROM rillflow.tenants t WHERE t.name OPERATOR(pg_catalog.=) tenant FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant
            USING ERRCODE = 'RF005', HINT = 'rillflow.list_tenants() lists the tenants.';
    END IF;
    IF rillflow._lock_store(store) THEN
        -- A new statement, so a new snapshot: it sees what the calls the lock
        -- waited for committed.
        dependents := ARRAY(SELECT rillflow._store_outside_dependents(store));
        IF cardinality(dependents) > 0 THEN
            RAISE EXCEPTION 'cannot drop tenant "%" because objects outside its store depend on it', tenant
                USING ERRCODE = '2BP01',
                      DETAIL = 'Depending on the store: ' || array_to_string(dependents, '; ') || '.',
                      HINT = 'Drop those objects first; dropping the tenant never drops anything outside its store.';
        END IF;
        IF NOT force THEN
            EXECUTE format('SELECT count(*) FROM %I.events', store) INTO n_events;
            EXECUTE format('SELECT count(*) FROM %I.projections', store) INTO n_projections;
            FOR tbl IN SELECT * FROM rillflow._collection_tables(store) LOOP
                EXECUTE format('SELECT count(*) FROM %I.%I', store, tbl) INTO n;
                n_documents := n_documents + n;
            END LOOP;
            IF n_events > 0 OR n_documents > 0 OR n_projections > 0 THEN
                RAISE EXCEPTION 'tenant "%" holds data', tenant
                    USING ERRCODE = 'RF007',
                          DETAIL = format('Its store holds %s events, %s documents and %s projections.',
                                          n_events, n_documents, n_projections),
                          HINT = 'Archive it first (rillflow tenants archive), then drop it with force => true.';
            END IF;
        END IF;
        EXECUTE format('DROP SCHEMA %I CASCADE', store);
    END IF;
    DELETE FROM rillflow.stores s WHERE s.schema_name OPERATOR(pg_catalog.=) store;
    DELETE FROM rillflow.tenants t WHERE t.name OPERATOR(pg_catalog.=) tenant;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_tenant(text, boolean)
    IS 'Drop a tenant and its store; one that holds data only with force => true';
REVOKE EXECUTE ON FUNCTION rillflow.drop_tenant(text, boolean) FROM PUBLIC;

-- Register a tenant whose store schema was restored from an archive
-- (rillflow tenants restore, docs/tenancy.md "Archive and restore"). This is
-- the one way a schema rillflow did not create in this database becomes a
-- store, so it takes nothing on trust: the schema must be the tenant's, hold
-- exactly a store's tables (the default store's, column for column, plus the
-- collection tables its registry lists, with a collection's columns and its
-- duplicated fields), every object in it must be the
-- extension owner's, nothing in it may call a function outside rillflow and
-- pg_catalog, no tenant of that name may exist, and once recorded in
-- rillflow.stores at the archive's schema version, the store must have the
-- shape of that version (_store_problems: indexes, constraints, triggers,
-- owner, grants). 42P06 when any of this fails, naming what. Then the store
-- steps it lacks are applied (_store_migrate). Not executable by PUBLIC: the
-- extension's owner (who must have made the schema, since it must own
-- everything in it) runs it.
CREATE OR REPLACE FUNCTION rillflow._register_restored_store(tenant text, created_at timestamptz DEFAULT NULL,
                                                             schema_version integer DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow._tenant_schema(tenant);    -- checks the name (22004, 22023)
    nsp oid := to_regnamespace(store);
    dflt oid := to_regnamespace('rillflow_default');
    ext_owner oid := (SELECT e.extowner FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'rillflow');
    problems text[] := '{}';
    registered name[];
    more text[];
BEGIN
    IF nsp IS NULL THEN
        RAISE EXCEPTION 'schema "%" does not exist', store USING ERRCODE = '3F000',
            HINT = 'Restore the archive''s schema first (rillflow tenants restore does both).';
    END IF;
    IF EXISTS (SELECT FROM rillflow.tenants t WHERE t.name OPERATOR(pg_catalog.=) tenant)
       OR EXISTS (SELECT FROM rillflow.stores s WHERE s.schema_name OPERATOR(pg_catalog.=) store) THEN
        RAISE EXCEPTION 'tenant "%" exists already', tenant USING ERRCODE = '42710',
            HINT = 'A restore never replaces a live tenant; drop it first (rillflow.drop_tenant) if it is to be replaced.';
    END IF;
    -- owners
    IF (SELECT n.nspowner FROM pg_namespace n WHERE n.oid = nsp) <> ext_owner THEN
        problems := problems || format('the schema is owned by %s, not by the extension''s owner %s',
                                       (SELECT n.nspowner::regrole FROM pg_namespace n WHERE n.oid = nsp),
                                       ext_owner::regrole);
    END IF;
    problems := problems || ARRAY(
        SELECT format('%s is owned by %s', c.oid::regclass, c.relowner::regrole) FROM pg_class c
         WHERE c.relnamespace = nsp AND c.relowner <> ext_owner ORDER BY 1);
    problems := problems || ARRAY(
        SELECT format('%s %s is not a table, index or sequence', c.relkind, c.oid::regclass) FROM pg_class c
         WHERE c.relnamespace = nsp AND c.relkind NOT IN ('r', 'i', 'S')
           -- the partitioned archive backend's events (archive/sql/backend.sql)
           AND NOT (c.relkind = 'p' AND c.relname = 'events') ORDER BY 1);
    problems := problems || ARRAY(
        SELECT format('table %s has row level security, rules or policies', c.oid::regclass) FROM pg_class c
         WHERE c.relnamespace = nsp AND (c.relrowsecurity OR c.relhasrules
               OR EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid)) ORDER BY 1);
    -- nothing but tables: no functions, operators, types of its own, ...
    problems := problems || ARRAY(
        SELECT format('function %s', p.oid::regprocedure) FROM pg_proc p WHERE p.pronamespace = nsp ORDER BY 1);
    problems := problems || ARRAY(
        SELECT format('type %s', t.oid::regtype) FROM pg_type t
         WHERE t.typnamespace = nsp AND t.typrelid = 0
           AND NOT EXISTS (SELECT FROM pg_type e WHERE e.oid = t.typelem AND e.typrelid <> 0) ORDER BY 1);
    IF EXISTS (SELECT FROM pg_operator o WHERE o.oprnamespace = nsp)
       OR EXISTS (SELECT FROM pg_collation o WHERE o.collnamespace = nsp)
       OR EXISTS (SELECT FROM pg_conversion o WHERE o.connamespace = nsp)
       OR EXISTS (SELECT FROM pg_opfamily o WHERE o.opfnamespace = nsp)
       OR EXISTS (SELECT FROM pg_opclass o WHERE o.opcnamespace = nsp)
       OR EXISTS (SELECT FROM pg_statistic_ext o WHERE o.stxnamespace = nsp)
       OR EXISTS (SELECT FROM pg_ts_config o WHERE o.cfgnamespace = nsp)
       OR EXISTS (SELECT FROM pg_ts_dict o WHERE o.dictnamespace = nsp) THEN
        problems := problems || 'objects other than tables, indexes and sequences'::text;
    END IF;
    -- nothing in it calls a function outside rillflow and pg_catalog (column
    -- defaults, constraints, index expressions, triggers)
    problems := problems || ARRAY(
        SELECT DISTINCT format('%s calls %s', pg_describe_object(d.classid, d.objid, d.objsubid), p.oid::regprocedure)
          FROM pg_depend d JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid
         WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'rillflow'::regnamespace)
           AND rillflow._object_namespace(d.classid, d.objid) = nsp
         ORDER BY 1);
    -- the store's tables, column for column as the default store's
    problems := problems || ARRAY(
        SELECT format('table %I %s', coalesce(a.relname, b.relname),
                      CASE WHEN b.relname IS NULL THEN 'is missing' WHEN a.relname IS NULL THEN 'is not a store table'
                           ELSE 'has other columns than a store''s' END)
          FROM (SELECT c.relname, array_agg(format('%s %s %s', at.attname, at.atttypid::regtype, at.attnotnull) ORDER BY at.attnum) cols
                  FROM pg_class c JOIN pg_attribute at ON at.attrelid = c.oid AND at.attnum > 0 AND NOT at.attisdropped
                 WHERE c.relnamespace = dflt AND c.relkind = 'r' AND c.relname NOT LIKE 'doc\_%' GROUP BY c.relname) a
          FULL JOIN
               -- on the partitioned archive backend, the hot partition stands for events
               (SELECT CASE WHEN c.relname = 'events_hot'
                             AND EXISTS (SELECT FROM pg_class p WHERE p.relnamespace = nsp
                                                                  AND p.relname = 'events' AND p.relkind = 'p')
                            THEN 'events'::name ELSE c.relname END AS relname,
                       array_agg(format('%s %s %s', at.attname, at.atttypid::regtype, at.attnotnull) ORDER BY at.attnum) cols
                  FROM pg_class c JOIN pg_attribute at ON at.attrelid = c.oid AND at.attnum > 0 AND NOT at.attisdropped
                 WHERE c.relnamespace = nsp AND c.relkind = 'r' AND c.relname NOT LIKE 'doc\_%' GROUP BY c.oid, c.relname) b
            ON a.relname = b.relname
         WHERE a.cols IS DISTINCT FROM b.cols ORDER BY 1);
    IF cardinality(problems) = 0 THEN
        -- the collection tables: those its registry lists, each with a
        -- collection's columns, plus only its duplicated fields
        EXECUTE format('SELECT array_agg(c.table_name ORDER BY 1) FROM %I.collections c', store) INTO registered;
        problems := problems || ARRAY(
            SELECT format('table %I is not a collection its registry lists', c.relname) FROM pg_class c
             WHERE c.relnamespace = nsp AND c.relkind = 'r' AND c.relname LIKE 'doc\_%'
               AND c.relname <> ALL (coalesce(registered, '{}')) ORDER BY 1);
        EXECUTE format($q$
            SELECT array_agg(x ORDER BY x) FROM (
              SELECT format('collection table %%I has a column %%I it should not', c.relname, at.attname) x
                FROM pg_class c JOIN pg_attribute at ON at.attrelid = c.oid AND at.attnum > 0 AND NOT at.attisdropped
               WHERE c.relnamespace = $1 AND c.relkind = 'r' AND c.relname LIKE 'doc\_%%'
                 AND at.attname <> ALL (rillflow._collection_base_columns())
                 AND NOT EXISTS (SELECT FROM %1$I.duplicated_fields f JOIN %1$I.collections k ON k.name = f.collection
                                  WHERE k.table_name = c.relname AND f.column_name = at.attname)
              UNION ALL
              SELECT format('collection table %%I lacks the column %%I', c.relname, b.col)
                FROM pg_class c CROSS JOIN unnest(rillflow._collection_base_columns()) b(col)
               WHERE c.relnamespace = $1 AND c.relkind = 'r' AND c.relname LIKE 'doc\_%%'
                 AND NOT EXISTS (SELECT FROM pg_attribute at WHERE at.attrelid = c.oid AND at.attname = b.col
                                    AND NOT at.attisdropped)) y$q$, store)
            INTO more USING nsp;
        problems := problems || coalesce(more, '{}');
    END IF;
    IF cardinality(problems) = 0 THEN
        IF _register_restored_store.schema_version IS NULL
           OR _register_restored_store.schema_version NOT BETWEEN 1 AND rillflow._store_steps_version() THEN
            RAISE EXCEPTION 'invalid store schema version %', coalesce(_register_restored_store.schema_version::text, 'NULL')
                USING ERRCODE = '22023',
                      HINT = format('The archive''s manifest gives it; this extension makes stores of versions 1 to %s.',
                                    rillflow._store_steps_version());
        END IF;
        INSERT INTO rillflow.stores (schema_name, tenant, schema_version, created_at)
            VALUES (store, tenant, _register_restored_store.schema_version,
                    coalesce(_register_restored_store.created_at, now()));
        problems := problems || ARRAY(
            SELECT format('%s %s: %s', p.kind, coalesce(nullif(p.object, ''), 'schema'), p.problem)
              FROM rillflow._store_problems(store) p ORDER BY 1);
    END IF;
    IF cardinality(problems) > 0 THEN
        RAISE EXCEPTION 'schema "%" is not a rillflow store', store
            USING ERRCODE = '42P06',
                  DETAIL = array_to_string(problems, '; ') || '.',
                  HINT = 'Drop the schema; restore only archives made by rillflow tenants archive, as the extension''s owner.';
    END IF;
    INSERT INTO rillflow.tenants (name, schema_name, created_at)
        VALUES (tenant, store, coalesce(_register_restored_store.created_at, now()));
    PERFORM rillflow._store_migrate(store);     -- the steps added since the archive's version
END
$fn$;
REVOKE EXECUTE ON FUNCTION rillflow._register_restored_store(text, timestamptz, integer) FROM PUBLIC;
