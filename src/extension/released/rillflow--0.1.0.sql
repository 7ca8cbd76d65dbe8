-- rillflow 0.1.0 as released (made by make at commit f828851): never edit it; an upgrade script takes a 0.1.0 database forward.
\echo Use "CREATE EXTENSION rillflow" to load this file. \quit

-- src/extension/sql/00_catalog.sql
-- The catalog that spans stores, and the types of the API.
--
-- Every function in this extension pins search_path to pg_catalog, pg_temp
-- (or, for the C functions on the append path, schema-qualifies every name and
-- operator it uses), so objects planted in other schemas are never called.

COMMENT ON SCHEMA rillflow IS 'rillflow: event store and document store API';

CREATE TYPE rillflow.event_envelope AS (
    position        bigint,
    stream_id       uuid,
    version         bigint,
    type            text,
    event_version   integer,
    body            jsonb,
    headers         jsonb,
    event_id        uuid,
    causation_id    uuid,
    correlation_id  uuid,
    created_at      timestamptz
);
COMMENT ON TYPE rillflow.event_envelope IS 'An event as read back: the body and its envelope';

-- One row per tenant store; the default store is not listed.
CREATE TABLE rillflow.tenants (
    name        text PRIMARY KEY,
    schema_name name NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE rillflow.tenants IS 'Tenants and the schemas that hold their stores';
SELECT pg_catalog.pg_extension_config_dump('rillflow.tenants', '');

CREATE FUNCTION rillflow.current_store() RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_current_store'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rillflow.current_store() IS 'The schema of the store that rillflow.tenant selects';

CREATE FUNCTION rillflow._tenant_schema(name text) RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_tenant_schema'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION rillflow._may_sequence() RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_may_sequence'
    LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION rillflow._system_identifier() RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_system_identifier'
    LANGUAGE C STABLE PARALLEL SAFE;

-- src/extension/sql/10_store.sql
-- A store: one schema with a complete set of data tables. The default store is
-- created with the extension; each tenant gets one from rillflow.ensure_tenant.

CREATE FUNCTION rillflow._create_store(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format('CREATE SCHEMA %I', store);
    EXECUTE format($ddl$
        CREATE SEQUENCE %1$I.events_seq;

        CREATE TABLE %1$I.streams (
            stream_id   uuid PRIMARY KEY,
            version     bigint NOT NULL CHECK (version > 0),
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        );

        -- seq is the provisional number an event gets when it is written and
        -- tx the appending transaction; the position in the global log is
        -- given after commit by the sequencer, in the positions table.
        CREATE TABLE %1$I.events (
            seq             bigint PRIMARY KEY DEFAULT nextval(%2$L::regclass),
            tx              xid8 NOT NULL DEFAULT pg_current_xact_id(),
            stream_id       uuid NOT NULL,
            version         bigint NOT NULL,
            type            text NOT NULL,
            event_version   integer NOT NULL DEFAULT 1 CHECK (event_version > 0),
            body            jsonb NOT NULL,
            headers         jsonb NOT NULL DEFAULT '{}',
            event_id        uuid NOT NULL,
            causation_id    uuid,
            correlation_id  uuid,
            created_at      timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
            CONSTRAINT events_event_id_key UNIQUE (event_id)
        );
        CREATE INDEX events_tx_idx ON %1$I.events (tx);
        ALTER SEQUENCE %1$I.events_seq OWNED BY %1$I.events.seq;

        -- The global log: position -> event, dense and append-only.
        CREATE TABLE %1$I.positions (
            position    bigint PRIMARY KEY,
            seq         bigint NOT NULL UNIQUE
        );

        -- The sequencer's state: the head, and the snapshot of its last tick.
        CREATE TABLE %1$I.log_state (
            id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
            head                bigint NOT NULL,
            last_snapshot       pg_snapshot NOT NULL,
            system_identifier   bigint NOT NULL,
            updated_at          timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE %1$I.idempotency_keys (
            key             text PRIMARY KEY,
            stream_id       uuid NOT NULL,
            first_version   bigint NOT NULL,
            last_version    bigint NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE %1$I.stream_aliases (
            alias       text PRIMARY KEY,
            stream_id   uuid NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
    $ddl$, store, format('%I.events_seq', store));
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', store, 'rillflow store');

    -- Each capability adds its own tables to a store (defined in later parts).
    PERFORM rillflow._create_store_documents(store);
    PERFORM rillflow._create_store_projections(store);
    PERFORM rillflow._create_store_daemon(store);
END
$fn$;

-- src/extension/sql/20_sequencer.sql
-- The sequencer: gives committed events their dense positions in the global
-- log, in the order they became visible. The tick is C (sequencer.c); see
-- docs/global-log.md for how it works.

-- One tick on data restored from another cluster (called by the C tick, which
-- holds the sequencer lock), where the recorded
-- transaction ids mean nothing: with every writer locked out for a moment,
-- stamp every event that has no position yet in provisional order, and mark
-- all rows as long committed so no later tick looks at them again. Runs once
-- after such a restore; returns 0 (try again later) while writers are busy.
CREATE FUNCTION rillflow._sequence_restored(store name, head bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cur pg_snapshot;
    stamped bigint;
BEGIN
    BEGIN
        EXECUTE format('LOCK TABLE %I.events IN EXCLUSIVE MODE NOWAIT', store);
    EXCEPTION WHEN lock_not_available THEN
        RETURN 0;
    END;
    cur := pg_current_snapshot();
    EXECUTE format($q$UPDATE %I.events SET tx = '1'::xid8 WHERE tx <> '1'::xid8$q$, store);
    EXECUTE format($q$
        WITH fresh AS (
            SELECT e.seq FROM %1$I.events e
             WHERE NOT EXISTS (SELECT FROM %1$I.positions p WHERE p.seq = e.seq)),
        stamped AS (
            INSERT INTO %1$I.positions (position, seq)
            SELECT $1 + row_number() OVER (ORDER BY seq), seq FROM fresh
            RETURNING 1)
        SELECT count(*) FROM stamped$q$, store)
        INTO stamped USING head;
    EXECUTE format($q$
        UPDATE %I.log_state
           SET head = $1, last_snapshot = $2, system_identifier = $3, updated_at = now()$q$, store)
        USING head + stamped, cur, rillflow._system_identifier();
    RAISE LOG 'rillflow: sequenced % events of store % restored from another cluster', stamped, store;
    RETURN stamped;
END
$fn$;

-- One tick of the store's sequencer (C, src/extension/sequencer.c). Returns
-- how many events got positions; 0 when another session is ticking.
CREATE FUNCTION rillflow._sequence(store name) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_sequence'
    LANGUAGE C VOLATILE STRICT;

-- _sequence refuses anything but READ COMMITTED (25000).
CREATE FUNCTION rillflow.run_sequencer() RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
RETURN rillflow._sequence(rillflow.current_store());
COMMENT ON FUNCTION rillflow.run_sequencer() IS 'Give positions to the events committed since the last tick';

CREATE FUNCTION rillflow.head_position() RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    head bigint;
BEGIN
    IF rillflow._may_sequence() THEN
        PERFORM rillflow._sequence(store);
    END IF;
    EXECUTE format('SELECT head FROM %I.log_state', store) INTO head;
    RETURN coalesce(head, 0);
END
$fn$;
COMMENT ON FUNCTION rillflow.head_position() IS 'The highest position in the global log';

-- src/extension/sql/30_events.sql
-- Events: append (C, append.c), reads (C, reads.c), aliases.
--
-- The C functions set no search_path: a SET clause would cost a settings save
-- and restore on every call, and the C code schema-qualifies every name and
-- operator it uses.

CREATE FUNCTION rillflow.append_events(
    stream_id uuid,
    events jsonb,
    expected_version bigint DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    causation_id uuid DEFAULT NULL,
    correlation_id uuid DEFAULT NULL
) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_append_events'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.append_events(uuid, jsonb, bigint, text, jsonb, uuid, uuid)
    IS 'Append events to a stream; returns the stream''s new version';

CREATE FUNCTION rillflow.append_event(
    stream_id uuid,
    type text,
    body jsonb,
    expected_version bigint DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    causation_id uuid DEFAULT NULL,
    correlation_id uuid DEFAULT NULL,
    event_version integer DEFAULT NULL,
    event_id uuid DEFAULT NULL
) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_append_event'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.append_event(uuid, text, jsonb, bigint, text, jsonb, uuid, uuid, integer, uuid)
    IS 'Append one event to a stream; returns the stream''s new version';

CREATE FUNCTION rillflow.read_stream(
    stream_id uuid,
    from_version bigint DEFAULT 1,
    max_count integer DEFAULT NULL
) RETURNS SETOF rillflow.event_envelope
    AS 'MODULE_PATHNAME', 'rillflow_read_stream'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rillflow.read_stream(uuid, bigint, integer) IS 'A stream''s events in version order';

CREATE FUNCTION rillflow.read_all(
    after_position bigint DEFAULT 0,
    max_count integer DEFAULT 1000,
    event_types text[] DEFAULT NULL
) RETURNS SETOF rillflow.event_envelope
    AS 'MODULE_PATHNAME', 'rillflow_read_all'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.read_all(bigint, integer, text[])
    IS 'The global log after a position: every committed event once, in position order';

CREATE FUNCTION rillflow.stream_version(stream_id uuid) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_stream_version'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION rillflow.stream_version(uuid) IS 'A stream''s current version, NULL when it does not exist';

CREATE FUNCTION rillflow.resolve_stream_alias(alias text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    id uuid;
BEGIN
    IF alias IS NULL THEN
        RAISE EXCEPTION 'alias must not be null' USING ERRCODE = '22004';
    END IF;
    IF length(alias) NOT BETWEEN 1 AND 512 THEN
        RAISE EXCEPTION 'alias must be 1 to 512 characters long, not %', length(alias)
            USING ERRCODE = '22023';
    END IF;
    IF alias ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'alias must not contain control characters'
            USING ERRCODE = '22023', DETAIL = format('Got %L.', left(alias, 64));
    END IF;
    EXECUTE format('SELECT stream_id FROM %I.stream_aliases WHERE alias = $1', store) INTO id USING alias;
    IF id IS NULL THEN
        -- Of two first callers, the second waits on the primary key, finds the
        -- first's row and reads it in the next statement.
        EXECUTE format($q$
            INSERT INTO %I.stream_aliases (alias, stream_id) VALUES ($1, gen_random_uuid())
            ON CONFLICT (alias) DO NOTHING RETURNING stream_id$q$, store)
            INTO id USING alias;
        IF id IS NULL THEN
            EXECUTE format('SELECT stream_id FROM %I.stream_aliases WHERE alias = $1', store)
                INTO id USING alias;
        END IF;
    END IF;
    RETURN id;
END
$fn$;
COMMENT ON FUNCTION rillflow.resolve_stream_alias(text) IS 'The stream id for an alias, created on first use';

-- src/extension/sql/40_tenants.sql
-- Tenants: one store (schema) each.

CREATE FUNCTION rillflow.ensure_tenant(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
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
    PERFORM rillflow._create_store(store);
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.ensure_tenant(text) IS 'Create a tenant''s store unless it exists; true when created now';

CREATE FUNCTION rillflow.list_tenants()
    RETURNS TABLE (name text, schema_name name, created_at timestamptz)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT t.name, t.schema_name, t.created_at FROM rillflow.tenants t ORDER BY t.name;
END;
COMMENT ON FUNCTION rillflow.list_tenants() IS 'The tenants and their store schemas';

-- src/extension/sql/50_documents.sql
-- Documents: the store tables and collections. CRUD is in 51_documents_crud.sql,
-- duplicated fields in 52, the index advisor in 53 (see docs/documents.md).

CREATE FUNCTION rillflow._collection_table(collection text) RETURNS name
    AS 'MODULE_PATHNAME', 'rillflow_collection_table'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The table of a collection in the current store; creates a missing one when
-- create is true and rillflow.auto_create_collections is on, RF004 otherwise.
CREATE FUNCTION rillflow._collection_relid(collection text, create_missing boolean) RETURNS regclass
    AS 'MODULE_PATHNAME', 'rillflow_collection_relid'
    LANGUAGE C VOLATILE;

-- The table of one collection: documents are JSON objects with a version.
CREATE FUNCTION rillflow._create_collection_table(store name, collection text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tbl name := rillflow._collection_table(collection);
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE %1$I.%2$I (
            id          uuid PRIMARY KEY,
            data        jsonb NOT NULL CONSTRAINT %3$I CHECK (jsonb_typeof(data) = 'object'),
            version     bigint NOT NULL CONSTRAINT %4$I CHECK (version > 0),
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            deleted_at  timestamptz
        )$ddl$, store, tbl, 'data_object', 'version_positive');
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', store, tbl, 'rillflow collection ' || collection);
END
$fn$;

-- The table of a collection, after registering the collection when create is
-- true; NULL when it does not exist. A collection registered without a table
-- (the default store's docs until its first use) gets one here. The row lock
-- on the collections row makes concurrent first users create the table once:
-- the second waits for the first to commit, then finds its table.
CREATE FUNCTION rillflow._ensure_collection(store name, collection text, create_missing boolean) RETURNS oid
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tbl name := rillflow._collection_table(collection);
    rel regclass;
BEGIN
    IF create_missing THEN
        -- No conflict target: table_name is unique too and follows from the
        -- name, and two first writers racing may meet on either index; with
        -- only (name) as arbiter, the loser could hit table_name's and fail.
        EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2) '
                       'ON CONFLICT DO NOTHING', store) USING collection, tbl;
    END IF;
    EXECUTE format('SELECT table_name FROM %I.collections WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE',
                   store) INTO tbl USING collection;
    IF tbl IS NULL THEN
        RETURN NULL;
    END IF;
    rel := to_regclass(format('%I.%I', store, tbl));
    IF rel IS NULL THEN
        PERFORM rillflow._create_collection_table(store, collection);
        rel := to_regclass(format('%I.%I', store, tbl));
    END IF;
    RETURN rel;
END
$fn$;

-- The document tables of one store; called by rillflow._create_store.
--
-- Collection tables are never extension members: pg_dump dumps them whole
-- (definition, duplicated-field columns, indexes, triggers, rows) like any
-- user table. So the default store, created by CREATE EXTENSION, registers
-- docs here and creates its table on first use; tenant stores do the same, so
-- every store starts with the same tables.
CREATE FUNCTION rillflow._create_store_documents(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE %1$I.collections (
            name        text PRIMARY KEY,
            table_name  name NOT NULL UNIQUE,
            created_at  timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE %1$I.duplicated_fields (
            collection  text NOT NULL REFERENCES %1$I.collections (name) ON DELETE CASCADE,
            path        text NOT NULL,
            column_name name NOT NULL,
            type        text NOT NULL,
            indexed     boolean NOT NULL,
            transform   text,
            created_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (collection, column_name),
            UNIQUE (collection, path)
        );

        CREATE TABLE %1$I.compiled_queries (
            name        text PRIMARY KEY,
            collection  text NOT NULL,
            spec        jsonb NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
    $ddl$, store);
    EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2)', store)
        USING 'docs', rillflow._collection_table('docs');
END
$fn$;

CREATE FUNCTION rillflow.create_collection(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(name);    -- checks the name (22004, 22023)
    created bigint;
BEGIN
    EXECUTE format('INSERT INTO %I.collections (name, table_name) VALUES ($1, $2) '
                   'ON CONFLICT DO NOTHING', store) USING create_collection.name, tbl;   -- see _ensure_collection
    GET DIAGNOSTICS created = ROW_COUNT;
    PERFORM rillflow._ensure_collection(store, create_collection.name, false);
    RETURN created OPERATOR(pg_catalog.>) 0;
END
$fn$;
COMMENT ON FUNCTION rillflow.create_collection(text)
    IS 'Create a collection unless it exists; true when created now';

-- Dropping docs drops its table, rows and duplicated fields; docs itself stays
-- (it exists in every store) and gets a new, empty table on next use.
CREATE FUNCTION rillflow.drop_collection(name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(name);    -- checks the name (22004, 22023)
    found_it boolean;
BEGIN
    EXECUTE format('SELECT true FROM %I.collections WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE', store)
        INTO found_it USING drop_collection.name;
    IF found_it IS NULL THEN
        RETURN false;
    END IF;
    IF to_regclass(format('%I.%I', store, tbl)) IS NOT NULL THEN
        EXECUTE format('DROP TABLE %I.%I', store, tbl);
    END IF;
    IF drop_collection.name OPERATOR(pg_catalog.=) 'docs' THEN
        EXECUTE format('DELETE FROM %I.duplicated_fields WHERE collection OPERATOR(pg_catalog.=) $1', store)
            USING drop_collection.name;
    ELSE
        EXECUTE format('DELETE FROM %I.collections WHERE name OPERATOR(pg_catalog.=) $1', store)
            USING drop_collection.name;
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_collection(text)
    IS 'Drop a collection with its documents; false when it did not exist';

CREATE FUNCTION rillflow.list_collections()
    RETURNS TABLE (name text, table_name name, duplicated_fields integer, created_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT c.name, c.table_name,
               (SELECT count(*)::integer FROM %1$I.duplicated_fields f
                 WHERE f.collection OPERATOR(pg_catalog.=) c.name),
               c.created_at
          FROM %1$I.collections c ORDER BY c.name$q$, rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.list_collections() IS 'The collections of the current store';

-- src/extension/sql/51_documents_crud.sql
-- Documents: reads and writes (C, documents.c). Like the event functions, the
-- C functions set no search_path and schema-qualify every name and operator.

CREATE FUNCTION rillflow._check_field_path(path text, argname text DEFAULT 'path') RETURNS text[]
    AS 'MODULE_PATHNAME', 'rillflow_check_field_path'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Set dotted paths of a document (an object of path -> value), parents before
-- children (jsonb keeps an object's keys shortest first), creating missing
-- parent objects. Paths are checked by the caller.
CREATE FUNCTION rillflow._doc_patch(data jsonb, fields jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f record;
    parts text[];
    node jsonb;
BEGIN
    FOR f IN SELECT key, value FROM jsonb_each(fields) LOOP
        parts := string_to_array(f.key, '.');
        FOR i IN 1 .. cardinality(parts) - 1 LOOP
            node := data #> parts[1:i];
            IF node IS NULL OR jsonb_typeof(node) = 'null' THEN
                data := jsonb_set(data, parts[1:i], '{}', true);
                IF data #> parts[1:i] IS NULL THEN
                    RAISE EXCEPTION 'cannot set path "%": "%" is past the end of an array',
                        f.key, array_to_string(parts[1:i], '.') USING ERRCODE = '22023';
                END IF;
            ELSIF jsonb_typeof(node) NOT IN ('object', 'array') THEN
                RAISE EXCEPTION 'cannot set path "%": "%" holds a %, not an object',
                    f.key, array_to_string(parts[1:i], '.'), jsonb_typeof(node)
                    USING ERRCODE = '22023',
                          HINT = 'Set the parent to an object first, or patch the parent itself.';
            ELSIF jsonb_typeof(node) = 'array' AND parts[i + 1] !~ '^[0-9]+$' THEN
                RAISE EXCEPTION 'cannot set path "%": "%" holds an array, and "%" is not an index',
                    f.key, array_to_string(parts[1:i], '.'), parts[i + 1] USING ERRCODE = '22023';
            END IF;
        END LOOP;
        data := jsonb_set(data, parts, f.value, true);
    END LOOP;
    RETURN data;
END
$fn$;

CREATE FUNCTION rillflow.doc_get(collection text, id uuid)
    RETURNS TABLE (data jsonb, version bigint)
    AS 'MODULE_PATHNAME', 'rillflow_doc_get'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rillflow.doc_get(text, uuid)
    IS 'A document and its version; no row when it does not exist or is soft-deleted';

CREATE FUNCTION rillflow.doc_get_many(collection text, ids uuid[])
    RETURNS TABLE (id uuid, data jsonb, version bigint)
    AS 'MODULE_PATHNAME', 'rillflow_doc_get_many'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rillflow.doc_get_many(text, uuid[])
    IS 'The live documents among ids, each once, in the order of the ids';

CREATE FUNCTION rillflow.doc_put(collection text, id uuid, data jsonb, expected_version bigint DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_put'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_put(text, uuid, jsonb, bigint)
    IS 'Insert or replace a document; returns its new version';

CREATE FUNCTION rillflow.doc_update(collection text, id uuid, data jsonb, expected_version bigint)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_update'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_update(text, uuid, jsonb, bigint)
    IS 'Replace a live document at the expected version; returns its new version';

CREATE FUNCTION rillflow.doc_patch(collection text, id uuid, path text, value jsonb,
                                   expected_version bigint DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_patch'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_patch(text, uuid, text, jsonb, bigint)
    IS 'Set one dotted path of a live document; returns its new version';

CREATE FUNCTION rillflow.doc_patch_fields(collection text, id uuid, fields jsonb,
                                          expected_version bigint DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_patch_fields'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_patch_fields(text, uuid, jsonb, bigint)
    IS 'Set many dotted paths (an object of path -> value) of a live document; returns its new version';

CREATE FUNCTION rillflow.doc_soft_delete(collection text, id uuid, expected_version bigint DEFAULT NULL)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_doc_soft_delete'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_soft_delete(text, uuid, bigint)
    IS 'Mark a live document deleted; false when there was none';

CREATE FUNCTION rillflow.doc_restore(collection text, id uuid, expected_version bigint DEFAULT NULL)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_doc_restore'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_restore(text, uuid, bigint)
    IS 'Bring back a soft-deleted document; false when there was none';

CREATE FUNCTION rillflow.doc_delete(collection text, id uuid, expected_version bigint DEFAULT NULL)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_doc_delete'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_delete(text, uuid, bigint)
    IS 'Remove a document for good (live or soft-deleted); false when there was none';

-- src/extension/sql/52_duplicated_fields.sql
-- Duplicated fields: a path of the documents copied into a real column of the
-- collection's table (cast to a type, optionally transformed), kept in step by
-- the C trigger rillflow._doc_sync_fields, and indexed. doc_query uses the
-- column for predicates and sorts on that path.

CREATE FUNCTION rillflow._doc_sync_fields() RETURNS trigger
    AS 'MODULE_PATHNAME', 'rillflow_doc_sync_fields'
    LANGUAGE C;

-- What the trigger writes into one duplicated field's column for a document
-- (target is NULL::the column's type); add_duplicated_field backfills with it.
CREATE FUNCTION rillflow._doc_field_value(id uuid, data jsonb, column_name text, path text, type text,
                                          transform text, target anyelement) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'rillflow_doc_field_value'
    LANGUAGE C STABLE PARALLEL SAFE;   -- timestamptz input reads TimeZone

-- The column types and transforms a duplicated field may have.
CREATE FUNCTION rillflow._duplicated_field_types() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['text', 'integer', 'bigint', 'numeric', 'boolean', 'timestamptz', 'uuid'];

CREATE FUNCTION rillflow._duplicated_field_transforms() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['lower({value})', 'upper({value})', 'btrim({value})'];

-- The columns of every collection table, which a duplicated field must not take.
CREATE FUNCTION rillflow._collection_base_columns() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['id', 'data', 'version', 'created_at', 'updated_at', 'deleted_at'];

-- Rewrite the collection table's trigger from its duplicated_fields rows: the
-- trigger carries its fields as arguments (column, path, type, transform).
CREATE FUNCTION rillflow._sync_duplicated_fields_trigger(store name, collection text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tbl name := rillflow._collection_table(collection);
    args text;
BEGIN
    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = format('%I.%I', store, tbl)::regclass
                                        AND tgname = 'rillflow_duplicated_fields') THEN
        EXECUTE format('DROP TRIGGER rillflow_duplicated_fields ON %I.%I', store, tbl);
    END IF;
    EXECUTE format($q$
        SELECT string_agg(format('%%L, %%L, %%L, %%L', column_name, path, type, coalesce(transform, '')),
                          ', ' ORDER BY column_name)
          FROM %I.duplicated_fields WHERE collection = $1$q$, store)
        INTO args USING collection;
    IF args IS NOT NULL THEN
        EXECUTE format('CREATE TRIGGER rillflow_duplicated_fields BEFORE INSERT OR UPDATE OF data ON %I.%I '
                       'FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields(%s)', store, tbl, args);
    END IF;
END
$fn$;

CREATE FUNCTION rillflow.add_duplicated_field(
    collection text,
    path text,
    column_name text,
    type text,
    indexed boolean DEFAULT true,
    transform text DEFAULT NULL
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name;
    canonical_transform text;
    existing text;
BEGIN
    IF indexed IS NULL THEN
        RAISE EXCEPTION 'indexed must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._check_field_path(path, 'path');     -- 22004, 22023
    IF column_name IS NULL THEN
        RAISE EXCEPTION 'column_name must not be null' USING ERRCODE = '22004';
    END IF;
    IF column_name !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid column_name %', quote_literal(left(column_name, 100))
            USING ERRCODE = '22023',
                  HINT = 'A column name is 1 to 63 characters of a-z, 0-9 and _, not starting with a digit.';
    END IF;
    IF column_name = ANY (rillflow._collection_base_columns()) THEN
        RAISE EXCEPTION 'column_name "%" is one of the columns every collection has', column_name
            USING ERRCODE = '22023',
                  HINT = format('Pick a name other than %s.', array_to_string(rillflow._collection_base_columns(), ', '));
    END IF;
    IF type IS NULL OR NOT type = ANY (rillflow._duplicated_field_types()) THEN
        RAISE EXCEPTION 'invalid type % for a duplicated field', coalesce(quote_literal(left(type, 100)), 'NULL')
            USING ERRCODE = CASE WHEN type IS NULL THEN '22004' ELSE '22023' END,
                  HINT = format('The type is one of %s.', array_to_string(rillflow._duplicated_field_types(), ', '));
    END IF;
    IF transform IS NOT NULL THEN
        canonical_transform := regexp_replace(transform, '\s', '', 'g');
        IF NOT canonical_transform = ANY (rillflow._duplicated_field_transforms()) THEN
            RAISE EXCEPTION 'invalid transform %', quote_literal(left(transform, 100))
                USING ERRCODE = '22023',
                      HINT = format('The transform is NULL or one of %s.',
                                    array_to_string(rillflow._duplicated_field_transforms(), ', '));
        END IF;
    END IF;

    tbl := rillflow._collection_table(collection);
    PERFORM rillflow._collection_relid(collection, false);   -- RF004 unless it exists
    -- Field changes of one collection queue here, before any check.
    EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE', store, tbl);
    EXECUTE format('SELECT column_name FROM %I.duplicated_fields WHERE collection = $1 AND path = $2', store)
        INTO existing USING collection, path;
    IF existing IS NOT NULL THEN
        RAISE EXCEPTION 'path "%" of collection "%" is already duplicated into column "%"', path, collection, existing
            USING ERRCODE = '42710',
                  HINT = 'Drop that duplicated field first to change its type, transform or index.';
    END IF;
    IF EXISTS (SELECT FROM pg_attribute
                WHERE attrelid = format('%I.%I', store, tbl)::regclass
                  AND attname = column_name AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'collection "%" already has a column "%"', collection, column_name
            USING ERRCODE = '42701';
    END IF;

    EXECUTE format('INSERT INTO %I.duplicated_fields (collection, path, column_name, type, indexed, transform) '
                   'VALUES ($1, $2, $3, $4, $5, $6)', store)
        USING collection, path, column_name, type, indexed, canonical_transform;
    EXECUTE format('ALTER TABLE %I.%I ADD COLUMN %I %s', store, tbl, column_name, type);
    PERFORM rillflow._sync_duplicated_fields_trigger(store, collection);

    -- Backfill: one UPDATE of the new column alone, computed as the trigger
    -- computes it (which fires neither the trigger, on UPDATE OF data, nor a
    -- rewrite of data). A document whose value does not convert fails the
    -- whole call, which adds nothing. The table is locked throughout, so
    -- batches would bound nothing.
    EXECUTE format('UPDATE %I.%I SET %I = rillflow._doc_field_value(id, data, $1, $2, $3, $4, NULL::%s)',
                   store, tbl, column_name, type)
        USING column_name, path, type, coalesce(canonical_transform, '');

    IF indexed THEN
        EXECUTE format('CREATE INDEX ON %I.%I (%I)', store, tbl, column_name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.add_duplicated_field(text, text, text, text, boolean, text)
    IS 'Copy a document path into a typed, indexed column kept in step by a trigger';

CREATE FUNCTION rillflow.drop_duplicated_field(collection text, column_name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(collection);
    n bigint;
BEGIN
    IF column_name IS NULL THEN
        RAISE EXCEPTION 'column_name must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._collection_relid(collection, false);   -- RF004 unless it exists
    EXECUTE format('LOCK TABLE %I.%I IN ACCESS EXCLUSIVE MODE', store, tbl);
    EXECUTE format('DELETE FROM %I.duplicated_fields WHERE collection = $1 AND column_name = $2', store)
        USING collection, column_name;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN false;
    END IF;
    PERFORM rillflow._sync_duplicated_fields_trigger(store, collection);
    EXECUTE format('ALTER TABLE %I.%I DROP COLUMN %I', store, tbl, column_name);
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_duplicated_field(text, text)
    IS 'Drop a duplicated field with its column and index; false when there was none';

CREATE FUNCTION rillflow.list_duplicated_fields(collection text)
    RETURNS TABLE (path text, column_name name, type text, indexed boolean, transform text,
                   created_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM rillflow._collection_relid(collection, false);   -- 22004, 22023, RF004
    RETURN QUERY EXECUTE format(
        'SELECT f.path, f.column_name, f.type, f.indexed, f.transform, f.created_at '
        'FROM %I.duplicated_fields f WHERE f.collection = $1 ORDER BY f.column_name',
        rillflow.current_store()) USING collection;
END
$fn$;
COMMENT ON FUNCTION rillflow.list_duplicated_fields(text) IS 'The duplicated fields of a collection';

-- src/extension/sql/53_index_advisor.sql
-- The index advisor: what to build for queries on one path of a collection,
-- from the collection's size, its indexes and duplicated fields, and the JSON
-- types the path holds in a sample of the documents.

CREATE FUNCTION rillflow.index_advisor(collection text, field text, gin boolean DEFAULT false)
    RETURNS TABLE (kind text, ddl text, reason text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    tbl name := rillflow._collection_table(collection);
    rel regclass;
    parts text[];
    n bigint;
    size_note text;
    dup record;
    types jsonb;
    sampled bigint;
    json_type text;
    all_integral boolean;
    all_uuid boolean;
    all_timestamp boolean;
    col_type text;
    col_name text;
    idx_name text;
    expr text;
    chain text := 'data';
BEGIN
    IF gin IS NULL THEN
        RAISE EXCEPTION 'gin must not be null' USING ERRCODE = '22004';
    END IF;
    parts := rillflow._check_field_path(field, 'field');   -- 22004, 22023
    rel := rillflow._collection_relid(collection, false);   -- 22004, 22023, RF004

    SELECT c.reltuples::bigint INTO n FROM pg_class c WHERE c.oid = rel;
    IF n < 0 THEN   -- never analyzed
        EXECUTE format('SELECT count(*) FROM %I.%I', store, tbl) INTO n;
    END IF;
    size_note := CASE WHEN n < 10000
        THEN format('The collection holds about %s documents: a sequential scan is cheap at this size, the index pays off as it grows.', n)
        ELSE format('The collection holds about %s documents.', n) END;

    -- A duplicated field already covers the path.
    EXECUTE format('SELECT * FROM %I.duplicated_fields WHERE collection = $1 AND path = $2', store)
        INTO dup USING collection, field;
    IF dup.column_name IS NOT NULL THEN
        IF dup.indexed THEN
            RETURN QUERY SELECT 'covered'::text, NULL::text,
                format('"%s" is duplicated into the indexed %s column "%s"; doc_query uses it for equality, range and sort. %s',
                       field, dup.type, dup.column_name, size_note);
        ELSE
            RETURN QUERY SELECT 'btree'::text,
                format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (%I)', left(tbl || '_' || dup.column_name, 59) || '_idx',
                       store, tbl, dup.column_name),
                format('"%s" is duplicated into column "%s", which has no index. %s', field, dup.column_name, size_note);
        END IF;
        RETURN;
    END IF;

    -- The JSON types the path holds, in a sample.
    EXECUTE format($q$
        SELECT coalesce(jsonb_object_agg(t, c), '{}'), coalesce(sum(c), 0)::bigint,
               bool_and(integral), bool_and(is_uuid), bool_and(is_ts)
          FROM (SELECT jsonb_typeof(v) AS t, count(*) AS c,
                       bool_and(jsonb_typeof(v) <> 'number' OR v::text !~ '[.eE]') AS integral,
                       bool_and(jsonb_typeof(v) <> 'string' OR (v #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') AS is_uuid,
                       bool_and(jsonb_typeof(v) <> 'string' OR (v #>> '{}') ~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$') AS is_ts
                  FROM (SELECT data #> $1 AS v FROM %I.%I LIMIT 1000) s
                 WHERE v IS NOT NULL AND jsonb_typeof(v) <> 'null'
                 GROUP BY 1) g$q$, store, tbl)
        INTO types, sampled, all_integral, all_uuid, all_timestamp USING parts;
    IF (SELECT count(*) FROM jsonb_object_keys(types)) = 1 THEN
        json_type := (SELECT k FROM jsonb_object_keys(types) k);
    END IF;
    -- The expressions doc_query emits (docs/document-queries.md): data->'a'->>'b' for
    -- strings, data->'a'->'b' (jsonb, which orders numbers numerically) for numbers and
    -- booleans; an index on anything else would never be used by doc_query.
    FOR i IN 1 .. array_length(parts, 1) - 1 LOOP
        chain := chain || '->' || CASE WHEN parts[i] ~ '^[0-9]+$' THEN parts[i] ELSE quote_literal(parts[i]) END;
    END LOOP;
    expr := format('(%s->>%s)', chain, CASE WHEN parts[array_length(parts, 1)] ~ '^[0-9]+$'
                                          THEN parts[array_length(parts, 1)]
                                          ELSE quote_literal(parts[array_length(parts, 1)]) END);

    IF json_type IN ('string', 'number', 'boolean') THEN
        col_type := CASE json_type
            WHEN 'number' THEN CASE WHEN all_integral THEN 'bigint' ELSE 'numeric' END
            WHEN 'boolean' THEN 'boolean'
            ELSE CASE WHEN all_uuid THEN 'uuid' WHEN all_timestamp THEN 'timestamptz' ELSE 'text' END END;
        col_name := left(lower(replace(field, '.', '_')), 63);
        IF col_name = ANY (rillflow._collection_base_columns())
           OR EXISTS (SELECT FROM pg_attribute WHERE attrelid = rel AND attname = col_name AND NOT attisdropped) THEN
            col_name := left(col_name, 59) || '_dup';
        END IF;
        RETURN QUERY SELECT 'duplicated_field'::text,
            format('SELECT rillflow.add_duplicated_field(%L, %L, %L, %L)', collection, field, col_name, col_type),
            format('In %s sampled documents "%s" holds only %ss: a %s column with a btree index serves equality, range and sort, and doc_query uses it without changes to the queries. %s',
                   sampled, field, json_type, col_type, size_note);
        idx_name := left(tbl || '_' || replace(field, '.', '_'), 54) || '_expr_idx';
        IF json_type IN ('number', 'boolean') THEN
            expr := format('(%s->%s)', chain, CASE WHEN parts[array_length(parts, 1)] ~ '^[0-9]+$'
                                              THEN parts[array_length(parts, 1)]
                                              ELSE quote_literal(parts[array_length(parts, 1)]) END);
        END IF;
        RETURN QUERY SELECT 'expression_btree'::text,
            format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (%s)', idx_name, store, tbl, expr),
            format('An expression index on %s serves equality, range and sort on "%s" without a new column; queries must use that same expression. %s',
                   expr, field, size_note);
    ELSIF sampled = 0 THEN
        RETURN QUERY SELECT 'none'::text, NULL::text,
            format('No sampled document has a value at "%s"; ask again once documents hold it. %s', field, size_note);
    ELSE
        gin := true;
    END IF;

    IF gin THEN
        idx_name := left(tbl || '_data_path_ops', 59) || '_idx';
        IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                    JOIN pg_opclass o ON o.oid = i.indclass[0]
                    WHERE i.indrelid = rel AND a.amname = 'gin' AND o.opcname = 'jsonb_path_ops'
                      AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = rel AND attname = 'data')) THEN
            RETURN QUERY SELECT 'covered'::text, NULL::text,
                format('A GIN jsonb_path_ops index on data already serves containment (contains) on any path. %s', size_note);
        ELSE
            RETURN QUERY SELECT 'gin'::text,
                format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin (data jsonb_path_ops)', idx_name, store, tbl),
                concat_ws(' ',
                    CASE WHEN sampled > 0 AND json_type IS DISTINCT FROM 'string' AND json_type IS DISTINCT FROM 'number'
                              AND json_type IS DISTINCT FROM 'boolean'
                         THEN format('"%s" holds mixed or nested JSON types (%s) in %s sampled documents, which no btree serves.',
                                     field, types, sampled) END,
                    format('A GIN jsonb_path_ops index serves containment (contains, {"%s": value}) on any path but not range or sort.', field),
                    size_note);
        END IF;
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.index_advisor(text, text, boolean)
    IS 'The index or duplicated field to build for queries on one path of a collection, and why';

-- src/extension/sql/55_queries.sql
-- Document queries (docs-query): doc_query, doc_count, compiled queries.
-- The C functions set no search_path: they schema-qualify every name,
-- operator and type in the statements they build (query_sql.c).

CREATE FUNCTION rillflow.doc_query(collection text, query jsonb DEFAULT '{}')
RETURNS SETOF jsonb
    AS 'MODULE_PATHNAME', 'rillflow_doc_query'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_query(text, jsonb)
    IS 'The documents (or the selected fields) a query spec matches; see docs/document-queries.md';

CREATE FUNCTION rillflow.doc_count(collection text, filter jsonb DEFAULT NULL,
                                   include_deleted boolean DEFAULT false)
RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_doc_count'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_count(text, jsonb, boolean)
    IS 'How many documents a filter matches (soft-deleted ones only when include_deleted)';

CREATE FUNCTION rillflow.doc_query_sql(collection text, query jsonb DEFAULT '{}')
RETURNS text
    AS 'MODULE_PATHNAME', 'rillflow_query_sql'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.doc_query_sql(text, jsonb)
    IS 'The SQL statement doc_query runs for a spec (values are $n arguments), to choose indexes';

-- Compiled queries: named specs with "$name" parameters, planned once per backend.
CREATE FUNCTION rillflow.compile_query(name text, collection text, query jsonb) RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_compile_query'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.compile_query(text, text, jsonb)
    IS 'Check a query spec with "$name" parameters and store it under a name (replacing one)';

CREATE FUNCTION rillflow.run_query(name text, params jsonb DEFAULT '{}') RETURNS SETOF jsonb
    AS 'MODULE_PATHNAME', 'rillflow_run_query'
    LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_query(text, jsonb)
    IS 'Run a compiled query with its parameters; the plan is prepared once per backend';

CREATE FUNCTION rillflow._query_params(spec jsonb) RETURNS text[]
    AS 'MODULE_PATHNAME', 'rillflow_query_params'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION rillflow._compiled_query_cache(
    OUT store_oid oid, OUT name text, OUT plans integer, OUT prepared bigint, OUT reused bigint)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'rillflow_compiled_query_cache'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION rillflow._compiled_query_cache()
    IS 'This backend''s kept plans of compiled queries (for tests and diagnosis)';

CREATE FUNCTION rillflow.drop_query(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    found boolean;
BEGIN
    IF drop_query.name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('DELETE FROM %I.compiled_queries WHERE name = $1 RETURNING true', store)
        INTO found USING drop_query.name;
    IF found IS NULL THEN
        RAISE EXCEPTION 'compiled query "%" does not exist', drop_query.name
            USING ERRCODE = 'RF004', HINT = 'rillflow.list_queries() lists the compiled queries.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_query(text) IS 'Drop a compiled query';

CREATE FUNCTION rillflow.list_queries()
RETURNS TABLE(name text, collection text, spec jsonb, params text[], created_at timestamptz,
              updated_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT q.name, q.collection, q.spec, rillflow._query_params(q.spec), q.created_at, q.updated_at
         FROM %I.compiled_queries q ORDER BY q.name', rillflow.current_store());
END
$fn$;
COMMENT ON FUNCTION rillflow.list_queries() IS 'The compiled queries of the current store';

-- src/extension/sql/60_projections.sql
-- Projections: registry, runtime, leases, dead-letter queue, admin.
-- See docs/projections.md. The batch loop is C (projection_*.c); the
-- registry, the lease primitives and the admin functions are here.

-- The projection tables of one store; called by rillflow._create_store.
CREATE FUNCTION rillflow._create_store_projections(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format($ddl$
        -- One row per projection. For worker projections the row lock of a
        -- batch's transaction is the lease; external daemons hold the lease
        -- columns across transactions, fenced by lease_token.
        CREATE TABLE %1$I.projections (
            name                text PRIMARY KEY,
            kind                text NOT NULL CHECK (kind IN ('worker', 'external')),
            handler             regprocedure,
            event_types         text[],
            batch_size          integer NOT NULL CHECK (batch_size BETWEEN 1 AND 100000),
            start_from          bigint NOT NULL DEFAULT 0 CHECK (start_from >= 0),
            status              text NOT NULL DEFAULT 'running'
                                CHECK (status IN ('running', 'paused', 'failed')),
            checkpoint          bigint NOT NULL CHECK (checkpoint >= 0),
            lease_owner         text,
            lease_expires_at    timestamptz,
            lease_token         bigint NOT NULL DEFAULT 0,
            retry_position      bigint,
            retry_attempts      integer NOT NULL DEFAULT 0,
            retry_at            timestamptz,
            max_attempts        integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 1000),
            backoff_base        interval NOT NULL DEFAULT '100 milliseconds',
            events_processed    bigint NOT NULL DEFAULT 0,
            events_dead_lettered bigint NOT NULL DEFAULT 0,
            batches             bigint NOT NULL DEFAULT 0,
            busy_ms             double precision NOT NULL DEFAULT 0,
            last_batch_events   integer,
            last_batch_ms       double precision,
            last_error          jsonb,
            last_run_at         timestamptz,
            reset_function      regprocedure,
            created_at          timestamptz NOT NULL DEFAULT now(),
            updated_at          timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT projections_handler_kind CHECK ((kind = 'worker') = (handler IS NOT NULL))
        );

        CREATE SEQUENCE %1$I.projection_dlq_seq;
        -- Events a projection gave up on. The event stays in the log; the
        -- envelope is copied here so the row is readable on its own.
        CREATE TABLE %1$I.projection_dlq (
            id          bigint PRIMARY KEY DEFAULT nextval(%2$L::regclass),
            projection  text NOT NULL REFERENCES %1$I.projections (name) ON DELETE CASCADE,
            position    bigint NOT NULL,
            event       jsonb NOT NULL,
            sqlstate    text,
            message     text,
            detail      text,
            context     text,
            attempts    integer NOT NULL,
            failed_at   timestamptz NOT NULL DEFAULT now(),
            requeued_at timestamptz,
            CONSTRAINT projection_dlq_event_key UNIQUE (projection, position)
        );
        ALTER SEQUENCE %1$I.projection_dlq_seq OWNED BY %1$I.projection_dlq.id;
    $ddl$, store, format('%I.projection_dlq_seq', store));
END
$fn$;

----------------------------------------------------------------------------
-- Internal helpers

-- Raise 22004/22023 unless name is a valid projection name. Names are only
-- ever bound as values, but they show up in logs, metrics labels and CLI
-- output, so they are kept to a plain identifier-like form.
CREATE FUNCTION rillflow._check_projection_name(name text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'projection name must not be null' USING ERRCODE = '22004';
    END IF;
    IF name !~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid projection name %', quote_literal(left(name, 64))
            USING ERRCODE = '22023',
                  HINT = 'A projection name is 1 to 63 characters of letters, digits, _ and -, starting with a letter.';
    END IF;
END
$fn$;

CREATE FUNCTION rillflow._projection_not_found(name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'projection "%" does not exist in store "%"', name, rillflow.current_store()
        USING ERRCODE = 'RF004',
              HINT = 'rillflow.list_projections() lists the projections of the current store; rillflow.tenant selects the store.';
END
$fn$;

CREATE FUNCTION rillflow._projection_exists(store name, name text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found_it boolean;
BEGIN
    EXECUTE format('SELECT true FROM %I.projections WHERE name = $1', store) INTO found_it USING name;
    RETURN found_it IS NOT NULL;
END
$fn$;

-- Lock the projection's row FOR UPDATE (waits for a running batch); RF004
-- when there is none.
CREATE FUNCTION rillflow._projection_lock(store name, name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found_it boolean;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    EXECUTE format('SELECT true FROM %I.projections WHERE name = $1 FOR UPDATE', store) INTO found_it USING name;
    IF found_it IS NULL THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;

-- Raise 22023 unless event_types is NULL or a non-empty array of non-empty
-- type names.
CREATE FUNCTION rillflow._check_event_types(event_types text[]) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF event_types IS NULL THEN
        RETURN;
    END IF;
    IF cardinality(event_types) = 0 THEN
        RAISE EXCEPTION 'event_types must not be empty'
            USING ERRCODE = '22023', HINT = 'Pass NULL for every event type.';
    END IF;
    IF array_ndims(event_types) > 1 THEN
        RAISE EXCEPTION 'event_types must be a one-dimensional array' USING ERRCODE = '22023';
    END IF;
    IF array_position(event_types, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'event_types must not contain NULL'
            USING ERRCODE = '22004', HINT = 'Pass NULL instead of the array for every event type.';
    END IF;
    IF EXISTS (SELECT FROM unnest(event_types) t WHERE t = '') THEN
        RAISE EXCEPTION 'event_types must not contain an empty type name' USING ERRCODE = '22023';
    END IF;
END
$fn$;

CREATE FUNCTION rillflow._check_batch_size(batch_size integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'batch_size must be from 1 to 100000, not %', coalesce(batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
END
$fn$;

-- Raise 22023 unless fn is a plain function taking exactly one
-- rillflow.event_envelope (a per-event handler) or one
-- rillflow.event_envelope[] (a batch handler).
CREATE FUNCTION rillflow._check_handler(fn regprocedure) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    p record;
BEGIN
    IF fn IS NULL THEN
        RAISE EXCEPTION 'handler must not be null' USING ERRCODE = '22004',
            HINT = 'Use rillflow.create_external_projection() for a projection run by a daemon.';
    END IF;
    SELECT prokind, pronargs, proargtypes, proretset INTO p FROM pg_proc WHERE oid = fn;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'handler function with OID % does not exist', fn::oid USING ERRCODE = '42883';
    END IF;
    IF p.prokind <> 'f' OR p.pronargs <> 1
       OR p.proargtypes[0] NOT IN ('rillflow.event_envelope'::regtype, 'rillflow.event_envelope[]'::regtype)
       OR p.proretset THEN
        RAISE EXCEPTION 'handler % must be a function taking exactly one rillflow.event_envelope or one rillflow.event_envelope[]', fn
            USING ERRCODE = '22023',
                  DETAIL = CASE WHEN p.prokind = 'p' THEN 'It is a procedure.'
                                WHEN p.prokind <> 'f' THEN 'It is an aggregate or window function.'
                                WHEN p.proretset THEN 'It returns a set.'
                                ELSE format('It takes (%s).', pg_get_function_identity_arguments(fn)) END,
                  HINT = 'Declare it as CREATE FUNCTION handler(e rillflow.event_envelope) RETURNS void ..., '
                         'or as handler(events rillflow.event_envelope[]) for a batch handler.';
    END IF;
END
$fn$;

-- Count a failed attempt at position (the caller holds the row lock or the
-- lease). Returns 'retry' (retry_at set by exponential backoff) or
-- 'dead_lettered' (the DLQ row is written and the checkpoint moves to the
-- event). position NULL means the next event after the checkpoint (a batch
-- cancelled mid-way, with no event to blame).
CREATE FUNCTION rillflow._projection_record_failure(
    store name, name text, at_position bigint, sqlstate text, message text, detail text, context text)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
    pos bigint := at_position;
    attempts integer;
    envelope jsonb;
    err jsonb;
BEGIN
    EXECUTE format('SELECT * FROM %I.projections WHERE name = $1', store) INTO r USING name;
    IF pos IS NULL THEN
        EXECUTE format($q$
            SELECT p.position FROM %1$I.positions p JOIN %1$I.events e ON e.seq = p.seq
             WHERE p.position > $1 AND ($2::text[] IS NULL OR e.type = ANY ($2))
             ORDER BY p.position LIMIT 1$q$, store)
            INTO pos USING r.checkpoint, r.event_types;
    END IF;
    err := jsonb_build_object('position', pos, 'sqlstate', sqlstate, 'message', message,
                              'detail', detail, 'context', context, 'at', clock_timestamp());
    IF pos IS NULL THEN
        -- Nothing to blame and nothing to retry: stop until an admin looks.
        EXECUTE format($q$UPDATE %I.projections SET status = 'failed', last_error = $2, updated_at = now()
                           WHERE name = $1$q$, store) USING name, err;
        RETURN 'failed';
    END IF;
    attempts := CASE WHEN r.retry_position = pos THEN r.retry_attempts + 1 ELSE 1 END;
    IF attempts < r.max_attempts THEN
        EXECUTE format($q$
            UPDATE %I.projections
               SET retry_position = $2, retry_attempts = $3,
                   retry_at = clock_timestamp() + backoff_base * power(2, least($3 - 1, 30)),
                   last_error = $4, updated_at = now()
             WHERE name = $1$q$, store) USING name, pos, attempts, err;
        RETURN 'retry';
    END IF;
    EXECUTE format($q$
        SELECT to_jsonb(x) FROM (
            SELECT p.position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers,
                   e.event_id, e.causation_id, e.correlation_id, e.created_at
              FROM %1$I.positions p JOIN %1$I.events e ON e.seq = p.seq WHERE p.position = $1) x$q$, store)
        INTO envelope USING pos;
    EXECUTE format($q$
        INSERT INTO %I.projection_dlq AS d
               (projection, position, event, sqlstate, message, detail, context, attempts)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT ON CONSTRAINT projection_dlq_event_key DO UPDATE
           SET event = EXCLUDED.event, sqlstate = EXCLUDED.sqlstate, message = EXCLUDED.message,
               detail = EXCLUDED.detail, context = EXCLUDED.context,
               attempts = d.attempts + EXCLUDED.attempts, failed_at = now(), requeued_at = NULL$q$, store)
        USING name, pos, coalesce(envelope, jsonb_build_object('position', pos)),
              sqlstate, message, detail, context, attempts;
    EXECUTE format($q$
        UPDATE %I.projections
           SET checkpoint = greatest(checkpoint, $2), retry_position = NULL, retry_attempts = 0,
               retry_at = NULL, events_dead_lettered = events_dead_lettered + 1,
               last_error = $3, updated_at = now()
         WHERE name = $1$q$, store) USING name, pos, err;
    RETURN 'dead_lettered';
END
$fn$;

-- Tell waiters (wait_for_projection) that a checkpoint moved; C, so the
-- worker's shared-memory wake-up can be wired in one place.
CREATE FUNCTION rillflow._note_checkpoint_advance() RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_note_checkpoint_advance'
    LANGUAGE C VOLATILE;

----------------------------------------------------------------------------
-- Registry

CREATE FUNCTION rillflow._create_projection(
    kind text, name text, handler regprocedure, event_types text[], batch_size integer, start_from bigint)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    r record;
    inserted integer;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF kind = 'worker' THEN
        PERFORM rillflow._check_handler(handler);
    END IF;
    PERFORM rillflow._check_event_types(event_types);
    PERFORM rillflow._check_batch_size(batch_size);
    IF start_from IS NULL OR start_from < 0 THEN
        RAISE EXCEPTION 'start_from must be 0 or a position, not %', coalesce(start_from::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass 0 to project the whole log.';
    END IF;
    -- Concurrent creators queue on the primary key; the loser compares.
    EXECUTE format($q$
        INSERT INTO %I.projections (name, kind, handler, event_types, batch_size, start_from, checkpoint)
        VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name) DO NOTHING$q$, store)
        USING name, kind, handler, event_types, batch_size, start_from;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 1 THEN
        RETURN true;
    END IF;
    EXECUTE format('SELECT kind, handler, event_types, batch_size, start_from FROM %I.projections WHERE name = $1',
                   store) INTO r USING name;
    IF r.kind IS DISTINCT FROM kind OR r.handler IS DISTINCT FROM handler
       OR r.event_types IS DISTINCT FROM event_types OR r.batch_size IS DISTINCT FROM batch_size
       OR r.start_from IS DISTINCT FROM start_from THEN
        RAISE EXCEPTION 'projection "%" already exists with another definition', name
            USING ERRCODE = '42710',
                  DETAIL = format('It is a %s projection with handler %s, event_types %s, batch_size %s, start_from %s.',
                                  r.kind, coalesce(r.handler::text, 'none'), coalesce(r.event_types::text, 'NULL'),
                                  r.batch_size, r.start_from),
                  HINT = 'Drop it with rillflow.drop_projection() first, or change the batch size with rillflow.set_projection_options().';
    END IF;
    RETURN false;
END
$fn$;

CREATE FUNCTION rillflow.create_projection(
    name text,
    handler regprocedure,
    event_types text[] DEFAULT NULL,
    batch_size integer DEFAULT 500,
    start_from bigint DEFAULT 0
) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
RETURN rillflow._create_projection('worker', name, handler, event_types, batch_size, start_from);
COMMENT ON FUNCTION rillflow.create_projection(text, regprocedure, text[], integer, bigint)
    IS 'Register a projection run in the database; true when created now, false when it already exists as given';

CREATE FUNCTION rillflow.create_external_projection(
    name text,
    event_types text[] DEFAULT NULL,
    batch_size integer DEFAULT 500,
    start_from bigint DEFAULT 0
) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
RETURN rillflow._create_projection('external', name, NULL, event_types, batch_size, start_from);
COMMENT ON FUNCTION rillflow.create_external_projection(text, text[], integer, bigint)
    IS 'Register a projection run by an external daemon; true when created now';

CREATE FUNCTION rillflow.drop_projection(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    dropped integer;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    EXECUTE format('DELETE FROM %I.projections WHERE name = $1', store) USING name;
    GET DIAGNOSTICS dropped = ROW_COUNT;
    IF dropped = 0 THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.drop_projection(text) IS 'Remove a projection, its checkpoint and its dead letters';

CREATE FUNCTION rillflow.set_projection_options(
    name text,
    max_attempts integer DEFAULT NULL,
    backoff_base interval DEFAULT NULL,
    batch_size integer DEFAULT NULL
) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    IF max_attempts IS NOT NULL AND max_attempts NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_attempts must be from 1 to 1000, not %', max_attempts USING ERRCODE = '22023',
            HINT = '1 sends a failing event to the dead-letter queue at its first failure.';
    END IF;
    IF backoff_base IS NOT NULL AND (backoff_base < interval '0' OR backoff_base > interval '1 day') THEN
        RAISE EXCEPTION 'backoff_base must be from 0 to 1 day, not %', backoff_base USING ERRCODE = '22023';
    END IF;
    IF batch_size IS NOT NULL THEN
        PERFORM rillflow._check_batch_size(batch_size);
    END IF;
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format($q$
        UPDATE %I.projections
           SET max_attempts = coalesce($2, max_attempts), backoff_base = coalesce($3, backoff_base),
               batch_size = coalesce($4, batch_size), updated_at = now()
         WHERE name = $1$q$, store) USING name, max_attempts, backoff_base, batch_size;
END
$fn$;
COMMENT ON FUNCTION rillflow.set_projection_options(text, integer, interval, integer)
    IS 'Change a projection''s retry attempts, backoff base delay or batch size (NULL keeps a value)';

CREATE FUNCTION rillflow.set_projection_reset_function(name text, fn regprocedure) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    p record;
BEGIN
    IF fn IS NOT NULL THEN
        SELECT prokind, pronargs, proargtypes INTO p FROM pg_proc WHERE oid = fn;
        IF NOT FOUND OR p.prokind <> 'f' OR p.pronargs > 1
           OR (p.pronargs = 1 AND p.proargtypes[0] <> 'text'::regtype) THEN
            RAISE EXCEPTION 'reset function % must be a function taking no argument or one text argument', fn
                USING ERRCODE = '22023',
                      HINT = 'It is called by rebuild_projection with the projection''s name when it takes a text.';
        END IF;
    END IF;
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format('UPDATE %I.projections SET reset_function = $2, updated_at = now() WHERE name = $1', store)
        USING name, fn;
END
$fn$;
COMMENT ON FUNCTION rillflow.set_projection_reset_function(text, regprocedure)
    IS 'Register the function rebuild_projection calls to clear the read model (NULL: none)';

CREATE FUNCTION rillflow.list_projections()
    RETURNS TABLE (name text, kind text, handler regprocedure, event_types text[], batch_size integer,
                   status text, checkpoint bigint, head bigint, lag bigint, events_processed bigint,
                   events_dead_lettered bigint, last_run_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH h AS (SELECT coalesce(max(position), 0) AS head FROM %1$I.positions)
        SELECT p.name, p.kind, p.handler, p.event_types, p.batch_size, p.status, p.checkpoint, h.head,
               greatest(h.head - p.checkpoint, 0), p.events_processed, p.events_dead_lettered, p.last_run_at
          FROM %1$I.projections p, h ORDER BY p.name$q$, store);
END
$fn$;
COMMENT ON FUNCTION rillflow.list_projections() IS 'The projections of the current store';

CREATE FUNCTION rillflow.projection_status(name text)
    RETURNS TABLE (kind text, handler regprocedure, event_types text[], batch_size integer,
                   status text, checkpoint bigint, head bigint, lag bigint,
                   lease_owner text, lease_expires_at timestamptz, lease_token bigint,
                   last_error jsonb, retry_position bigint, retry_attempts integer, retry_at timestamptz,
                   max_attempts integer, backoff_base interval, events_processed bigint,
                   events_dead_lettered bigint, last_run_at timestamptz, reset_function regprocedure)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    RETURN QUERY EXECUTE format($q$
        WITH h AS (SELECT coalesce(max(position), 0) AS head FROM %1$I.positions)
        SELECT p.kind, p.handler, p.event_types, p.batch_size, p.status, p.checkpoint, h.head,
               greatest(h.head - p.checkpoint, 0), p.lease_owner, p.lease_expires_at, p.lease_token,
               p.last_error, p.retry_position, p.retry_attempts, p.retry_at, p.max_attempts, p.backoff_base,
               p.events_processed, p.events_dead_lettered, p.last_run_at, p.reset_function
          FROM %1$I.projections p, h WHERE p.name = $1$q$, store) USING name;
    IF NOT FOUND THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_status(text) IS 'A projection''s state: status, checkpoint, lag, lease, retry state, counters';

CREATE FUNCTION rillflow.projection_metrics(name text)
    RETURNS TABLE (status text, checkpoint bigint, head bigint, lag bigint,
                   events_processed bigint, events_dead_lettered bigint, dlq_size bigint, batches bigint,
                   last_batch_events integer, last_batch_ms double precision,
                   avg_ms_per_event double precision, last_run_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    RETURN QUERY EXECUTE format($q$
        WITH h AS (SELECT coalesce(max(position), 0) AS head FROM %1$I.positions)
        SELECT p.status, p.checkpoint, h.head, greatest(h.head - p.checkpoint, 0),
               p.events_processed, p.events_dead_lettered,
               (SELECT count(*) FROM %1$I.projection_dlq d WHERE d.projection = p.name),
               p.batches, p.last_batch_events, p.last_batch_ms,
               CASE WHEN p.events_processed > 0 THEN p.busy_ms / p.events_processed END,
               p.last_run_at
          FROM %1$I.projections p, h WHERE p.name = $1$q$, store) USING name;
    IF NOT FOUND THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_metrics(text) IS 'A projection''s counters, DLQ size, lag and batch timings';

----------------------------------------------------------------------------
-- Lease primitives for external daemons (and the rules the worker follows)

CREATE FUNCTION rillflow._lease_lost(name text, token bigint, why text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'lease on projection "%" lost: %', name, why
        USING ERRCODE = 'RF006',
              DETAIL = format('The caller presented fencing token %s.', coalesce(token::text, 'NULL')),
              HINT = 'Roll back this transaction and acquire the lease again with rillflow.projection_acquire().';
END
$fn$;

-- Take or renew the lease. Zero rows when another owner holds an unexpired
-- lease, a batch holds the row right now, the projection is paused or failed,
-- or a retry is not yet due. Never waits.
CREATE FUNCTION rillflow.projection_acquire(name text, owner text, lease_ttl interval)
    RETURNS TABLE (token bigint, checkpoint bigint, batch_size integer, event_types text[])
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    r record;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF owner IS NULL OR owner = '' OR length(owner) > 200 THEN
        RAISE EXCEPTION 'owner must be 1 to 200 characters, not %', coalesce(quote_literal(left(owner, 64)), 'NULL')
            USING ERRCODE = '22023', HINT = 'Use a name unique to the process, such as host:pid.';
    END IF;
    IF lease_ttl IS NULL OR lease_ttl <= interval '0' OR lease_ttl > interval '1 day' THEN
        RAISE EXCEPTION 'lease_ttl must be more than 0 and at most 1 day, not %', coalesce(lease_ttl::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    -- A daemon acquires in a statement of its own, before each batch: that is
    -- where to sequence what was appended since the last tick (with no worker
    -- running, nobody else may), without a round trip of its own.
    IF rillflow._may_sequence() THEN
        PERFORM rillflow._sequence(store);
    END IF;
    EXECUTE format('SELECT * FROM %I.projections WHERE name = $1 FOR UPDATE SKIP LOCKED', store)
        INTO r USING name;
    IF r IS NULL THEN
        EXECUTE format('SELECT * FROM %I.projections WHERE name = $1', store) INTO r USING name;
        IF r IS NULL THEN
            PERFORM rillflow._projection_not_found(name);
        END IF;
        RETURN;     -- a batch or another acquirer holds the row right now
    END IF;
    IF r.kind <> 'external' THEN
        RAISE EXCEPTION 'projection "%" is run by the database, not by a daemon', name
            USING ERRCODE = '55000',
                  HINT = 'Register projections for daemons with rillflow.create_external_projection().';
    END IF;
    IF r.status <> 'running'
       OR (r.retry_at IS NOT NULL AND r.retry_at > clock_timestamp())
       OR (r.lease_owner IS DISTINCT FROM owner AND r.lease_expires_at > clock_timestamp()) THEN
        RETURN;
    END IF;
    EXECUTE format($q$
        UPDATE %I.projections
           SET lease_token = CASE WHEN lease_owner = $2 THEN lease_token ELSE lease_token + 1 END,
               lease_owner = $2, lease_expires_at = clock_timestamp() + $3, updated_at = now()
         WHERE name = $1
     RETURNING lease_token, checkpoint, batch_size, event_types$q$, store)
        INTO token, checkpoint, batch_size, event_types USING name, owner, lease_ttl;
    RETURN NEXT;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_acquire(text, text, interval)
    IS 'Take or renew a daemon''s lease on a projection; no row when it is not available now';

-- Check the fencing token and the lease of the caller; the row stays locked
-- until the caller's transaction ends, so no one can take the lease over
-- between this check and the caller's commit.
CREATE FUNCTION rillflow._projection_check_lease(store name, name text, token bigint) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF token IS NULL THEN
        RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004',
            HINT = 'Pass the token rillflow.projection_acquire() returned.';
    END IF;
    EXECUTE format('SELECT * FROM %I.projections WHERE name = $1 FOR UPDATE', store) INTO r USING name;
    IF r IS NULL THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
    IF r.lease_token <> token OR r.lease_owner IS NULL THEN
        PERFORM rillflow._lease_lost(name, token,
            format('the current fencing token is %s%s', r.lease_token,
                   CASE WHEN r.lease_owner IS NULL THEN ' and no one holds the lease'
                        ELSE format(', held by %L', r.lease_owner) END));
    END IF;
    IF r.lease_expires_at <= clock_timestamp() THEN
        PERFORM rillflow._lease_lost(name, token, 'the lease expired');
    END IF;
    RETURN r.checkpoint;
END
$fn$;

CREATE FUNCTION rillflow.projection_commit(name text, token bigint, checkpoint bigint, processed integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    current bigint;
BEGIN
    current := rillflow._projection_check_lease(store, name, token);
    IF checkpoint IS NULL OR checkpoint < current THEN
        RAISE EXCEPTION 'checkpoint must not move back from % to %', current, coalesce(checkpoint::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Use rillflow.reset_projection() to move a checkpoint back.';
    END IF;
    IF processed IS NULL OR processed < 0 THEN
        RAISE EXCEPTION 'processed must be 0 or more, not %', coalesce(processed::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    EXECUTE format($q$
        UPDATE %I.projections
           SET checkpoint = $2, events_processed = events_processed + $3,
               batches = batches + 1, last_batch_events = $3, last_run_at = now(), updated_at = now(),
               retry_position = CASE WHEN retry_position <= $2 THEN NULL ELSE retry_position END,
               retry_attempts = CASE WHEN retry_position <= $2 THEN 0 ELSE retry_attempts END,
               retry_at = CASE WHEN retry_position <= $2 THEN NULL ELSE retry_at END
         WHERE name = $1$q$, store) USING name, checkpoint, processed;
    IF checkpoint > current THEN
        PERFORM rillflow._note_checkpoint_advance();
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_commit(text, bigint, bigint, integer)
    IS 'Record a daemon''s new checkpoint in its read-model transaction; RF006 when its lease is lost';

CREATE FUNCTION rillflow.projection_fail(
    name text, token bigint, "position" bigint, sqlstate text, message text, detail text DEFAULT NULL,
    context text DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    k text;
    current bigint;
BEGIN
    PERFORM rillflow._check_projection_name(name);
    EXECUTE format('SELECT kind FROM %I.projections WHERE name = $1', store) INTO k USING name;
    IF k IS NULL THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
    -- Worker projections have no lease between transactions: the worker
    -- reports a batch it had to cancel with token NULL.
    IF token IS NULL AND k = 'worker' THEN
        PERFORM rillflow._projection_lock(store, name);
        EXECUTE format('SELECT checkpoint FROM %I.projections WHERE name = $1', store) INTO current USING name;
    ELSE
        current := rillflow._projection_check_lease(store, name, token);
    END IF;
    IF position IS NOT NULL AND position <= current THEN
        RAISE EXCEPTION 'position % is not after the checkpoint %', position, current
            USING ERRCODE = '22023', HINT = 'Report the position of the event that failed.';
    END IF;
    RETURN rillflow._projection_record_failure(store, name, position, sqlstate, message, detail, context);
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_fail(text, bigint, bigint, text, text, text, text)
    IS 'Count a failed attempt at an event: ''retry'' (backoff) or ''dead_lettered'' (checkpoint moved past it)';

CREATE FUNCTION rillflow.projection_release(name text, token bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF token IS NULL THEN
        RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM rillflow._projection_lock(store, name);
    -- Releasing a lease one no longer holds changes nothing.
    EXECUTE format($q$
        UPDATE %I.projections SET lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE name = $1 AND lease_token = $2$q$, store) USING name, token;
END
$fn$;
COMMENT ON FUNCTION rillflow.projection_release(text, bigint) IS 'Give a daemon''s lease back';

----------------------------------------------------------------------------
-- Running (C, projection_runtime.c)

CREATE FUNCTION rillflow.run_projection(name text, max_batches integer DEFAULT 1) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_run_projection'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_projection(text, integer)
    IS 'Apply up to max_batches batches of a projection now; returns the events applied';

CREATE FUNCTION rillflow.run_projections_until_idle(name text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'rillflow_run_projections_until_idle'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION rillflow.run_projections_until_idle(text)
    IS 'Run one projection (or every running one of the store) until it has nothing left to do';

----------------------------------------------------------------------------
-- Admin. Each one that moves the checkpoint or stops a projection also
-- revokes a daemon's lease (new token), so a daemon mid-batch cannot commit
-- over it (RF006).

CREATE FUNCTION rillflow.pause_projection(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format($q$
        UPDATE %I.projections
           SET status = 'paused', lease_owner = NULL, lease_expires_at = NULL,
               lease_token = lease_token + 1, updated_at = now()
         WHERE name = $1$q$, store) USING name;
END
$fn$;
COMMENT ON FUNCTION rillflow.pause_projection(text) IS 'Stop running a projection until resume_projection';

CREATE FUNCTION rillflow.resume_projection(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format($q$
        UPDATE %I.projections SET status = 'running', retry_at = NULL, updated_at = now()
         WHERE name = $1$q$, store) USING name;
END
$fn$;
COMMENT ON FUNCTION rillflow.resume_projection(text)
    IS 'Run a paused or failed projection again (a pending retry becomes due now)';

CREATE FUNCTION rillflow.reset_projection(name text, "position" bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    head bigint;
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format('SELECT coalesce(max(position), 0) FROM %I.positions', store) INTO head;
    IF position IS NULL OR position < 0 OR position > head THEN
        RAISE EXCEPTION 'position must be from 0 to the head of the log (%), not %', head,
                        coalesce(position::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'The projection applies the events after this position next.';
    END IF;
    EXECUTE format($q$
        UPDATE %I.projections
           SET checkpoint = $2, retry_position = NULL, retry_attempts = 0, retry_at = NULL,
               lease_owner = NULL, lease_expires_at = NULL, lease_token = lease_token + 1, updated_at = now()
         WHERE name = $1$q$, store) USING name, position;
END
$fn$;
COMMENT ON FUNCTION rillflow.reset_projection(text, bigint)
    IS 'Move a projection''s checkpoint: it applies the events after position next';

-- Lock the projection for a rebuild; returns the call of its reset
-- function ('' when it has none).
CREATE FUNCTION rillflow._rebuild_begin(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    fn regprocedure;
BEGIN
    PERFORM rillflow._projection_lock(store, name);
    EXECUTE format('SELECT reset_function FROM %I.projections WHERE name = $1', store) INTO fn USING name;
    IF fn IS NULL OR NOT EXISTS (SELECT FROM pg_proc WHERE oid = fn) THEN
        RETURN '';
    END IF;
    -- Schema-qualified, so the caller's search_path cannot redirect the call.
    RETURN format('SELECT %I.%I(%s)', (SELECT nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                                        WHERE p.oid = fn),
                  (SELECT proname FROM pg_proc WHERE oid = fn),
                  CASE WHEN (SELECT pronargs FROM pg_proc WHERE oid = fn) = 1 THEN '$1::pg_catalog.text' ELSE '' END);
END
$fn$;

CREATE FUNCTION rillflow._rebuild_finish(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    EXECUTE format('DELETE FROM %I.projection_dlq WHERE projection = $1', store) USING name;
    EXECUTE format($q$
        UPDATE %I.projections
           SET checkpoint = start_from, status = CASE WHEN status = 'failed' THEN 'running' ELSE status END,
               retry_position = NULL, retry_attempts = 0, retry_at = NULL,
               lease_owner = NULL, lease_expires_at = NULL, lease_token = lease_token + 1,
               events_processed = 0, events_dead_lettered = 0, batches = 0, busy_ms = 0,
               last_batch_events = NULL, last_batch_ms = NULL, last_error = NULL, updated_at = now()
         WHERE name = $1$q$, store) USING name;
END
$fn$;

-- No SET search_path here, on purpose: the reset function, like a handler,
-- runs with the caller's search_path (it clears the caller's read model).
-- Every name below is schema-qualified instead. It locks the projection's
-- row only: appends go on while the read model is cleared and replayed.
CREATE FUNCTION rillflow.rebuild_projection(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    reset_call text;
BEGIN
    reset_call := rillflow._rebuild_begin(name);
    IF reset_call OPERATOR(pg_catalog.<>) '' THEN
        EXECUTE reset_call USING name;
    END IF;
    PERFORM rillflow._rebuild_finish(name);
END
$fn$;
COMMENT ON FUNCTION rillflow.rebuild_projection(text)
    IS 'Clear the read model (the registered reset function) and replay the projection from its start';

CREATE FUNCTION rillflow.dlq_list(name text, "limit" integer DEFAULT 100)
    RETURNS TABLE (id bigint, "position" bigint, event jsonb, sqlstate text, message text, detail text,
                   context text, attempts integer, failed_at timestamptz, requeued_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF "limit" IS NULL OR "limit" NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'limit must be from 1 to 100000, not %', coalesce("limit"::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF NOT rillflow._projection_exists(store, name) THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT d.id, d.position, d.event, d.sqlstate, d.message, d.detail, d.context, d.attempts,
               d.failed_at, d.requeued_at
          FROM %I.projection_dlq d WHERE d.projection = $1 ORDER BY d.id LIMIT $2$q$, store)
        USING name, "limit";
END
$fn$;
COMMENT ON FUNCTION rillflow.dlq_list(text, integer) IS 'A projection''s dead letters, oldest first';

CREATE FUNCTION rillflow._dlq_entry(store name, name text, id bigint) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
    k text;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('SELECT kind FROM %I.projections WHERE name = $1', store) INTO r USING name;
    IF r IS NULL THEN
        PERFORM rillflow._projection_not_found(name);
    END IF;
    EXECUTE format('SELECT $3::text FROM %I.projection_dlq d WHERE d.projection = $1 AND d.id = $2 FOR UPDATE',
                   store) INTO k USING name, id, r.kind;
    IF k IS NULL THEN
        RAISE EXCEPTION 'dead letter % of projection "%" does not exist', id, name
            USING ERRCODE = 'RF004', HINT = 'rillflow.dlq_list() lists a projection''s dead letters.';
    END IF;
    RETURN k;
END
$fn$;

CREATE FUNCTION rillflow.dlq_requeue(name text, id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    IF rillflow._dlq_entry(store, name, id) <> 'worker' THEN
        RAISE EXCEPTION 'dead letters of external projection "%" cannot be requeued in the database', name
            USING ERRCODE = '0A000',
                  HINT = 'Apply the event from dlq_list() in the daemon, then remove it with rillflow.dlq_delete().';
    END IF;
    EXECUTE format('UPDATE %I.projection_dlq SET requeued_at = now() WHERE id = $1', store) USING id;
END
$fn$;
COMMENT ON FUNCTION rillflow.dlq_requeue(text, bigint)
    IS 'Apply a dead letter again on the projection''s next run, before new events; removed when it succeeds';

CREATE FUNCTION rillflow.dlq_delete(name text, id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
BEGIN
    PERFORM rillflow._check_projection_name(name);
    PERFORM rillflow._dlq_entry(store, name, id);
    EXECUTE format('DELETE FROM %I.projection_dlq WHERE id = $1', store) USING id;
END
$fn$;
COMMENT ON FUNCTION rillflow.dlq_delete(text, bigint) IS 'Remove a dead letter';

-- src/extension/sql/70_daemon_cluster.sql
-- External projection daemons: hot/cold cluster nodes and leases.
--
-- A cluster is a name shared by daemon processes (nodes). Exactly one node is
-- hot at a time: the one holding the cluster's lease, kept alive by its
-- heartbeats. The others are cold and take the lease when it expires (plus a
-- grace period). Every change of hands increments the cluster's fencing token,
-- so a node that was paused past its lease can tell (and be told, by
-- cluster_fence) that it is no longer the hot one.
--
-- Tables, per store:
--   daemon_clusters   one row per cluster: the hot node, its lease, the token
--   daemon_nodes      one row per node: role, heartbeat, lease settings, origin

-- The daemon cluster tables of one store; called by rillflow._create_store.
CREATE FUNCTION rillflow._create_store_daemon(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE %1$I.daemon_clusters (
            cluster             text PRIMARY KEY,
            hot_node            text,
            lease_expires_at    timestamptz,
            fencing_token       bigint NOT NULL DEFAULT 0,
            created_at          timestamptz NOT NULL DEFAULT now(),
            updated_at          timestamptz NOT NULL DEFAULT now(),
            CHECK ((hot_node IS NULL) = (lease_expires_at IS NULL))
        );

        CREATE TABLE %1$I.daemon_nodes (
            cluster             text NOT NULL REFERENCES %1$I.daemon_clusters ON DELETE CASCADE,
            node_id             text NOT NULL,
            hostname            text,
            pid                 integer,
            role                text NOT NULL CHECK (role IN ('hot', 'cold')),
            heartbeat_at        timestamptz NOT NULL,
            lease_ttl           interval NOT NULL,
            lease_grace         interval NOT NULL,
            -- set by cluster_demote: the node does not take the lease before then
            standby_until       timestamptz,
            started_at          timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (cluster, node_id)
        );
    $ddl$, store);
END
$fn$;

-- Checks a cluster or node name: 1 to 128 characters of letters, digits and
-- _ . : @ -, so names are safe in logs, metrics labels and URLs.
CREATE FUNCTION rillflow._cluster_check_name(what text, value text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004';
    END IF;
    IF value !~ '^[A-Za-z0-9_.:@-]{1,128}$' THEN
        RAISE EXCEPTION 'invalid % "%"', what, left(value, 200)
            USING ERRCODE = '22023',
                  DETAIL = format('A %s is 1 to 128 characters: letters, digits, and _ . : @ -.', what);
    END IF;
END
$fn$;

-- Checks the lease settings of a heartbeat or a promotion.
CREATE FUNCTION rillflow._cluster_check_lease(lease_ttl interval, grace interval) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF lease_ttl IS NULL THEN
        RAISE EXCEPTION 'lease_ttl must not be null' USING ERRCODE = '22004';
    END IF;
    IF lease_ttl < interval '100 milliseconds' OR lease_ttl > interval '1 day' THEN
        RAISE EXCEPTION 'invalid lease_ttl %', lease_ttl
            USING ERRCODE = '22023', DETAIL = 'The lease lasts from 100 milliseconds to 1 day.';
    END IF;
    IF grace IS NULL THEN
        RAISE EXCEPTION 'grace must not be null' USING ERRCODE = '22004';
    END IF;
    IF grace < interval '0' OR grace > interval '1 day' THEN
        RAISE EXCEPTION 'invalid grace %', grace
            USING ERRCODE = '22023', DETAIL = 'The grace period lasts from 0 to 1 day.';
    END IF;
END
$fn$;

-- RF004 for a cluster the store has no node of.
CREATE FUNCTION rillflow._cluster_not_found(store name, cluster text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'daemon cluster "%" not found', cluster
        USING ERRCODE = 'RF004',
              DETAIL = format('Store %s has no node of that cluster.', store),
              HINT = 'A cluster exists from the first cluster_heartbeat of one of its nodes.';
END
$fn$;

-- What promote, demote and leave start with: the names checked, the
-- cluster's row locked until the transaction ends (so heartbeats and fences
-- wait for the change), and RF004 unless the cluster has the node. Returns
-- the node's lease TTL.
CREATE FUNCTION rillflow._cluster_lock_node(store name, cluster text, node text) RETURNS interval
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found_cluster boolean;
    ttl interval;
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    PERFORM rillflow._cluster_check_name('node name', node);
    EXECUTE format('SELECT true FROM %I.daemon_clusters d WHERE d.cluster = $1 FOR UPDATE', store)
        INTO found_cluster USING cluster;
    IF found_cluster IS NULL THEN
        PERFORM rillflow._cluster_not_found(store, cluster);
    END IF;
    EXECUTE format('SELECT n.lease_ttl FROM %I.daemon_nodes n WHERE n.cluster = $1 AND n.node_id = $2', store)
        INTO ttl USING cluster, node;
    IF ttl IS NULL THEN
        RAISE EXCEPTION 'node "%" of daemon cluster "%" not found', node, cluster
            USING ERRCODE = 'RF004',
                  HINT = 'A node joins its cluster with its first cluster_heartbeat.';
    END IF;
    RETURN ttl;
END
$fn$;

-- Take the hot lease from node if it holds it (demote, leave); true when it
-- did. The cluster's row is locked by _cluster_lock_node.
CREATE FUNCTION rillflow._cluster_release_hot(store name, cluster text, node text, t timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    was_hot boolean;
BEGIN
    EXECUTE format('UPDATE %I.daemon_clusters d
                       SET hot_node = NULL, lease_expires_at = NULL, updated_at = $2
                     WHERE d.cluster = $1 AND d.hot_node = $3', store)
        USING cluster, t, node;
    GET DIAGNOSTICS was_hot = ROW_COUNT;
    RETURN was_hot;
END
$fn$;

-- One heartbeat of a node, atomically: the node takes the hot lease when no
-- node holds it or the holder's lease expired more than `grace` ago, renews it
-- when it holds it, and is recorded as cold otherwise. The cluster row is
-- locked for the decision, so two nodes racing for a free lease queue and
-- exactly one wins. Returns the node's role now, the cluster's fencing token,
-- the hot node and its lease expiry.
CREATE FUNCTION rillflow.cluster_heartbeat(
    cluster text,
    node text,
    lease_ttl interval DEFAULT interval '10 seconds',
    grace interval DEFAULT interval '0',
    hostname text DEFAULT NULL,
    pid integer DEFAULT NULL)
    RETURNS TABLE (hot boolean, token bigint, hot_node text, lease_expires_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    c record;
    t timestamptz;
    standby timestamptz;
    is_hot boolean;
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    PERFORM rillflow._cluster_check_name('node name', node);
    PERFORM rillflow._cluster_check_lease(lease_ttl, grace);
    IF pid IS NOT NULL AND pid < 0 THEN
        RAISE EXCEPTION 'invalid pid %', pid USING ERRCODE = '22023';
    END IF;

    EXECUTE format('INSERT INTO %I.daemon_clusters AS d (cluster) VALUES ($1) ON CONFLICT (cluster) DO NOTHING', store)
        USING cluster;
    EXECUTE format('SELECT d.hot_node, d.lease_expires_at, d.fencing_token FROM %I.daemon_clusters d
                     WHERE d.cluster = $1 FOR UPDATE', store)
        INTO c USING cluster;
    -- The time after the lock is granted: a heartbeat that waited judges expiry now.
    t := clock_timestamp();
    EXECUTE format('SELECT n.standby_until FROM %I.daemon_nodes n WHERE n.cluster = $1 AND n.node_id = $2', store)
        INTO standby USING cluster, node;

    IF c.hot_node IS NOT DISTINCT FROM node THEN
        is_hot := true;                     -- renew (a lapsed lease nobody took is renewed too)
        c.lease_expires_at := t + lease_ttl;
    ELSIF (c.hot_node IS NULL OR c.lease_expires_at + grace < t)
          AND (standby IS NULL OR standby <= t) THEN
        is_hot := true;                     -- take over: a new holder, a new token
        c.hot_node := node;
        c.lease_expires_at := t + lease_ttl;
        c.fencing_token := c.fencing_token + 1;
    ELSE
        is_hot := false;
    END IF;

    IF is_hot THEN
        EXECUTE format('UPDATE %I.daemon_clusters d SET hot_node = $2, lease_expires_at = $3,
                               fencing_token = $4, updated_at = $5
                         WHERE d.cluster = $1', store)
            USING cluster, c.hot_node, c.lease_expires_at, c.fencing_token, t;
        EXECUTE format('UPDATE %I.daemon_nodes n SET role = ''cold''
                         WHERE n.cluster = $1 AND n.node_id <> $2 AND n.role = ''hot''', store)
            USING cluster, node;
    END IF;
    EXECUTE format('INSERT INTO %I.daemon_nodes AS n
                        (cluster, node_id, hostname, pid, role, heartbeat_at, lease_ttl, lease_grace, started_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6)
                    ON CONFLICT (cluster, node_id) DO UPDATE
                       SET hostname = coalesce(EXCLUDED.hostname, n.hostname),
                           pid = coalesce(EXCLUDED.pid, n.pid),
                           role = EXCLUDED.role, heartbeat_at = EXCLUDED.heartbeat_at,
                           lease_ttl = EXCLUDED.lease_ttl, lease_grace = EXCLUDED.lease_grace,
                           standby_until = CASE WHEN n.standby_until > $6 THEN n.standby_until END', store)
        USING cluster, node, hostname, pid, CASE WHEN is_hot THEN 'hot' ELSE 'cold' END, t,
              lease_ttl, grace;

    RETURN QUERY SELECT is_hot, c.fencing_token, c.hot_node, c.lease_expires_at;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_heartbeat(text, text, interval, interval, text, integer) IS
    'One heartbeat of a daemon node: takes, renews or waits for the cluster''s hot lease';

-- The nodes of a cluster with their role now (hot only while the lease is
-- live), whether they are alive (heard from within their lease TTL + grace),
-- their heartbeat age and the lease.
CREATE FUNCTION rillflow.cluster_status(cluster text)
    RETURNS TABLE (node text, role text, alive boolean, hostname text, pid integer,
                   heartbeat_at timestamptz, heartbeat_age interval, lease_ttl interval,
                   lease_grace interval, lease_expires_at timestamptz, token bigint,
                   started_at timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    known boolean;
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    EXECUTE format('SELECT EXISTS (SELECT FROM %I.daemon_clusters c WHERE c.cluster = $1)', store)
        INTO known USING cluster;
    IF NOT known THEN
        PERFORM rillflow._cluster_not_found(store, cluster);
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT n.node_id,
               CASE WHEN c.hot_node = n.node_id AND c.lease_expires_at > clock_timestamp()
                    THEN 'hot' ELSE 'cold' END,
               n.heartbeat_at + n.lease_ttl + n.lease_grace > clock_timestamp(),
               n.hostname, n.pid, n.heartbeat_at, clock_timestamp() - n.heartbeat_at,
               n.lease_ttl, n.lease_grace,
               CASE WHEN c.hot_node = n.node_id THEN c.lease_expires_at END,
               CASE WHEN c.hot_node = n.node_id THEN c.fencing_token END,
               n.started_at
          FROM %1$I.daemon_nodes n JOIN %1$I.daemon_clusters c USING (cluster)
         WHERE n.cluster = $1
         ORDER BY n.node_id
    $q$, store) USING cluster;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_status(text) IS 'The nodes of a daemon cluster, their roles, heartbeats and lease';

-- Makes `node` the hot node now, whoever held the lease: a new token, a lease
-- of the node's own TTL. The old holder learns it is cold at its next
-- heartbeat and cannot pass cluster_fence meanwhile. Returns the new token.
CREATE FUNCTION rillflow.cluster_promote(cluster text, node text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    t timestamptz;
    ttl interval;
    new_token bigint;
BEGIN
    ttl := rillflow._cluster_lock_node(store, cluster, node);
    t := clock_timestamp();
    EXECUTE format('UPDATE %I.daemon_clusters d
                       SET fencing_token = d.fencing_token + 1, hot_node = $2,
                           lease_expires_at = $3, updated_at = $4
                     WHERE d.cluster = $1 RETURNING d.fencing_token', store)
        INTO new_token USING cluster, node, t + ttl, t;
    EXECUTE format('UPDATE %I.daemon_nodes n
                       SET role = CASE WHEN n.node_id = $2 THEN ''hot'' ELSE ''cold'' END,
                           standby_until = CASE WHEN n.node_id = $2 THEN NULL ELSE n.standby_until END
                     WHERE n.cluster = $1', store)
        USING cluster, node;
    RETURN new_token;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_promote(text, text) IS 'Make a node of a daemon cluster the hot one now';

-- Takes the hot lease from `node` (if it holds it) and keeps the node from
-- taking it again for one lease TTL, so another node takes over. Returns
-- true when the node was hot.
CREATE FUNCTION rillflow.cluster_demote(cluster text, node text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    t timestamptz;
    was_hot boolean;
BEGIN
    PERFORM rillflow._cluster_lock_node(store, cluster, node);
    t := clock_timestamp();
    was_hot := rillflow._cluster_release_hot(store, cluster, node, t);
    EXECUTE format('UPDATE %I.daemon_nodes n SET role = ''cold'', standby_until = $3 + n.lease_ttl
                     WHERE n.cluster = $1 AND n.node_id = $2', store)
        USING cluster, node, t;
    RETURN was_hot;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_demote(text, text) IS 'Take the hot lease from a daemon node and keep it cold for one lease TTL';

-- Removes a node from its cluster (a clean shutdown); a hot node gives up the
-- lease, so a cold node takes over at its next heartbeat without waiting for
-- the lease to expire. The cluster goes when its last node leaves.
CREATE FUNCTION rillflow.cluster_leave(cluster text, node text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    left_over bigint;
BEGIN
    PERFORM rillflow._cluster_lock_node(store, cluster, node);
    PERFORM rillflow._cluster_release_hot(store, cluster, node, clock_timestamp());
    EXECUTE format('DELETE FROM %I.daemon_nodes n WHERE n.cluster = $1 AND n.node_id = $2', store)
        USING cluster, node;
    EXECUTE format('SELECT count(*) FROM %I.daemon_nodes n WHERE n.cluster = $1', store)
        INTO left_over USING cluster;
    IF left_over = 0 THEN
        EXECUTE format('DELETE FROM %I.daemon_clusters d WHERE d.cluster = $1', store) USING cluster;
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_leave(text, text) IS 'Remove a node from its daemon cluster, giving up the hot lease';

-- Raises RF006 unless `node` holds the cluster's hot lease with `token` and
-- the lease has not expired. It locks the cluster row FOR SHARE until the
-- caller's transaction ends, so no takeover can commit in between: a daemon
-- calls it in the transaction that commits a projection batch, and a node
-- that lost the lease (paused, partitioned) cannot commit.
CREATE FUNCTION rillflow.cluster_fence(cluster text, node text, token bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    store name := rillflow.current_store();
    c record;
    n bigint;
BEGIN
    PERFORM rillflow._cluster_check_name('cluster name', cluster);
    PERFORM rillflow._cluster_check_name('node name', node);
    IF token IS NULL THEN
        RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('SELECT d.hot_node, d.lease_expires_at, d.fencing_token FROM %I.daemon_clusters d
                     WHERE d.cluster = $1 FOR SHARE', store)
        INTO c USING cluster;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RAISE EXCEPTION 'daemon cluster "%" not found', cluster
            USING ERRCODE = 'RF004',
                  HINT = 'A cluster exists from the first cluster_heartbeat of one of its nodes.';
    END IF;
    IF c.hot_node IS DISTINCT FROM node OR c.fencing_token <> token
       OR c.lease_expires_at <= clock_timestamp() THEN
        RAISE EXCEPTION 'node "%" does not hold the hot lease of daemon cluster "%" with token %',
                        node, cluster, token
            USING ERRCODE = 'RF006',
                  DETAIL = CASE WHEN c.hot_node IS NULL THEN 'No node holds the lease.'
                                ELSE format('The lease is held by %s with token %s%s.', c.hot_node,
                                            c.fencing_token,
                                            CASE WHEN c.lease_expires_at <= clock_timestamp()
                                                 THEN ' and has expired' ELSE '' END) END,
                  HINT = 'The node lost the lease: roll back and wait for the next heartbeat.';
    END IF;
END
$fn$;
COMMENT ON FUNCTION rillflow.cluster_fence(text, text, bigint) IS 'Raise RF006 unless the node holds the hot lease with this token';

-- src/extension/sql/80_worker.sql
-- The background worker (src/extension/worker*.c, docs/worker.md): waiting for
-- a projection, the worker's state, and the launcher's wake-up at CREATE
-- EXTENSION.

CREATE FUNCTION rillflow.wait_for_projection(
    name text,
    "position" bigint,
    timeout interval DEFAULT '5 seconds')
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'rillflow_wait_for_projection'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION rillflow.wait_for_projection(text, bigint, interval) IS
    'Wait until the projection''s checkpoint reaches position; false on timeout';

CREATE FUNCTION rillflow._worker_slots(
    OUT process text, OUT datid oid, OUT pid integer, OUT state text,
    OUT started_at timestamptz, OUT last_pass_at timestamptz, OUT passes bigint,
    OUT events_sequenced bigint, OUT events_projected bigint, OUT errors bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'rillflow_worker_slots'
    LANGUAGE C VOLATILE;

CREATE FUNCTION rillflow.worker_status()
    RETURNS TABLE (process text, database name, pid integer, state text,
                   started_at timestamptz, last_pass_at timestamptz, passes bigint,
                   events_sequenced bigint, events_projected bigint, errors bigint)
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT s.process, d.datname, s.pid, s.state, s.started_at, s.last_pass_at, s.passes,
           s.events_sequenced, s.events_projected, s.errors
      FROM rillflow._worker_slots() s
      LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.datid
     ORDER BY s.process, d.datname;
END;
COMMENT ON FUNCTION rillflow.worker_status() IS 'The launcher and the database workers of the cluster';

CREATE FUNCTION rillflow._worker_extension_created() RETURNS void
    AS 'MODULE_PATHNAME', 'rillflow_worker_extension_created'
    LANGUAGE C VOLATILE;

-- Tell the launcher (at commit) that this database now has the extension.
SELECT rillflow._worker_extension_created();

-- src/extension/sql/90_default_store.sql
-- The default store, created with the extension. Its tables are extension
-- members, so they are registered for pg_dump: their rows are dumped and
-- restored, and CREATE EXTENSION recreates their definitions.

SELECT rillflow._create_store('rillflow_default');

-- One call per statement: each call updates the extension's catalog row.
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.streams', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.events', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.events_seq', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.positions', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.log_state', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.idempotency_keys', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.stream_aliases', '');

-- src/extension/sql/91_default_store_documents.sql
-- pg_dump registration of the default store's documents tables (one call per statement).
--
-- The row of docs is made by CREATE EXTENSION, so it is left out of the dump.
-- The collection tables (doc_*) are not extension members: pg_dump dumps them
-- whole, like any user table (docs/documents.md, "Backups").
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.collections',
    $$WHERE name OPERATOR(pg_catalog.<>) 'docs'$$);
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.duplicated_fields', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.compiled_queries', '');

-- src/extension/sql/92_default_store_projections.sql
-- pg_dump registration of the default store's projections tables (one call per statement).
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.projections', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.projection_dlq', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.projection_dlq_seq', '');

-- src/extension/sql/93_default_store_daemon.sql
-- pg_dump registration of the default store's daemon tables (one call per statement).

SELECT pg_catalog.pg_extension_config_dump('rillflow_default.daemon_clusters', '');
SELECT pg_catalog.pg_extension_config_dump('rillflow_default.daemon_nodes', '');
