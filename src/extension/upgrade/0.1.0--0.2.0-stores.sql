-- The end of the upgrade from 0.1.0 to 0.2.0: every store 0.1.0 made (the
-- default store and each tenant's) has the shape of store step 4, the last
-- step 0.1.0's DDL matches. List them at that version, record the shapes of
-- this version, and migrate each; a tenant's store stays out of the
-- extension (_store_migrate gives back what a step creates in it).

INSERT INTO rillflow.stores (schema_name, tenant, schema_version, created_at)
    VALUES ('rillflow_default', NULL, 4, now());
INSERT INTO rillflow.stores (schema_name, tenant, schema_version, created_at)
    SELECT t.schema_name, t.name, 4, t.created_at FROM rillflow.tenants t
     WHERE EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) t.schema_name);

-- Store step 12 drops the default store's positions table, which 0.1.0
-- registered for pg_dump: take it out of the extension first, or its entry
-- would stay behind in the extension's list of tables to dump.
ALTER EXTENSION rillflow DROP TABLE rillflow_default.positions;

SELECT rillflow._store_record_shapes();
SELECT rillflow._store_migrate(s.schema_name) FROM rillflow.stores s ORDER BY s.tenant NULLS FIRST;
SELECT rillflow._register_default_store_dump();

-- 0.1.0 ran every handler as the worker's role; 0.2.0 runs it as the
-- projection's owner (its handler's owner after this upgrade), who needs
-- read access to the store (docs/upgrades.md, "From 0.1.0"). Say which
-- projections will fail until their owner gets it.
DO $warn$
DECLARE
    s record;
    p record;
BEGIN
    FOR s IN SELECT * FROM rillflow.stores ORDER BY tenant NULLS FIRST LOOP
        FOR p IN EXECUTE format('SELECT name, owner FROM %I.projections WHERE kind = ''worker'' ORDER BY name',
                                s.schema_name) LOOP
            IF NOT pg_catalog.has_schema_privilege(p.owner::oid, s.schema_name, 'USAGE') THEN
                RAISE WARNING 'projection "%" of store "%" now runs as its owner %, who may not read the store',
                              p.name, s.schema_name, p.owner
                    USING HINT = pg_catalog.format(
                        'SELECT rillflow.grant_tenant(%L, %L, ''read''); then, if it failed meanwhile, '
                        'SET rillflow.tenant = %L; SELECT rillflow.resume_projection(%L);',
                        coalesce(s.tenant, ''), p.owner, coalesce(s.tenant, ''), p.name);
            END IF;
        END LOOP;
    END LOOP;
END
$warn$;
