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
CREATE OR REPLACE FUNCTION rillflow._projection_guard() RETURNS trigger
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
CREATE OR REPLACE FUNCTION rillflow._acts_as(role regrole) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN role IS NULL THEN false
            WHEN EXISTS (SELECT FROM pg_roles r WHERE r.oid = role) THEN pg_has_role(current_user, role, 'MEMBER')
            ELSE (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) END;

