-- Store step 1: the event tables and the global log
-- Released with 0.1.0: never edit it; change a store in a new step (README.md).

COMMENT ON SCHEMA @store@ IS 'rillflow store';

CREATE SEQUENCE @store@.events_seq;

CREATE TABLE @store@.streams (
    stream_id   uuid PRIMARY KEY,
    version     bigint NOT NULL CHECK (version > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- seq is the provisional number an event gets when it is written and
-- tx the appending transaction; the position in the global log is
-- given after commit by the sequencer, in the positions table.
CREATE TABLE @store@.events (
    seq             bigint PRIMARY KEY DEFAULT nextval('@store@.events_seq'::regclass),
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
CREATE INDEX events_tx_idx ON @store@.events (tx);
ALTER SEQUENCE @store@.events_seq OWNED BY @store@.events.seq;

-- The global log: position -> event, dense and append-only.
CREATE TABLE @store@.positions (
    position    bigint PRIMARY KEY,
    seq         bigint NOT NULL UNIQUE
);

-- The sequencer's state: the head, and the snapshot of its last tick.
CREATE TABLE @store@.log_state (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    head                bigint NOT NULL,
    last_snapshot       pg_snapshot NOT NULL,
    system_identifier   bigint NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE @store@.idempotency_keys (
    key             text PRIMARY KEY,
    stream_id       uuid NOT NULL,
    first_version   bigint NOT NULL,
    last_version    bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE @store@.stream_aliases (
    alias       text PRIMARY KEY,
    stream_id   uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
