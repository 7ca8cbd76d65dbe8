-- Tenants: one store (schema) each, and who may use it (docs/security.md).

-- SECURITY DEFINER: every store belongs to the extension's owner, whoever
-- creates the tenant, so creating a tenant never makes its creator the owner
-- of a store's tables (an owner could put triggers on them that run with the
-- rights of everyone who writes there). EXECUTE is not granted to PUBLIC: the
-- extension's owner grants it to the roles that may create tenants. The body
-- takes nothing from its caller but a name, checked before use.
CREATE OR REPLACE FUNCTION rillflow.ensure_tenant(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name;
BEGIN
    store := rillflow._tenant_schema(name);    -- checks the name (22004, 22023)
    -- The unique keys make concurrent callers queue: the first creates the
    -- store, the others find its row once it commits. No conflict target:
    -- schema_name is unique too and follows from the name, and callers racing
    -- may meet on either index; with only the primary key as arbiter, the
    -- loser could hit schema_name's and fail with 23505.
    INSERT INTO rillflow.tenants AS t (name, schema_name) VALUES (ensure_tenant.name, store)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM rillflow._create_store(store, ensure_tenant.name);
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.ensure_tenant(text) IS 'Create a tenant''s store unless it exists; true when created now';
REVOKE EXECUTE ON FUNCTION rillflow.ensure_tenant(text) FROM PUBLIC;

-- list_tenants: tenant_lifecycle.sql, with what each store holds.

-- Drop a tenant's store, whatever it holds: the tests' teardown, which
-- drop_tenant (tenant_lifecycle.sql) does with force; kept so the tests and
-- scripts that use it go on working. Internal, so not executable by PUBLIC.
-- RF005 for a tenant with no row.
CREATE OR REPLACE FUNCTION rillflow._drop_store(tenant text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM rillflow.drop_tenant(tenant, force => true);
END
$fn$;
REVOKE EXECUTE ON FUNCTION rillflow._drop_store(text) FROM PUBLIC;

-- The schema of a tenant's store for grant_tenant and revoke_tenant: '' is
-- the default store (as in rillflow.tenant); 22004, 22023 (the name), RF005.
CREATE OR REPLACE FUNCTION rillflow._tenant_store(tenant text) RETURNS name
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name;
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'tenant must not be null' USING ERRCODE = '22004',
            HINT = 'Pass '''' for the default store.';
    END IF;
    IF tenant = '' THEN
        store := 'rillflow_default';
    ELSE
        PERFORM rillflow._tenant_schema(tenant);   -- 22023 for a malformed name
        SELECT t.schema_name INTO store FROM rillflow.tenants t WHERE t.name = tenant;
        IF store IS NULL THEN
            RAISE EXCEPTION 'tenant "%" does not exist', tenant
                USING ERRCODE = 'RF005',
                      HINT = format('Create it with rillflow.ensure_tenant(%L).', tenant);
        END IF;
    END IF;
    IF to_regnamespace(store) IS NULL THEN
        RAISE EXCEPTION 'the store schema "%" does not exist', store USING ERRCODE = '55000';
    END IF;
    RETURN store;
END
$fn$;

-- The rank of an access level: read 1, write 2, admin 3 (22004, 22023).
CREATE OR REPLACE FUNCTION rillflow._tenant_level_rank(level text) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF level IS NULL THEN
        RAISE EXCEPTION 'level must not be null' USING ERRCODE = '22004',
            HINT = 'The level is read, write or admin.';
    END IF;
    CASE level
        WHEN 'read' THEN RETURN 1;
        WHEN 'write' THEN RETURN 2;
        WHEN 'admin' THEN RETURN 3;
        ELSE
            RAISE EXCEPTION 'invalid access level %', quote_literal(left(level, 64))
                USING ERRCODE = '22023', HINT = 'The level is read, write or admin.';
    END CASE;
END
$fn$;

-- What each level grants on a store's tables and sequences beyond read
-- (USAGE on the schema, SELECT on every table): the one list of the rule,
-- which docs/security.md shows. Collection tables (doc_*) take INSERT, UPDATE
-- and DELETE at write level as well: from grant_tenant for those that exist,
-- from _create_collection_table for later ones. No level writes the log
-- tables (positions, log_state): the sequencer does, as the store's owner.
CREATE OR REPLACE FUNCTION rillflow._tenant_level_grants()
    RETURNS TABLE (level text, kind text, object name, privileges text)
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    VALUES ('write', 'TABLE', 'streams'::name, 'INSERT, UPDATE'),
           ('write', 'TABLE', 'events', 'INSERT'),
           ('write', 'TABLE', 'idempotency_keys', 'INSERT'),
           ('write', 'TABLE', 'stream_aliases', 'INSERT'),
           ('write', 'SEQUENCE', 'events_seq', 'USAGE'),
           ('write', 'TABLE', 'stream_categories', 'INSERT'),
           ('write', 'TABLE', 'subscription_groups', 'INSERT, UPDATE'),
           ('write', 'TABLE', 'subscription_outstanding', 'INSERT, UPDATE, DELETE'),
           ('write', 'TABLE', 'subscription_consumers', 'INSERT, UPDATE'),
           ('write', 'TABLE', 'subscription_dlq', 'INSERT'),
           ('write', 'TABLE', 'snapshots', 'INSERT, UPDATE, DELETE'),
           ('write', 'TABLE', 'aggregate_streams', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'collections', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'duplicated_fields', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'compiled_queries', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'projections', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'projection_dlq', 'INSERT, UPDATE, DELETE'),
           ('admin', 'SEQUENCE', 'projection_dlq_seq', 'USAGE'),
           ('admin', 'TABLE', 'daemon_clusters', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'daemon_nodes', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'subscriptions', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'subscription_dlq', 'UPDATE, DELETE'),
           ('admin', 'TABLE', 'upcasters', 'INSERT, UPDATE, DELETE'),
           ('admin', 'TABLE', 'aggregates', 'INSERT, UPDATE, DELETE');
END;

-- The store's owner, or 42501 unless the current user acts with its rights
-- (is it, a member of it, or a superuser): a GRANT by anyone else would only
-- warn that nothing was granted.
CREATE OR REPLACE FUNCTION rillflow._check_store_owner(store name, verb text) RETURNS regrole
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    owner regrole;
BEGIN
    SELECT n.nspowner::regrole INTO owner FROM pg_namespace n WHERE n.nspname = store;
    IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied to % access to store "%"', verb, store
            USING ERRCODE = '42501',
                  DETAIL = format('Only the store''s owner (role %s), its members and superusers may.', owner);
    END IF;
    RETURN owner;
END
$fn$;

-- The collection tables of a store that exist.
CREATE OR REPLACE FUNCTION rillflow._collection_tables(store name) RETURNS SETOF name
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT c.table_name FROM %I.collections c '
        'WHERE to_regclass(format(''%%I.%%I'', $1::text, c.table_name)) IS NOT NULL ORDER BY 1', store)
        USING store;
END
$fn$;

-- The role a tenant grant names: 22004 when NULL, 42704 when no such role
-- (a regrole argument can outlive its role: the OID of a dropped one).
CREATE OR REPLACE FUNCTION rillflow._check_grantee(role regrole) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = role) THEN
        RAISE EXCEPTION 'role with OID % does not exist', role::oid USING ERRCODE = '42704';
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION rillflow.grant_tenant(tenant text, role regrole, level text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow._tenant_store(tenant);          -- 22004, 22023, RF005
    rank integer := rillflow._tenant_level_rank(level);    -- 22004, 22023
    owner regrole;
    g record;
    tbl name;
BEGIN
    PERFORM rillflow._check_grantee(role);                -- 22004, 42704
    owner := rillflow._check_store_owner(store, 'grant');  -- 42501
    -- read: the schema and every table, now and later (the API's schema is
    -- every role's already)
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', store, role);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %s', store, role);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %I GRANT SELECT ON TABLES TO %s',
                   owner, store, role);
    FOR g IN SELECT * FROM rillflow._tenant_level_grants() x
              WHERE rillflow._tenant_level_rank(x.level) <= rank LOOP
        EXECUTE format('GRANT %s ON %s %I.%I TO %s', g.privileges, g.kind, store, g.object, role);
    END LOOP;
    IF rank >= 2 THEN
        FOR tbl IN SELECT * FROM rillflow._collection_tables(store) LOOP
            EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %I.%I TO %s', store, tbl, role);
        END LOOP;
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.grant_tenant(text, regrole, text)
    IS 'Give a role read, write or admin access to a tenant''s store ('''' is the default store)';

CREATE OR REPLACE FUNCTION rillflow.revoke_tenant(tenant text, role regrole, level text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow._tenant_store(tenant);          -- 22004, 22023, RF005
    rank integer := rillflow._tenant_level_rank(level);    -- 22004, 22023
    owner regrole;
    g record;
BEGIN
    PERFORM rillflow._check_grantee(role);                -- 22004, 42704
    owner := rillflow._check_store_owner(store, 'revoke');  -- 42501
    -- the level and those above it go; the ones below stay
    FOR g IN SELECT * FROM rillflow._tenant_level_grants() x
              WHERE rillflow._tenant_level_rank(x.level) >= rank LOOP
        EXECUTE format('REVOKE %s ON %s %I.%I FROM %s', g.privileges, g.kind, store, g.object, role);
    END LOOP;
    IF rank <= 2 THEN
        -- no write right of any kind is left on the store, whoever granted it
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA %I FROM %s',
                       store, role);
        EXECUTE format('REVOKE USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA %I FROM %s', store, role);
    END IF;
    IF rank = 1 THEN
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %s', store, role);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %s', store, role);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %s', store, role);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %I REVOKE SELECT ON TABLES FROM %s',
                       owner, store, role);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.revoke_tenant(text, regrole, text)
    IS 'Take a level (and the levels above it) on a tenant''s store away from a role';
