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

-- Every per-store table of event evolution, in one function (the store steps
-- of issue 11 take it as one step).
CREATE OR REPLACE FUNCTION rillflow._create_store_evolution(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format($ddl$
        -- One step leaves each (event_type, from_version), and versions only
        -- go up: from any stored (type, version) there is one chain, and it ends.
        CREATE TABLE %1$I.upcasters (
            event_type      text NOT NULL,
            from_version    integer NOT NULL CHECK (from_version > 0),
            to_version      integer NOT NULL,
            to_type         text NOT NULL,
            fn              regprocedure NOT NULL,
            takes_envelope  boolean NOT NULL,
            owner           regrole NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (event_type, from_version),
            CONSTRAINT upcasters_version_up CHECK (to_version > from_version)
        );
        CREATE TRIGGER upcasters_guard BEFORE INSERT OR UPDATE ON %1$I.upcasters
            FOR EACH ROW EXECUTE FUNCTION rillflow._evolution_guard();
        -- Every backend drops its cached chains of this store at its next read.
        CREATE TRIGGER upcasters_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %1$I.upcasters
            FOR EACH STATEMENT EXECUTE FUNCTION rillflow._upcasters_changed();

        CREATE TABLE %1$I.aggregates (
            name            text PRIMARY KEY,
            fold            regprocedure NOT NULL,
            initial         jsonb NOT NULL DEFAULT '{}',
            event_types     text[],
            state_version   integer NOT NULL DEFAULT 1 CHECK (state_version > 0),
            owner           regrole NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER aggregates_guard BEFORE INSERT OR UPDATE ON %1$I.aggregates
            FOR EACH ROW EXECUTE FUNCTION rillflow._evolution_guard();

        -- The newest snapshot of each (stream, aggregate, state_version); never
        -- ahead of the stream when saved (snapshot_save), and never read past
        -- the stream's version (snapshot_load).
        CREATE TABLE %1$I.snapshots (
            stream_id       uuid NOT NULL,
            aggregate       text NOT NULL,
            state_version   integer NOT NULL CHECK (state_version > 0),
            version         bigint NOT NULL CHECK (version > 0),
            state           jsonb NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (stream_id, aggregate, state_version)
        );

        -- The streams each aggregate is kept for: what the snapshotter scans.
        -- Rows come from aggregate_commit, snapshot_save and aggregate_track.
        CREATE TABLE %1$I.aggregate_streams (
            aggregate       text NOT NULL,
            stream_id       uuid NOT NULL,
            PRIMARY KEY (aggregate, stream_id)
        );
    $ddl$, store);
END
$fn$;
