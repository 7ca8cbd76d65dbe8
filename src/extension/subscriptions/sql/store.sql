-- Subscriptions: the tables each store keeps for them (see
-- docs/subscriptions.md and this folder's README). The other parts:
-- rules.sql (argument rules and lookups), subscriptions.sql (create, drop,
-- list, status), poll.sql (poll, ack, nack), groups.sql (group settings and
-- status, the dead letters) and lag.sql (the lag view).

-- The subscription tables of one store, and the stream categories the
-- filters read; called by rillflow._create_store. All of this capability's
-- per-store DDL is here.
CREATE OR REPLACE FUNCTION rillflow._create_store_subscriptions(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format($ddl$
        -- A stream's category: the alias prefix before ':' (resolve_stream_alias)
        -- or the one given on its first append. Set once, never changed.
        CREATE TABLE %1$I.stream_categories (
            stream_id   uuid PRIMARY KEY,
            category    text NOT NULL CHECK (category <> '')
        );
        CREATE INDEX stream_categories_category_idx ON %1$I.stream_categories (category, stream_id);

        -- One row per subscription: a named filter on the global log. The
        -- filters AND together; NULL lets everything through.
        CREATE TABLE %1$I.subscriptions (
            name        text PRIMARY KEY,
            event_types text[],
            categories  text[],
            stream_ids  uuid[],
            headers     jsonb,
            start_from  bigint NOT NULL DEFAULT 0 CHECK (start_from >= 0),
            created_at  timestamptz NOT NULL DEFAULT now()
        );

        -- The consumers' state, one row per group. group_name '' is the
        -- subscription's single consumer (a poll without a group), whose
        -- lease is lease_owner/lease_expires_at. frontier: every matching
        -- event at or below it is outstanding, acked or dead-lettered; the
        -- checkpoint is one below the lowest outstanding position, or the
        -- frontier when nothing is outstanding. A poll holds the row only
        -- while it runs; acks never touch it.
        CREATE TABLE %1$I.subscription_groups (
            subscription        text NOT NULL REFERENCES %1$I.subscriptions (name) ON DELETE CASCADE,
            group_name          text NOT NULL,
            ordered             boolean NOT NULL DEFAULT false,
            max_deliveries      integer NOT NULL DEFAULT 10 CHECK (max_deliveries BETWEEN 1 AND 1000),
            max_in_flight       integer CHECK (max_in_flight BETWEEN 1 AND 100000),
            frontier            bigint NOT NULL CHECK (frontier >= 0),
            lease_owner         text,
            lease_expires_at    timestamptz,
            dead_lettered       bigint NOT NULL DEFAULT 0,
            created_at          timestamptz NOT NULL DEFAULT now(),
            updated_at          timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (subscription, group_name)
        );

        -- Matching events at or below a group's frontier that are not yet
        -- acked: pending (consumer NULL: never delivered, nacked, requeued)
        -- or delivered to a consumer until lease_expires_at. An ack deletes
        -- the row in the acking transaction; a poll takes rows with
        -- FOR UPDATE SKIP LOCKED, so it never waits on an ack.
        CREATE TABLE %1$I.subscription_outstanding (
            subscription        text NOT NULL,
            group_name          text NOT NULL,
            position            bigint NOT NULL,
            stream_id           uuid NOT NULL,
            consumer            text,
            deliveries          integer NOT NULL DEFAULT 0,
            lease_expires_at    timestamptz,
            available_at        timestamptz,
            PRIMARY KEY (subscription, group_name, position)
        );
        CREATE INDEX subscription_outstanding_stream_idx
            ON %1$I.subscription_outstanding (subscription, group_name, stream_id, position);

        -- The consumers a group has seen, for status.
        CREATE TABLE %1$I.subscription_consumers (
            subscription        text NOT NULL,
            group_name          text NOT NULL,
            consumer            text NOT NULL,
            last_seen           timestamptz NOT NULL,
            PRIMARY KEY (subscription, group_name, consumer),
            FOREIGN KEY (subscription, group_name)
                REFERENCES %1$I.subscription_groups (subscription, group_name) ON DELETE CASCADE
        );

        -- Events a group gave up on after max_deliveries. The event stays in
        -- the log; requeue puts it back.
        CREATE TABLE %1$I.subscription_dlq (
            subscription        text NOT NULL,
            group_name          text NOT NULL,
            position            bigint NOT NULL,
            stream_id           uuid NOT NULL,
            deliveries          integer NOT NULL,
            last_consumer       text,
            dead_at             timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (subscription, group_name, position),
            FOREIGN KEY (subscription, group_name)
                REFERENCES %1$I.subscription_groups (subscription, group_name) ON DELETE CASCADE
        );
    $ddl$, store);
END
$fn$;
