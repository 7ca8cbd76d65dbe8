-- Store step 5 (0.2.0): projections run with their owner's rights, and a
-- collection's table always follows from its name (docs/security.md).

-- collections.table_name always follows from the name (doc_<name>): admins
-- write this table, and grant_tenant gives writers DML on the tables it
-- names, so it must never name another table of the store.
ALTER TABLE @store@.collections ADD CONSTRAINT collections_table_name_rule
    CHECK (table_name OPERATOR(pg_catalog.=) rillflow._collection_table(name));

-- The role that registered a projection: its handler and reset function run
-- with this role's rights only. A projection made before 0.2.0 gets the
-- owner of its handler (the role that wrote the code that runs), or the
-- store's owner for an external projection, which runs no code here.
ALTER TABLE @store@.projections ADD COLUMN owner regrole;
UPDATE @store@.projections p
   SET owner = coalesce((SELECT f.proowner FROM pg_catalog.pg_proc f WHERE f.oid OPERATOR(pg_catalog.=) p.handler),
                        (SELECT n.nspowner FROM pg_catalog.pg_namespace n
                          WHERE n.oid OPERATOR(pg_catalog.=) '@store@'::regnamespace))::regrole;
ALTER TABLE @store@.projections ALTER COLUMN owner SET NOT NULL;

CREATE TRIGGER projections_owner BEFORE INSERT OR UPDATE OR DELETE ON @store@.projections
    FOR EACH ROW EXECUTE FUNCTION rillflow._projection_guard();
