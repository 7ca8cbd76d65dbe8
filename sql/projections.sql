-- Projections: the registry, the admin functions, the lease primitives and
-- every error they raise. Running is in projections_run.sql.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_proj');
SET rillflow.tenant = 'regress_proj';

CREATE TABLE regress_proj_seen (position bigint, type text);
CREATE FUNCTION regress_proj_h(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO regress_proj_seen VALUES (e.position, e.type) $$;
CREATE FUNCTION regress_proj_two(e rillflow.event_envelope, x int) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION regress_proj_text(e text) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION regress_proj_set(e rillflow.event_envelope) RETURNS SETOF int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE PROCEDURE regress_proj_proc(e rillflow.event_envelope) LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION regress_proj_reset() RETURNS void LANGUAGE sql AS $$ DELETE FROM regress_proj_seen $$;
CREATE FUNCTION regress_proj_reset_named(p text) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO regress_proj_seen VALUES (-1, 'reset ' || p) $$;

-- registry: create is idempotent for the same definition
SELECT rillflow.create_projection('orders', 'regress_proj_h(rillflow.event_envelope)') AS created;
SELECT rillflow.create_projection('orders', 'regress_proj_h(rillflow.event_envelope)') AS created_again;
SELECT rillflow.create_projection('Orders-2', 'regress_proj_h(rillflow.event_envelope)', event_types => ARRAY['A', 'B'], batch_size => 7, start_from => 0);
SELECT rillflow.create_external_projection('remote', batch_size => 50) AS created;
SELECT rillflow.create_external_projection('remote', batch_size => 50) AS created_again;
SELECT name, kind, handler, event_types, batch_size, status, checkpoint, head, lag FROM rillflow.list_projections();
SELECT kind, handler, status, checkpoint, lease_owner, lease_token, retry_attempts, max_attempts, backoff_base,
       events_processed, events_dead_lettered, last_run_at, reset_function
  FROM rillflow.projection_status('orders');
-- another definition under the same name (42710)
SELECT rillflow.create_projection('orders', 'regress_proj_h(rillflow.event_envelope)', batch_size => 10); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_external_projection('orders'); \echo SQLSTATE :SQLSTATE

-- bad handlers: 42883 for a function that does not exist, 22023 for a wrong signature
SELECT rillflow.create_projection('p', 'regress_proj_missing(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_two(rillflow.event_envelope, int)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_text(text)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_set(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_proc(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'count("any")'); \echo SQLSTATE :SQLSTATE
-- a bare name is not a signature (22P02 from regprocedure)
SELECT rillflow.create_projection('p', 'regress_proj_h'::text::regprocedure); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', NULL); \echo SQLSTATE :SQLSTATE
-- bad names (22004, 22023), injection attempts included
SELECT rillflow.create_projection(NULL, 'regress_proj_h(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('', 'regress_proj_h(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('1st', 'regress_proj_h(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('has space', 'regress_proj_h(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection($$x'); DROP TABLE regress_proj_seen; --$$, 'regress_proj_h(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection(repeat('p', 64), 'regress_proj_h(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection(repeat('p', 63), 'regress_proj_h(rillflow.event_envelope)') AS longest_name_ok;
-- bad options (22023, 22004)
SELECT rillflow.create_projection('p', 'regress_proj_h(rillflow.event_envelope)', batch_size => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_h(rillflow.event_envelope)', batch_size => 100001); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_h(rillflow.event_envelope)', batch_size => NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_h(rillflow.event_envelope)', start_from => -1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_h(rillflow.event_envelope)', event_types => '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_h(rillflow.event_envelope)', event_types => ARRAY['A', NULL]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_h(rillflow.event_envelope)', event_types => ARRAY['']); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('p', 'regress_proj_h(rillflow.event_envelope)', event_types => '{{A},{B}}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_external_projection('p', batch_size => -5); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS nothing_written FROM rillflow.list_projections() WHERE name = 'p';

-- options
SELECT rillflow.set_projection_options('orders', max_attempts => 3, backoff_base => '10 ms');
SELECT rillflow.set_projection_options('orders', batch_size => 20);
SELECT max_attempts, backoff_base, batch_size FROM rillflow.projection_status('orders');
SELECT rillflow.set_projection_options('orders', max_attempts => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_projection_options('orders', backoff_base => '-1 s'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_projection_options('orders', batch_size => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_projection_options('nope', max_attempts => 2); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_projection_options('orders', batch_size => 500);
SELECT rillflow.set_projection_reset_function('orders', 'regress_proj_reset()');
SELECT rillflow.set_projection_reset_function('Orders-2', 'regress_proj_reset_named(text)');
SELECT rillflow.set_projection_reset_function('orders', 'regress_proj_two(rillflow.event_envelope, int)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_projection_reset_function('orders', 'regress_proj_proc(rillflow.event_envelope)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_projection_reset_function('nope', 'regress_proj_reset()'); \echo SQLSTATE :SQLSTATE
SELECT reset_function FROM rillflow.projection_status('orders');

-- unknown projections are RF004 everywhere
SELECT * FROM rillflow.projection_status('nope'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_metrics('nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_projection('nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_projections_until_idle('nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_projection('nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.pause_projection('nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resume_projection('nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.reset_projection('nope', 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.rebuild_projection('nope'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.dlq_list('nope'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.dlq_requeue('nope', 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.dlq_delete('nope', 1); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_acquire('nope', 'me', '1 minute'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.projection_commit('nope', 1, 0, 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.projection_fail('nope', 1, 1, 'XX000', 'm'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.projection_release('nope', 1); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_status('bad name'); \echo SQLSTATE :SQLSTATE
-- a projection of another store is not found either
RESET rillflow.tenant;
SELECT * FROM rillflow.projection_status('orders'); \echo SQLSTATE :SQLSTATE
SET rillflow.tenant = 'regress_proj';

-- other argument errors
SELECT rillflow.run_projection('orders', 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_projection('orders', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_projection(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_projection('remote'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.run_projections_until_idle('remote'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.reset_projection('orders', -1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.reset_projection('orders', 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.reset_projection('orders', NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.dlq_list('orders', 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.dlq_requeue('orders', 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.dlq_delete('orders', NULL); \echo SQLSTATE :SQLSTATE

-- lease primitives (external projections)
SELECT count(rillflow.append_event(rillflow.resolve_stream_alias('o-' || i), 'A', jsonb_build_object('i', i)))
  FROM generate_series(1, 5) i;
SELECT count(*) FROM rillflow.read_all();
SELECT token, checkpoint, batch_size, event_types FROM rillflow.projection_acquire('remote', 'node-a', '1 minute');
-- the same owner keeps its token; another owner gets nothing while the lease runs
SELECT token FROM rillflow.projection_acquire('remote', 'node-a', '1 minute');
SELECT count(*) AS other_owner_gets_nothing FROM rillflow.projection_acquire('remote', 'node-b', '1 minute');
SELECT lease_owner, lease_token, lease_expires_at > now() AS leased FROM rillflow.projection_status('remote');
SELECT rillflow.projection_commit('remote', 1, 3, 3);
SELECT checkpoint, events_processed, lag FROM rillflow.projection_status('remote');
-- a stale token, a checkpoint moving back, bad arguments
SELECT rillflow.projection_commit('remote', 0, 4, 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.projection_commit('remote', 1, 2, 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.projection_commit('remote', 1, 4, -1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.projection_commit('remote', NULL, 4, 1); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_acquire('remote', '', '1 minute'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_acquire('remote', 'node-a', '0 s'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_acquire('remote', 'node-a', '99 milliseconds'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_acquire('remote', 'node-a', '1 day 1 second'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_acquire('remote', 'node-a', NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.projection_acquire('orders', 'node-a', '1 minute'); \echo SQLSTATE :SQLSTATE
-- failures: retry with backoff, then dead-letter with the event
SELECT rillflow.set_projection_options('remote', max_attempts => 2, backoff_base => '1 hour');
SELECT rillflow.projection_fail('remote', 1, 4, '23505', 'duplicate', 'Key (id)=(1) exists.', 'in apply()');
SELECT retry_position, retry_attempts, retry_at > now() + interval '59 minutes' AS backed_off, last_error->>'sqlstate' AS sqlstate
  FROM rillflow.projection_status('remote');
SELECT count(*) AS not_due_yet FROM rillflow.projection_acquire('remote', 'node-a', '1 minute');
SELECT rillflow.projection_fail('remote', 1, 3, 'XX000', 'm'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.projection_fail('remote', 1, 4, '23505', 'duplicate again', NULL, NULL);
SELECT checkpoint, retry_position, retry_attempts, retry_at, events_dead_lettered FROM rillflow.projection_status('remote');
SELECT id, position, event->>'type' AS type, event->'body' AS body, sqlstate, message, detail, context, attempts,
       requeued_at FROM rillflow.dlq_list('remote');
SELECT rillflow.dlq_requeue('remote', (SELECT id FROM rillflow.dlq_list('remote'))); \echo SQLSTATE :SQLSTATE
SELECT rillflow.dlq_delete('remote', (SELECT id FROM rillflow.dlq_list('remote')));
SELECT count(*) AS dlq_empty FROM rillflow.dlq_list('remote');
-- release: the next owner gets a new token; a stale release changes nothing
SELECT rillflow.projection_release('remote', 1);
SELECT rillflow.projection_release('remote', 1);
SELECT token FROM rillflow.projection_acquire('remote', 'node-b', '1 minute');
SELECT rillflow.projection_commit('remote', 1, 5, 1); \echo SQLSTATE :SQLSTATE
-- pause revokes the lease: the holder's commit fails (RF006) and it gets nothing until resumed
SELECT rillflow.pause_projection('remote');
SELECT status, lease_owner, lease_token FROM rillflow.projection_status('remote');
SELECT rillflow.projection_commit('remote', 2, 5, 1); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS paused_gets_nothing FROM rillflow.projection_acquire('remote', 'node-b', '1 minute');
SELECT rillflow.resume_projection('remote');
SELECT token FROM rillflow.projection_acquire('remote', 'node-b', '1 minute');
-- an expired lease cannot commit, and another owner may take it
SELECT token FROM rillflow.projection_acquire('remote', 'node-b', '100 milliseconds');
SELECT pg_sleep(0.15);
SELECT rillflow.projection_commit('remote', 4, 5, 1); \echo SQLSTATE :SQLSTATE
SELECT token FROM rillflow.projection_acquire('remote', 'node-c', '1 minute');
SELECT rillflow.projection_commit('remote', 5, 5, 1);
SELECT checkpoint, lag, events_processed FROM rillflow.projection_status('remote');
-- reset and rebuild revoke the lease too
SELECT rillflow.reset_projection('remote', 2);
SELECT rillflow.projection_commit('remote', 5, 5, 1); \echo SQLSTATE :SQLSTATE
SELECT checkpoint, lease_owner, lease_token FROM rillflow.projection_status('remote');

-- admin on worker projections: pause, resume, reset, rebuild with and without a reset function
SELECT rillflow.pause_projection('orders');
SELECT rillflow.run_projection('orders') AS paused_runs_nothing;
SELECT status FROM rillflow.projection_status('orders');
SELECT rillflow.resume_projection('orders');
SELECT rillflow.run_projection('orders') AS applied;
SELECT position, type FROM regress_proj_seen ORDER BY position;
SELECT rillflow.reset_projection('orders', 3);
SELECT rillflow.run_projection('orders') AS applied_again;
SELECT rillflow.rebuild_projection('orders');
SELECT count(*) AS read_model_cleared FROM regress_proj_seen;
SELECT checkpoint, events_processed, events_dead_lettered, last_error FROM rillflow.projection_status('orders');
SELECT rillflow.run_projections_until_idle('orders') AS replayed;
SELECT rillflow.rebuild_projection('Orders-2');
SELECT position, type FROM regress_proj_seen WHERE position < 0;
-- a projection starting later
SELECT rillflow.create_projection('late', 'regress_proj_h(rillflow.event_envelope)', start_from => 4);
TRUNCATE regress_proj_seen;
SELECT rillflow.run_projection('late') AS applied;
SELECT position FROM regress_proj_seen;

-- projection_acquire first waits for the log to include what was appended
-- before it: a daemon needs no read of its own for it
SELECT rillflow.create_external_projection('ticker') AS created;
SELECT head AS head_before FROM rillflow_tenant_regress_proj.log_state \gset
SELECT count(rillflow.append_event(rillflow.resolve_stream_alias('o-late'), 'Late', '{}')) FROM generate_series(1, 2);
SELECT head - :head_before AS sequenced_before_acquire FROM rillflow_tenant_regress_proj.log_state;
SELECT count(*) AS leased FROM rillflow.projection_acquire('ticker', 'node-t', '1 minute');
SELECT head - :head_before AS sequenced_by_acquire FROM rillflow_tenant_regress_proj.log_state;
-- inside a transaction block too: it takes no lock, a ticker commits the
-- positions
SELECT count(rillflow.append_event(rillflow.resolve_stream_alias('o-late'), 'Late', '{}')) FROM generate_series(1, 2);
BEGIN;
SELECT count(*) AS leased FROM rillflow.projection_acquire('ticker', 'node-t', '1 minute');
SELECT head - :head_before AS sequenced_in_a_block FROM rillflow_tenant_regress_proj.log_state;
COMMIT;
SELECT rillflow.drop_projection('ticker');

-- drop removes the row and its dead letters
SELECT rillflow.drop_projection('late');
SELECT rillflow.drop_projection('late'); \echo SQLSTATE :SQLSTATE
SELECT name FROM rillflow.list_projections();

RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_proj');
RESET client_min_messages;
DROP TABLE regress_proj_seen;
DROP FUNCTION regress_proj_h(rillflow.event_envelope), regress_proj_two(rillflow.event_envelope, int),
    regress_proj_text(text), regress_proj_set(rillflow.event_envelope), regress_proj_reset(),
    regress_proj_reset_named(text);
DROP PROCEDURE regress_proj_proc(rillflow.event_envelope);
