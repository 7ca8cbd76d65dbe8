-- Projections: the tables each store keeps for them (see docs/projections.md).
-- The other parts: rules.sql (argument rules and lookups), registry.sql,
-- status.sql, dead_letters.sql, leases.sql, runtime.sql, admin.sql, and
-- daemon_cluster.sql for external daemons.

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
            batch_size          integer NOT NULL CHECK (batch_size BETWEEN 1 AND %3$s),
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
            -- the role that registered it: its handler and reset function run
            -- with this role's rights only (set by projections_owner)
            owner               regrole NOT NULL,
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
    $ddl$, store, format('%I.projection_dlq_seq', store), rillflow._max_batch_size());
END
$fn$;
