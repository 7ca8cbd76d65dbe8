-- Projections run their handlers as the role that registered them, in a
-- security-restricted context, whoever runs the batch (a superuser here, the
-- worker, another role); settings a handler changes do not outlive its
-- batch, and a handler that switches rillflow.tenant moves no other store's
-- checkpoint; an owner that lost its rights, or a handler that is not a
-- handler, is refused before any call and is never run as anyone else.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_rf_owner;
CREATE ROLE regress_rf_runner;
CREATE ROLE regress_rf_gone;
RESET client_min_messages;
SELECT rillflow.ensure_tenant('regress_owner');
SELECT rillflow.ensure_tenant('regress_owner_b');
-- the grants a writer of the two stores has on main (docs/security.md)
GRANT USAGE ON SCHEMA rillflow, rillflow_tenant_regress_owner, rillflow_tenant_regress_owner_b
    TO regress_rf_owner, regress_rf_runner, regress_rf_gone;
GRANT SELECT ON ALL TABLES IN SCHEMA rillflow TO regress_rf_owner, regress_rf_runner, regress_rf_gone;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rillflow_tenant_regress_owner, rillflow_tenant_regress_owner_b
    TO regress_rf_owner, regress_rf_runner, regress_rf_gone;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA rillflow_tenant_regress_owner, rillflow_tenant_regress_owner_b
    TO regress_rf_owner, regress_rf_runner, regress_rf_gone;
CREATE SCHEMA regress_owner AUTHORIZATION regress_rf_owner;
GRANT USAGE ON SCHEMA regress_owner TO regress_rf_gone;

