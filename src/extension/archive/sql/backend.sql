-- A store's archive backend and the archive's tablespace (README.md).
--
-- Both switches are catalog changes on the data in place, never a copy: the
-- hot table and events_archive are the same two tables on either backend,
-- only attached differently (inheritance or partitions), so a switch with
-- millions of events takes a moment's ACCESS EXCLUSIVE lock on the events,
-- not a rewrite. ATTACH PARTITION skips its validating scan because each
-- table's retention_class CHECK constraint already proves the partition
-- bound.

-- The store's owner may change its DDL: the caller must be that role, a
-- member of it or a superuser (42501), and the store must be at the archive step (0011_archive).
CREATE OR REPLACE FUNCTION rillflow._archive_check_owner(store name, action text) RETURNS regrole
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    owner regrole := rillflow._store_owner(store)::regrole;    -- 22023, 55000
BEGIN
    IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied to %', action
            USING ERRCODE = '42501',
                  DETAIL = format('Only the owner of store "%s" (role %s), its members and superusers may.',
                                  store, owner);
    END IF;
    IF to_regclass(format('%I.events_archive', store)) IS NULL THEN
        RAISE EXCEPTION 'store "%" has no archive yet', store
            USING ERRCODE = '55000', HINT = 'Bring the store up to date with rillflow.schema_sync().';
    END IF;
    RETURN owner;
END
$fn$;

