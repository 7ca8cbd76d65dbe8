-- Store step 7 (0.2.0): subscriptions and consumer groups, and the stream
-- categories their filters read (docs/subscriptions.md).

-- A stream's category: the alias prefix before ':' (resolve_stream_alias)
-- or the one given on its first append. Set once, never changed.
CREATE TABLE @store@.stream_categories (
    stream_id   uuid PRIMARY KEY,
    category    text NOT NULL CHECK (category <> '')
);
CREATE INDEX stream_categories_category_idx ON @store@.stream_categories (category, stream_id);

-- One row per subscription: a named filter on the global log. The
-- filters AND together; NULL lets everything through.
CREATE TABLE @store@.subscriptions (
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
CREATE TABLE @store@.subscription_groups (
    subscription        text NOT NULL REFERENCES @store@.subscriptions (name) ON DELETE CASCADE,
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
CREATE TABLE @store@.subscription_outstanding (
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
    ON @store@.subscription_outstanding (subscription, group_name, stream_id, position);

-- The consumers a group has seen, for status.
CREATE TABLE @store@.subscription_consumers (
    subscription        text NOT NULL,
    group_name          text NOT NULL,
    consumer            text NOT NULL,
    last_seen           timestamptz NOT NULL,
    PRIMARY KEY (subscription, group_name, consumer),
    FOREIGN KEY (subscription, group_name)
        REFERENCES @store@.subscription_groups (subscription, group_name) ON DELETE CASCADE
);

-- Events a group gave up on after max_deliveries. The event stays in
-- the log; requeue puts it back.
CREATE TABLE @store@.subscription_dlq (
    subscription        text NOT NULL,
    group_name          text NOT NULL,
    position            bigint NOT NULL,
    stream_id           uuid NOT NULL,
    deliveries          integer NOT NULL,
    last_consumer       text,
    dead_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription, group_name, position),
    FOREIGN KEY (subscription, group_name)
        REFERENCES @store@.subscription_groups (subscription, group_name) ON DELETE CASCADE
);