-- What a handler sees: its current user, whether that is a superuser, and
-- whether it runs restricted (SET ROLE is refused with 42501 there).
SET ROLE regress_rf_owner;
CREATE TABLE regress_owner.seen (store name, position bigint, usr name, super boolean, restricted boolean);
CREATE FUNCTION regress_owner.record(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    restricted boolean;
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('role', 'none', true);
        RAISE EXCEPTION 'not restricted' USING ERRCODE = '0A000';
    EXCEPTION
        WHEN insufficient_privilege THEN restricted := true;
        WHEN feature_not_supported THEN restricted := false;
    END;
    INSERT INTO regress_owner.seen
        SELECT rillflow.current_store(), e.position, current_user, r.rolsuper, restricted
          FROM pg_catalog.pg_roles r WHERE r.rolname = current_user;
END $$;
SET rillflow.tenant = 'regress_owner';
SELECT rillflow.create_projection('owned', 'regress_owner.record(rillflow.event_envelope)');
RESET ROLE;
SELECT count(rillflow.append_event(gen_random_uuid(), 'Seen', '{}')) FROM generate_series(1, 3);

-- run by a superuser: the handler runs as its owner, restricted
SELECT rillflow.run_projection('owned') AS applied;
SELECT position, usr, super, restricted FROM regress_owner.seen ORDER BY position;
SELECT current_user AS after_the_run;
-- run by another role: still as the owner
SELECT rillflow.append_event(gen_random_uuid(), 'Seen', '{}') IS NOT NULL AS appended;
SET ROLE regress_rf_runner;
SELECT rillflow.run_projection('owned') AS applied;
SELECT current_user AS after_the_run;
RESET ROLE;
SELECT position, usr, super, restricted FROM regress_owner.seen WHERE position = 4;

-- a handler cannot take the runner's rights: SET ROLE back to the caller,
-- or to a superuser, fails as a handler error (retried, then dead-lettered)
SET ROLE regress_rf_owner;
CREATE FUNCTION regress_owner.escalate(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('role', 'postgres', true);
    INSERT INTO regress_owner.seen VALUES (rillflow.current_store(), e.position, current_user, NULL, NULL);
END $$;
SELECT rillflow.create_projection('escalate', 'regress_owner.escalate(rillflow.event_envelope)');
SELECT rillflow.set_projection_options('escalate', max_attempts => 1);
RESET ROLE;
SELECT rillflow.run_projection('escalate') AS applied;
SELECT checkpoint, events_dead_lettered, last_error->>'sqlstate' AS sqlstate, last_error->>'message' AS message
  FROM rillflow.projection_status('escalate');
SELECT count(*) AS rows_written_as_someone_else FROM regress_owner.seen WHERE usr <> 'regress_rf_owner';
SELECT current_user AS after_failed_calls;

-- a handler cannot run projections itself (it would switch to their owner):
-- 0A000, a handler error
SET ROLE regress_rf_owner;
CREATE FUNCTION regress_owner.nested(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM rillflow.run_projection('owned');
END $$;
SELECT rillflow.create_projection('nested', 'regress_owner.nested(rillflow.event_envelope)', start_from => 3);
SELECT rillflow.set_projection_options('nested', max_attempts => 1);
RESET ROLE;
SELECT rillflow.run_projection('nested') AS applied;
SELECT position, sqlstate, message FROM rillflow.dlq_list('nested');

-- settings a handler changes (SET, SET LOCAL, set_config; rillflow.tenant
-- too) are reset after its batch, and the run goes on in its own store:
-- store b has a projection of the same name, whose checkpoint stays
SET ROLE regress_rf_owner;
CREATE FUNCTION regress_owner.meddle(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'regress_owner', false);
    PERFORM pg_catalog.set_config('work_mem', '7777kB', true);
    PERFORM pg_catalog.set_config('regress_owner.note', 'left behind', false);
    PERFORM pg_catalog.set_config('rillflow.tenant', 'regress_owner_b', false);
    -- looks the store up again under the new tenant
    INSERT INTO regress_owner.seen VALUES (rillflow.current_store(), e.position, current_user, NULL, NULL);
END $$;
SELECT rillflow.create_projection('meddle', 'regress_owner.meddle(rillflow.event_envelope)');
SET rillflow.tenant = 'regress_owner_b';
SELECT rillflow.create_projection('meddle', 'regress_owner.meddle(rillflow.event_envelope)');
RESET ROLE;
SET rillflow.tenant = 'regress_owner';
SHOW search_path;
SHOW work_mem;
SELECT rillflow.run_projection('meddle') AS applied;
SHOW search_path;
SHOW work_mem;
SHOW rillflow.tenant;
SELECT current_setting('regress_owner.note', true) AS note;
SELECT store, position FROM regress_owner.seen WHERE usr = 'regress_rf_owner' AND super IS NULL ORDER BY position;
SELECT checkpoint FROM rillflow.projection_status('meddle');
SET rillflow.tenant = 'regress_owner_b';
SELECT checkpoint, events_processed FROM rillflow.projection_status('meddle');
SET rillflow.tenant = 'regress_owner';

-- an owner that lost EXECUTE on the handler: refused before any call, the
-- projection failed with 42501, nothing run as anyone else
CREATE FUNCTION regress_owner.shared(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regress_owner.seen VALUES (rillflow.current_store(), e.position, current_user, NULL, NULL);
END $$;
ALTER FUNCTION regress_owner.shared(rillflow.event_envelope) OWNER TO postgres;
REVOKE EXECUTE ON FUNCTION regress_owner.shared(rillflow.event_envelope) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION regress_owner.shared(rillflow.event_envelope) TO regress_rf_owner, regress_rf_gone;
SET ROLE regress_rf_owner;
SELECT rillflow.create_projection('revoked', 'regress_owner.shared(rillflow.event_envelope)');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION regress_owner.shared(rillflow.event_envelope) FROM regress_rf_owner;
SELECT rillflow.run_projection('revoked') AS applied;
SELECT status, checkpoint, retry_attempts, last_error->>'sqlstate' AS sqlstate, last_error->>'message' AS message
  FROM rillflow.projection_status('revoked');
SELECT count(*) AS calls FROM regress_owner.seen WHERE usr <> 'regress_rf_owner';

-- an owner that was dropped: refused, failed with 42704
SET ROLE regress_rf_gone;
SELECT rillflow.create_projection('orphan', 'regress_owner.shared(rillflow.event_envelope)');
RESET ROLE;
DROP OWNED BY regress_rf_gone;
DROP ROLE regress_rf_gone;
SELECT rillflow.run_projection('orphan') AS applied;
SELECT status, checkpoint, retry_attempts, last_error->>'sqlstate' AS sqlstate, last_error->>'message' AS message
  FROM rillflow.projection_status('orphan');
SELECT count(*) AS calls FROM regress_owner.seen WHERE usr <> 'regress_rf_owner';

-- a handler that is not a handler (here put in by a direct catalog update):
-- checked against the envelope signature before any call, failed with 42804
SELECT rillflow.create_projection('retyped', 'regress_owner.shared(rillflow.event_envelope)');
UPDATE rillflow_tenant_regress_owner.projections SET handler = 'int4recv(internal)'::regprocedure WHERE name = 'retyped';
SELECT rillflow.run_projection('retyped') AS applied;
SELECT status, checkpoint, retry_attempts, last_error->>'sqlstate' AS sqlstate, last_error->>'message' AS message
  FROM rillflow.projection_status('retyped');

RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_owner');
SELECT rillflow._drop_store('regress_owner_b');
DROP SCHEMA regress_owner CASCADE;
RESET client_min_messages;
DROP OWNED BY regress_rf_owner, regress_rf_runner;
DROP ROLE regress_rf_owner, regress_rf_runner;
