-- Stores as one versioned schema: rillflow.stores, the store steps,
-- _store_migrate, schema_plan, schema_sync and schema_health
-- (docs/upgrades.md).
SET client_min_messages = warning;
SELECT rillflow.ensure_tenant('regress_st_a'), rillflow.ensure_tenant('regress_st_b');
CREATE ROLE regress_st_nobody;
RESET client_min_messages;

-- Every store is listed with the newest version of the steps; the steps are
-- numbered from 1 without a gap, and a shape is recorded for each.
SELECT s.schema_name, s.tenant, s.schema_version = (SELECT max(version) FROM rillflow.store_steps) AS newest
  FROM rillflow.stores s
 WHERE s.tenant IS NULL OR s.tenant LIKE 'regress_st_%'
 ORDER BY s.tenant NULLS FIRST;
SELECT count(*) = max(version) AND min(version) = 1 AS dense FROM rillflow.store_steps;
SELECT version, name FROM rillflow.store_steps ORDER BY version;
SELECT count(DISTINCT version) = (SELECT count(*) FROM rillflow.store_steps) AS a_shape_per_version
  FROM rillflow.store_shapes;
-- a step names its store only through the placeholder
SELECT version FROM rillflow.store_steps WHERE ddl ~ 'rillflow_default|rillflow_tenant_';

-- Fresh stores have exactly the shape of their version: health is ok and
-- there is nothing to plan.
SELECT store, tenant_name, status, problems FROM rillflow.schema_health('regress_st_a');
SELECT store, status FROM rillflow.schema_health('');
SELECT count(*) AS planned FROM rillflow.schema_plan('regress_st_a');
-- a collection's table (made on demand) is not drift
SET rillflow.tenant = 'regress_st_a';
SELECT rillflow.doc_put('things', '00000000-0000-0000-0000-0000000000a1', '{"n": 1}');
SELECT rillflow.add_duplicated_field('things', 'n', 'n', 'integer');
RESET rillflow.tenant;
SELECT status FROM rillflow.schema_health('regress_st_a');

-- Drift, made by hand: an index dropped, a column altered, a constraint
-- dropped, a right given to PUBLIC, a table that is not the store's.
DROP INDEX rillflow_tenant_regress_st_a.events_tx_idx;
ALTER TABLE rillflow_tenant_regress_st_a.stream_aliases ALTER COLUMN created_at DROP NOT NULL;
ALTER TABLE rillflow_tenant_regress_st_a.stream_aliases ALTER COLUMN created_at DROP DEFAULT;
ALTER TABLE rillflow_tenant_regress_st_a.streams ALTER COLUMN version TYPE numeric;
ALTER TABLE rillflow_tenant_regress_st_a.events DROP CONSTRAINT events_event_id_key;
DROP TRIGGER projections_owner ON rillflow_tenant_regress_st_a.projections;
GRANT SELECT ON rillflow_tenant_regress_st_a.events TO PUBLIC;
GRANT USAGE ON SCHEMA rillflow_tenant_regress_st_a TO PUBLIC;
CREATE TABLE rillflow_tenant_regress_st_a.planted (x int);

-- health names every difference, and which ones sync can repair
SELECT store, status FROM rillflow.schema_health('regress_st_a');
SELECT p->>'problem' AS problem, p->>'kind' AS kind, p->>'object' AS object, p->'repairable' AS repairable
  FROM rillflow.schema_health('regress_st_a') h, jsonb_array_elements(h.problems) p
 ORDER BY 2, 3;
SELECT p->'expected' AS expected, p->'actual' AS actual
  FROM rillflow.schema_health('regress_st_a') h, jsonb_array_elements(h.problems) p
 WHERE p->>'object' = 'events.events_tx_idx';
-- the other store is not touched by this one's drift
SELECT status FROM rillflow.schema_health('regress_st_b');

-- plan says what sync would run, and runs nothing
SELECT step, ddl FROM rillflow.schema_plan('regress_st_a') ORDER BY step;
SELECT count(*) AS tx_indexes FROM pg_indexes
 WHERE schemaname = 'rillflow_tenant_regress_st_a' AND indexname = 'events_tx_idx';

-- sync repairs what it can and says what it cannot
SET client_min_messages = warning;   -- its NOTICE names the version
SELECT store, tenant_name, steps_applied, repaired, unrepaired FROM rillflow.schema_sync('regress_st_a');
RESET client_min_messages;
SELECT p->>'problem' AS problem, p->>'kind' AS kind, p->>'object' AS object
  FROM rillflow.schema_health('regress_st_a') h, jsonb_array_elements(h.problems) p
 ORDER BY 2, 3;
