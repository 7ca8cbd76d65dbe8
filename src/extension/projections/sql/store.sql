-- Projections: the tables each store keeps for them (see docs/projections.md).
-- The other parts: rules.sql (argument rules and lookups), registry.sql,
-- status.sql, dead_letters.sql, leases.sql, runtime.sql, admin.sql, and
-- daemon_cluster.sql for external daemons.

-- The owner rules of S.projections (docs/security.md), as a trigger so that a
-- direct INSERT, UPDATE or DELETE meets them as the API does: a projection is
-- its registering role's (current_user), and only that role, its members and
-- superusers may change the code it runs (handler, reset function, kind), its
-- owner, or drop it. Everything else (status, checkpoint, retries, leases,
-- counters) is for any admin of the store and the worker.
CREATE FUNCTION rillflow._projection_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    row_owner regrole;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.owner IS NULL THEN
            NEW.owner := current_user::regrole;
        ELSIF NOT rillflow._acts_as(NEW.owner) THEN
            RAISE EXCEPTION 'permission denied to register projection "%" for role %', NEW.name, NEW.owner
                USING ERRCODE = '42501',
                      DETAIL = 'A projection is owned by the role that registers it, or by a role it is a member of.';
        END IF;
        RETURN NEW;
    END IF;
    row_owner := OLD.owner;
    IF TG_OP = 'DELETE' THEN
        IF NOT rillflow._acts_as(row_owner) THEN
            RAISE EXCEPTION 'permission denied to drop projection "%"', OLD.name
                USING ERRCODE = '42501',
                      DETAIL = format('Only its owner (role %s), its members and superusers may.', row_owner);
        END IF;
        RETURN OLD;
    END IF;
    IF (NEW.handler, NEW.reset_function, NEW.kind, NEW.owner)
       IS DISTINCT FROM (OLD.handler, OLD.reset_function, OLD.kind, OLD.owner) THEN
        IF NOT rillflow._acts_as(row_owner) THEN
            RAISE EXCEPTION 'permission denied to change the code or owner of projection "%"', OLD.name
                USING ERRCODE = '42501',
                      DETAIL = format('Only its owner (role %s), its members and superusers may change its handler, '
                                      'reset function, kind or owner.', row_owner);
        END IF;
        IF NEW.owner IS DISTINCT FROM OLD.owner AND NOT rillflow._acts_as(NEW.owner) THEN
            RAISE EXCEPTION 'permission denied to give projection "%" to role %', OLD.name, NEW.owner
                USING ERRCODE = '42501', DETAIL = 'The new owner must be a role the current user is a member of.';
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;

-- Whether the current user may act for role: is it, a member of it, or a
-- superuser. A role that no longer exists: superusers only.
CREATE FUNCTION rillflow._acts_as(role regrole) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN role IS NULL THEN false
            WHEN EXISTS (SELECT FROM pg_roles r WHERE r.oid = role) THEN pg_has_role(current_user, role, 'MEMBER')
            ELSE (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) END;

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

        CREATE TRIGGER projections_owner BEFORE INSERT OR UPDATE OR DELETE ON %1$I.projections
            FOR EACH ROW EXECUTE FUNCTION rillflow._projection_guard();
    $ddl$, store, format('%I.projection_dlq_seq', store), rillflow._max_batch_size());
END
$fn$;
