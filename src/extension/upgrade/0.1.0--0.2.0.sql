-- The prelude of the upgrade from 0.1.0 to 0.2.0 (docs/upgrades.md): what
-- re-running the code parts cannot do by itself. Functions 0.2.0 no longer
-- has, or whose result type or argument names changed, go first (CREATE OR
-- REPLACE cannot change those); the new catalog and every function follow,
-- then every store is migrated (0.1.0--0.2.0-stores.sql).

-- 0.1.0 built stores with these; the store steps do it now.
DROP FUNCTION rillflow._create_store(name);
DROP FUNCTION rillflow._create_store_documents(name);
DROP FUNCTION rillflow._create_store_projections(name);
DROP FUNCTION rillflow._create_store_daemon(name);
-- 0.1.0 ticked the log in a reader's transaction (issue 8); readers wait for
-- a tick of its own now (events/log_sync.c).
DROP FUNCTION rillflow.run_sequencer();   -- its 0.1.0 body calls _sequence
DROP FUNCTION rillflow._sequence(name);
DROP FUNCTION rillflow._may_sequence();
DROP FUNCTION rillflow._sequence_restored(name, bigint);
-- Duplicated fields: the trigger is rebuilt by _sync_collection_table, and
-- the types are checked by _check_duplicated_field_type.
DROP FUNCTION rillflow._sync_duplicated_fields_trigger(name, text);
DROP FUNCTION rillflow._duplicated_field_types();
-- Result types that changed: projections have an owner; a collection's table
-- is returned.
DROP FUNCTION rillflow.list_projections();
DROP FUNCTION rillflow.projection_status(text);
DROP FUNCTION rillflow._create_collection_table(name, text);

-- A tenant's row always names the schema its name gives, so no row can point
-- a tenant at a schema that is not its store.
ALTER TABLE rillflow.tenants ADD CONSTRAINT tenants_schema_name_rule
    CHECK (schema_name OPERATOR(pg_catalog.=) rillflow._tenant_schema(name));

-- append_events and append_event take a category, read_all a categories
-- filter (subscriptions): the old signatures go.
DROP FUNCTION rillflow.append_events(uuid, jsonb, bigint, text, jsonb, uuid, uuid);
DROP FUNCTION rillflow.append_event(uuid, text, jsonb, bigint, text, jsonb, uuid, uuid, integer, uuid);
-- read_stream and read_all take raw (event evolution): the old signatures go,
-- or a call without raw would be ambiguous.
DROP FUNCTION rillflow.read_stream(uuid, bigint, integer);
DROP FUNCTION rillflow.read_all(bigint, integer, text[]);
-- ... and include_archived (archive/): a database on a development build of
-- 0.2.0 has the signatures with raw but without it.
DROP FUNCTION IF EXISTS rillflow.read_stream(uuid, bigint, integer, boolean);
DROP FUNCTION IF EXISTS rillflow.read_all(bigint, integer, text[], text[], boolean);