-- Switch the current store's archive backend: 'dual_table' (events_archive
-- inherits from events) or 'partitioned' (events partitioned by
-- retention_class into events_hot and events_archive). Existing events stay
-- where they are. Returns false when the store has that backend already.
CREATE OR REPLACE FUNCTION rillflow.set_archive_backend(backend text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    owner regrole;
    caller text := current_setting('role');
    switched boolean;
    g record;
BEGIN
    IF backend IS NULL THEN
        RAISE EXCEPTION 'backend must not be null' USING ERRCODE = '22004',
            HINT = 'Pass ''dual_table'' or ''partitioned''.';
    END IF;
    IF backend NOT IN ('dual_table', 'partitioned') THEN
        RAISE EXCEPTION 'unknown archive backend %', quote_literal(backend) USING ERRCODE = '22023',
            HINT = 'Pass ''dual_table'' or ''partitioned''.';
    END IF;
    owner := rillflow._archive_check_owner(store, 'change the archive backend');
    -- The default store's tables belong to the extension: pg_dump leaves
    -- their definitions to CREATE EXTENSION, which makes them dual_table, so
    -- a partitioned default store would not restore.
    IF backend = 'partitioned' AND NOT EXISTS (SELECT FROM rillflow.stores s
                                                WHERE s.schema_name = store AND s.tenant IS NOT NULL) THEN
        RAISE EXCEPTION 'the default store cannot use the partitioned archive backend'
            USING ERRCODE = '0A000',
                  DETAIL = 'Its tables belong to the extension, and pg_dump leaves their definitions to CREATE EXTENSION, which makes them dual_table: a dump of a partitioned default store would not restore.',
                  HINT = 'Keep the default store on dual_table, or use a tenant''s store (rillflow.ensure_tenant) for the partitioned backend.';
    END IF;
    -- every statement on the events (appends, reads, ticks) waits here
    EXECUTE format('LOCK TABLE %I.events IN ACCESS EXCLUSIVE MODE', store);
    IF rillflow._archive_backend(store) = backend THEN
        RETURN false;
    END IF;
    switched := current_user::regrole <> owner;
    IF switched THEN
        PERFORM set_config('role', owner::text, true);
    END IF;
    IF backend = 'partitioned' THEN
        EXECUTE format('ALTER TABLE %I.events_archive NO INHERIT %I.events', store, store);
        EXECUTE format('ALTER TABLE %I.events RENAME TO events_hot', store);
        EXECUTE format('CREATE TABLE %1$I.events (LIKE %1$I.events_hot INCLUDING DEFAULTS INCLUDING STORAGE'
                       ' INCLUDING COMPRESSION) PARTITION BY LIST (retention_class)', store);
        -- the sequence belongs to the table the store drops last
        EXECUTE format('ALTER SEQUENCE %1$I.events_seq OWNED BY %1$I.events.seq', store);
        -- the parent's rights are the hot table's: appends and reads go through it
        FOR g IN SELECT a.grantee, a.privilege_type
                   FROM pg_class c, aclexplode(c.relacl) a
                  WHERE c.oid = to_regclass(format('%I.events_hot', store)) AND a.grantee <> c.relowner LOOP
            EXECUTE format('GRANT %s ON %I.events TO %s', g.privilege_type, store,
                           CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END);
        END LOOP;
        EXECUTE format('ALTER TABLE %1$I.events ATTACH PARTITION %1$I.events_hot FOR VALUES IN (''hot'')', store);
        EXECUTE format('ALTER TABLE %1$I.events ATTACH PARTITION %1$I.events_archive FOR VALUES IN (''cold'')', store);
    ELSE
        EXECUTE format('ALTER TABLE %1$I.events DETACH PARTITION %1$I.events_hot', store);
        EXECUTE format('ALTER TABLE %1$I.events DETACH PARTITION %1$I.events_archive', store);
        EXECUTE format('ALTER SEQUENCE %1$I.events_seq OWNED BY %1$I.events_hot.seq', store);
        EXECUTE format('DROP TABLE %I.events', store);
        EXECUTE format('ALTER TABLE %I.events_hot RENAME TO events', store);
        EXECUTE format('ALTER TABLE %1$I.events_archive INHERIT %1$I.events', store);
    END IF;
    IF switched THEN
        PERFORM set_config('role', caller, true);
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.set_archive_backend(text)
    IS 'Switch the current store''s archive backend (dual_table or partitioned), its events in place';

-- Put the current store's archive (events_archive and its indexes) in a
-- tablespace; NULL: the database's default. Moving rewrites the archive's
-- files, holding an ACCESS EXCLUSIVE lock on it meanwhile.
CREATE OR REPLACE FUNCTION rillflow.set_archive_tablespace(tablespace name) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    owner regrole;
    target name := coalesce(tablespace, 'pg_default');
    caller text := current_setting('role');
    switched boolean;
    idx record;
BEGIN
    owner := rillflow._archive_check_owner(store, 'move the archive');
    IF NOT EXISTS (SELECT FROM pg_tablespace t WHERE t.spcname = target) THEN
        RAISE EXCEPTION 'tablespace "%" does not exist', target USING ERRCODE = '42704';
    END IF;
    IF target <> 'pg_default' AND NOT has_tablespace_privilege(owner::oid, target, 'CREATE') THEN
        RAISE EXCEPTION 'permission denied to move the archive to tablespace "%"', target
            USING ERRCODE = '42501',
                  DETAIL = format('The store''s owner (role %s) needs CREATE on the tablespace.', owner),
                  HINT = format('GRANT CREATE ON TABLESPACE %I TO %s;', target, owner);
    END IF;
    switched := current_user::regrole <> owner;
    IF switched THEN
        PERFORM set_config('role', owner::text, true);
    END IF;
    EXECUTE format('ALTER TABLE %I.events_archive SET TABLESPACE %I', store, target);
    FOR idx IN SELECT i.indexrelid::regclass AS name FROM pg_index i
                WHERE i.indrelid = to_regclass(format('%I.events_archive', store)) LOOP
        EXECUTE format('ALTER INDEX %s SET TABLESPACE %I', idx.name, target);
    END LOOP;
    IF switched THEN
        PERFORM set_config('role', caller, true);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.set_archive_tablespace(name)
    IS 'Move the current store''s archive (events_archive and its indexes) to a tablespace; NULL: the default';
