-- wait_for_projection, worker_status and the worker's settings. make
-- installcheck runs with rillflow.worker_enabled = off (scripts/test.sh), so
-- nothing here moves unless this session moves it; the worker itself is
-- tested by tests/shell/worker_*.sh.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_wait');
SET rillflow.tenant = 'regress_wait';
CREATE FUNCTION regress_wait_handler(e rillflow.event_envelope) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
SELECT rillflow.create_projection('waited', 'regress_wait_handler(rillflow.event_envelope)');

-- already there: true at once, even with no time to wait
SELECT rillflow.wait_for_projection('waited', 0, '0');
-- not there: false when the timeout passes
SELECT rillflow.wait_for_projection('waited', 1, '20 milliseconds');
-- after a run that passes the position: true, with named arguments
SELECT rillflow.append_event('7a170000-0000-0000-0000-000000000001', 'E', '{}');
SELECT rillflow.run_projection('waited');
SELECT rillflow.wait_for_projection(name => 'waited', "position" => 1, timeout => '0');
SELECT rillflow.wait_for_projection('waited', 1);

-- errors
SELECT rillflow.wait_for_projection('missing', 1, '0');
\echo SQLSTATE :SQLSTATE
RESET rillflow.tenant;
SELECT rillflow.wait_for_projection('waited', 1, '0');
\echo SQLSTATE :SQLSTATE
SET rillflow.tenant = 'regress_wait';
SELECT rillflow.wait_for_projection('waited', 1, '-1 second');
\echo SQLSTATE :SQLSTATE
SELECT rillflow.wait_for_projection('waited', 1, '1 day -25 hours');
\echo SQLSTATE :SQLSTATE
SELECT rillflow.wait_for_projection(NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT rillflow.wait_for_projection('waited', NULL);
\echo SQLSTATE :SQLSTATE
SELECT rillflow.wait_for_projection('waited', 1, NULL);
\echo SQLSTATE :SQLSTATE
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT rillflow.wait_for_projection('waited', 1, '0');
\echo SQLSTATE :SQLSTATE
ROLLBACK;
SET rillflow.tenant = 'no_such_tenant';
SELECT rillflow.wait_for_projection('waited', 1, '0');
\echo SQLSTATE :SQLSTATE
RESET rillflow.tenant;

-- the worker is off: the launcher says so, and no worker runs here
SELECT process, state FROM rillflow.worker_status() WHERE process = 'launcher';
SELECT count(*) AS workers_here FROM rillflow.worker_status() WHERE database = current_database();

-- settings: reloaded from the configuration, not set per session
SHOW rillflow.worker_enabled;
SET rillflow.naptime = '5s';
\echo SQLSTATE :SQLSTATE
SHOW rillflow.tick_coalesce;
SET rillflow.tick_coalesce = 0;
\echo SQLSTATE :SQLSTATE
-- (except the projection budget, which a superuser may set for a session:
-- projections_timeout.sql)
SET rillflow.batch_statement_timeout = '1s';
\echo SQLSTATE :SQLSTATE
RESET rillflow.batch_statement_timeout;
SET rillflow.worker_role = 'someone';
\echo SQLSTATE :SQLSTATE
SET rillflow.max_workers = 3;
\echo SQLSTATE :SQLSTATE

SET rillflow.tenant = 'regress_wait';
SELECT rillflow.drop_projection('waited');
RESET rillflow.tenant;
DROP FUNCTION regress_wait_handler(rillflow.event_envelope);