SELECT indexname FROM pg_indexes
 WHERE schemaname = 'rillflow_tenant_regress_st_a' AND indexname IN ('events_tx_idx', 'events_event_id_key')
 ORDER BY 1;
SELECT has_table_privilege('regress_st_nobody', 'rillflow_tenant_regress_st_a.events', 'SELECT') AS public_reads;
-- what a person must decide stays until a person does
ALTER TABLE rillflow_tenant_regress_st_a.streams ALTER COLUMN version TYPE bigint;
DROP TABLE rillflow_tenant_regress_st_a.planted;
SET client_min_messages = warning;
SELECT store, steps_applied, repaired, unrepaired FROM rillflow.schema_sync('regress_st_a');
RESET client_min_messages;
SELECT status, problems FROM rillflow.schema_health('regress_st_a');

-- A store behind the newest version (what a store restored from a 0.1.0 dump
-- is): rebuilt by steps 1 to 4 only. Plan lists the steps it lacks, sync
-- applies them, and it ends with the newest shape.
SELECT rillflow._store_migrate('rillflow_tenant_regress_st_b', 0) AS applied;   -- never backwards
SET client_min_messages = warning;
DROP SCHEMA rillflow_tenant_regress_st_b CASCADE;
CREATE SCHEMA rillflow_tenant_regress_st_b;
SELECT rillflow._store_apply_steps('rillflow_tenant_regress_st_b', 0, 4) AS applied;
UPDATE rillflow.stores SET schema_version = 4 WHERE tenant = 'regress_st_b';
RESET client_min_messages;
SELECT status, jsonb_array_length(problems) AS problems, problems->0->>'problem' AS problem,
       (problems->0->>'actual')::int AS has, (problems->0->>'expected')::int = (SELECT max(version) FROM rillflow.store_steps) AS lacks_up_to_newest
  FROM rillflow.schema_health('regress_st_b');
SELECT count(*) = (SELECT max(version) - 4 FROM rillflow.store_steps) AS a_step_each,
       (array_agg(step ORDER BY split_part(split_part(step, ' ', 2), ':', 1)::int))[1] AS first
  FROM rillflow.schema_plan('regress_st_b');
SET client_min_messages = warning;
SELECT steps_applied = (SELECT max(version) - 4 FROM rillflow.store_steps) AS applied_the_rest, repaired,
       schema_version = (SELECT max(version) FROM rillflow.store_steps) AS newest
  FROM rillflow.schema_sync('regress_st_b');
RESET client_min_messages;
SELECT status FROM rillflow.schema_health('regress_st_b');
-- a second sync finds nothing to do
SET client_min_messages = warning;
SELECT steps_applied, repaired FROM rillflow.schema_sync('regress_st_b');
RESET client_min_messages;

-- Every store at once: one row per store.
SELECT store, status FROM rillflow.schema_health() WHERE tenant_name IS NULL OR tenant_name LIKE 'regress_st_%'
 ORDER BY tenant_name NULLS FIRST;
SET client_min_messages = warning;   -- other tests' tenants may be there too
SELECT bool_and(steps_applied = 0 AND repaired = 0 AND unrepaired = '[]') AS nothing_to_do,
       count(*) FILTER (WHERE tenant_name LIKE 'regress_st_%') AS ours
  FROM rillflow.schema_sync();
RESET client_min_messages;

-- Errors
SELECT * FROM rillflow.schema_health('nope_no_such');            -- RF005
SELECT * FROM rillflow.schema_plan('Bad-Name');                  -- 22023
SELECT * FROM rillflow.schema_sync('nope_no_such');              -- RF005
SELECT rillflow._store_migrate('pg_catalog');                    -- 22023: not a store
SELECT rillflow._store_migrate('rillflow_tenant_regress_st_b', 999);   -- 22023
-- a role that does not act as the store's owner may look, not sync
SET ROLE regress_st_nobody;
SELECT store, status FROM rillflow.schema_health('regress_st_b');
SELECT * FROM rillflow.schema_sync('regress_st_b');              -- 42501
SELECT rillflow._store_migrate('rillflow_tenant_regress_st_b');  -- 42501
SELECT rillflow._create_store('rillflow_tenant_planted', 'planted');   -- internal: 42501
RESET ROLE;
-- a store whose schema was dropped by hand
DROP SCHEMA rillflow_tenant_regress_st_b CASCADE;
SELECT store, status, problems FROM rillflow.schema_health('regress_st_b');
SELECT step, ddl FROM rillflow.schema_plan('regress_st_b');
SELECT * FROM rillflow.schema_sync('regress_st_b');              -- 55000

-- teardown
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_st_a'), rillflow._drop_store('regress_st_b');
SELECT count(*) AS left_over FROM rillflow.stores WHERE tenant LIKE 'regress_st_%';
DROP ROLE regress_st_nobody;
