-- A store: one schema with a complete set of data tables. The default store is
-- created with the extension; each tenant gets one from rillflow.ensure_tenant.

CREATE FUNCTION rillflow._create_store(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- A schema of that name made by anyone else is never adopted: its owner
    -- could drop and replace the store's tables.
    BEGIN
        EXECUTE format('CREATE SCHEMA %I', store);
    EXCEPTION WHEN duplicate_schema THEN
        RAISE EXCEPTION 'schema "%" already exists', store
            USING ERRCODE = '42P06',
                  DETAIL = 'rillflow creates each store''s schema itself and never adopts one made before.',
                  HINT = 'Check what the schema holds (\dn+ shows its owner), then drop or rename it and try again.';
    END;
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
    PERFORM rillflow._create_store_subscriptions(store);
END
$fn$;
