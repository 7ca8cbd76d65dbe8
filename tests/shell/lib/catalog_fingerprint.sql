-- The catalog of rillflow in this database as sorted lines, to compare an
-- upgraded database with a fresh one (tests/shell/upgrade_from_0.1.0.sh):
-- every member of the extension with its definition and rights, the rows of
-- the extension's own catalog that a fresh install writes, and the shape of
-- every store (tenants' stores too). Creation times, OIDs and row counts
-- left out.
SET search_path = pg_catalog;
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'rillflow'),
members AS (
    SELECT d.classid, d.objid, pg_describe_object(d.classid, d.objid, d.objsubid) AS what
      FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'
)
SELECT line FROM (
    SELECT 'member ' || m.what AS line FROM members m
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid))
           || ' acl=' || coalesce(p.proacl::text, 'default') || ' owner=' || (p.proowner = (SELECT nspowner FROM pg_namespace WHERE nspname = 'rillflow'))
      FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
     WHERE p.prokind IN ('f', 'p')
    UNION ALL
    SELECT 'column ' || c.oid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
      FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT 'constraint ' || c.oid::regclass || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
      FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
      JOIN pg_constraint k ON k.conrelid = c.oid
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(x.indexrelid)
      FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
      JOIN pg_index x ON x.indrelid = c.oid
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
      FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
      JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT 'relacl ' || c.oid::regclass || ' ' || coalesce(c.relacl::text, 'default')
      FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
    UNION ALL
    SELECT 'config ' || x.cfg::regclass || ' ' || coalesce((SELECT e.extcondition[x.n] FROM ext e), '')
      FROM ext, unnest(ext.extconfig) WITH ORDINALITY AS x(cfg, n)
    UNION ALL
    SELECT 'store ' || s.schema_name || ' version=' || s.schema_version FROM rillflow.stores s
    UNION ALL
    SELECT 'store_step ' || s.version || ' ' || s.name || ' ' || md5(s.ddl) FROM rillflow.store_steps s
    UNION ALL
    SELECT 'store_shape ' || h.version || ' ' || h.kind || ' ' || h.object || ' ' || h.definition
      FROM rillflow.store_shapes h
    UNION ALL
    SELECT 'shape ' || s.schema_name || ' ' || x.kind || ' ' || x.object || ' ' || x.definition
      FROM rillflow.stores s, rillflow._store_shape(s.schema_name) x
    UNION ALL
    SELECT 'health ' || h.store || ' ' || h.status FROM rillflow.schema_health() h
) lines ORDER BY line;
