-- Store step 3: projections and their dead letters
-- Released with 0.1.0: never edit it; change a store in a new step (README.md).

-- One row per projection. For worker projections the row lock of a
-- batch's transaction is the lease; external daemons hold the lease
-- columns across transactions, fenced by lease_token.
CREATE TABLE @store@.projections (
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

CREATE SEQUENCE @store@.projection_dlq_seq;
-- Events a projection gave up on. The event stays in the log; the
-- envelope is copied here so the row is readable on its own.
CREATE TABLE @store@.projection_dlq (
    id          bigint PRIMARY KEY DEFAULT nextval('@store@.projection_dlq_seq'::regclass),
    projection  text NOT NULL REFERENCES @store@.projections (name) ON DELETE CASCADE,
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
ALTER SEQUENCE @store@.projection_dlq_seq OWNED BY @store@.projection_dlq.id;
