-- Event evolution: a store's tables (upcaster and aggregate registries,
-- snapshots, the streams each aggregate is kept for) and the trigger that
-- keeps the owner rules of the registries. See docs/event-evolution.md and
-- docs/aggregates.md.

-- Upcasters and aggregate folds run as the role that registered them
-- (`owner`), as projection handlers do: a row is registered as the current
-- user or a role it is a member of, and only the owner (its members,
-- superusers) may change the code it runs or its owner. Dropping one is an
-- admin's act: it runs no code.
CREATE OR REPLACE FUNCTION rillflow._evolution_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    what text := CASE TG_TABLE_NAME WHEN 'upcasters' THEN 'upcaster' ELSE 'aggregate' END;
    code_new text;
    code_old text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.owner IS NULL THEN
            NEW.owner := current_user::regrole;
        ELSIF NOT rillflow._acts_as(NEW.owner) THEN
            RAISE EXCEPTION 'permission denied to register an % for role %', what, NEW.owner
                USING ERRCODE = '42501',
                      DETAIL = format('An %s is owned by the role that registers it, or by a role it is a member of.', what);
        END IF;
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'upcasters' THEN
        code_new := NEW.fn::text;
        code_old := OLD.fn::text;
    ELSE
        code_new := NEW.fold::text;
        code_old := OLD.fold::text;
    END IF;
    IF (code_new, NEW.owner) IS DISTINCT FROM (code_old, OLD.owner) THEN
        IF NOT rillflow._acts_as(OLD.owner) THEN
            RAISE EXCEPTION 'permission denied to change the function or owner of an %', what
                USING ERRCODE = '42501',
                      DETAIL = format('Only its owner (role %s), its members and superusers may.', OLD.owner);
        END IF;
        IF NEW.owner IS DISTINCT FROM OLD.owner AND NOT rillflow._acts_as(NEW.owner) THEN
            RAISE EXCEPTION 'permission denied to give an % to role %', what, NEW.owner
                USING ERRCODE = '42501', DETAIL = 'The new owner must be a role the current user is a member of.';
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;

