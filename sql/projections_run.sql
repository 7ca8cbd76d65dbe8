-- Projections: running batches in the database, retries with backoff, the
-- dead-letter queue, handlers in SQL and PL/pgSQL, event type filters, tenants.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_run');
SET rillflow.tenant = 'regress_run';

CREATE TABLE regress_run_totals (stream_id uuid PRIMARY KEY, n bigint NOT NULL, last bigint NOT NULL);
CREATE TABLE regress_run_log (position bigint, type text, via text);
-- an upsert in SQL
CREATE FUNCTION regress_run_sql(e rillflow.event_envelope) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regress_run_totals VALUES (e.stream_id, 1, e.position)
        ON CONFLICT (stream_id) DO UPDATE SET n = regress_run_totals.n + 1, last = EXCLUDED.last $$;
-- PL/pgSQL that writes, then fails on the positions the setting
-- regress_run.fail_on lists (its write must be rolled back with the failure)
CREATE FUNCTION regress_run_pl(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regress_run_log VALUES (e.position, e.type, 'pl');
    IF e.position = ANY (coalesce(nullif(current_setting('regress_run.fail_on', true), ''), '{}')::bigint[]) THEN
        RAISE EXCEPTION 'event % refused', e.position
            USING ERRCODE = '22012', DETAIL = 'body ' || e.body::text, HINT = 'h';
    END IF;
END $$;

SELECT count(rillflow.append_event(('00000000-0000-0000-0000-00000000000' || (i % 3))::uuid,
                                   CASE WHEN i % 2 = 0 THEN 'Even' ELSE 'Odd' END, jsonb_build_object('i', i)))
  FROM generate_series(1, 10) i;

-- a SQL handler, three batches of four, then nothing to do
SELECT rillflow.create_projection('totals', 'regress_run_sql(rillflow.event_envelope)', batch_size => 4);
SELECT rillflow.run_projection('totals') AS applied;
SELECT checkpoint, lag, events_processed FROM rillflow.projection_status('totals');
SELECT rillflow.run_projection('totals', max_batches => 5) AS applied;
SELECT rillflow.run_projection('totals') AS nothing_left;
SELECT stream_id, n, last FROM regress_run_totals ORDER BY stream_id;
SELECT status, checkpoint, lag, events_processed, dlq_size, batches, last_batch_events,
       last_batch_ms >= 0 AS timed, avg_ms_per_event >= 0 AS averaged, last_run_at IS NOT NULL AS ran
  FROM rillflow.projection_metrics('totals');

-- event types: only Even events reach the handler, the checkpoint passes the others
SELECT rillflow.create_projection('evens', 'regress_run_pl(rillflow.event_envelope)', event_types => ARRAY['Even'], batch_size => 2);
SELECT rillflow.run_projections_until_idle('evens') AS applied;
SELECT position, type FROM regress_run_log ORDER BY position;
SELECT checkpoint, lag, events_processed FROM rillflow.projection_status('evens');
TRUNCATE regress_run_log;

-- failures: event 3 fails twice, event 5 always; max 3 attempts, a tiny backoff
SET regress_run.fail_on = '{3, 5}';
SELECT rillflow.create_projection('flaky', 'regress_run_pl(rillflow.event_envelope)', batch_size => 100);
SELECT rillflow.set_projection_options('flaky', max_attempts => 3, backoff_base => '1 hour');
-- first run: 1 and 2 are applied, 3 fails: the checkpoint stays before it
SELECT rillflow.run_projection('flaky') AS applied;
SELECT position FROM regress_run_log ORDER BY position;
SELECT status, checkpoint, retry_position, retry_attempts, retry_at > now() AS backing_off,
       last_error->>'sqlstate' AS sqlstate, last_error->>'message' AS message, last_error->>'detail' AS detail
  FROM rillflow.projection_status('flaky');
-- the handler's write for event 3 was rolled back with its failure
SELECT count(*) AS writes_of_failed_event FROM regress_run_log WHERE position = 3;
-- a run before retry_at does nothing (the backoff is an hour here)
SELECT rillflow.run_projection('flaky') AS not_due;
SELECT rillflow.run_projections_until_idle() AS not_due_either;
SELECT retry_attempts FROM rillflow.projection_status('flaky');
-- the backoff doubles per attempt: base * 2^(attempts - 1)
SELECT rillflow.set_projection_options('flaky', backoff_base => '10 minutes');
UPDATE rillflow_tenant_regress_run.projections SET retry_at = now() WHERE name = 'flaky';
SELECT rillflow.run_projection('flaky') AS applied;
SELECT retry_position, retry_attempts,
       retry_at BETWEEN now() + interval '19 minutes' AND now() + interval '21 minutes' AS doubled
  FROM rillflow.projection_status('flaky');
-- the third attempt succeeds (it failed twice); 4 follows, then 5 fails
SET regress_run.fail_on = '{5}';
SELECT rillflow.set_projection_options('flaky', backoff_base => '1 ms');
UPDATE rillflow_tenant_regress_run.projections SET retry_at = now() WHERE name = 'flaky';
SELECT rillflow.run_projection('flaky') AS applied;
SELECT checkpoint, retry_position, retry_attempts FROM rillflow.projection_status('flaky');
-- 5 fails three times and goes to the DLQ; the batch goes on with 6..10
SELECT pg_sleep(0.01);
SELECT rillflow.run_projection('flaky') AS applied;
SELECT pg_sleep(0.01);
SELECT rillflow.run_projection('flaky') AS applied;
SELECT status, checkpoint, lag, retry_position, retry_attempts, events_processed, events_dead_lettered
  FROM rillflow.projection_status('flaky');
SELECT position, count(*) FROM regress_run_log GROUP BY position ORDER BY position;
SELECT id AS dead_id, position, event->>'type' AS type, event->'body' AS body, sqlstate, message, detail,
       context, attempts, requeued_at FROM rillflow.dlq_list('flaky') \gset
SELECT count(*) AS dlq_size FROM rillflow.dlq_list('flaky');
\echo dead letter at :position type :type body :body sqlstate :sqlstate attempts :attempts
\echo message :message detail :detail
\echo context :context
SELECT dlq_size, events_dead_lettered FROM rillflow.projection_metrics('flaky');

-- requeue: applied on the next run before new events; still failing, it comes back
SELECT rillflow.dlq_requeue('flaky', :dead_id);
SELECT requeued_at IS NOT NULL AS requeued FROM rillflow.dlq_list('flaky');
SELECT rillflow.run_projection('flaky') AS applied;
SELECT attempts, requeued_at FROM rillflow.dlq_list('flaky');
-- fixed: the requeued event is applied and leaves the DLQ
SET regress_run.fail_on = '{12}';
SELECT rillflow.dlq_requeue('flaky', :dead_id);
SELECT count(rillflow.append_event('00000000-0000-0000-0000-000000000009', 'Late', '{}'));
SELECT rillflow.run_projection('flaky') AS applied;
SELECT position, via FROM regress_run_log WHERE position IN (5, 11) ORDER BY position;
SELECT count(*) AS dlq_empty FROM rillflow.dlq_list('flaky');
-- delete
SELECT rillflow.set_projection_options('flaky', max_attempts => 1);
SELECT count(rillflow.append_event('00000000-0000-0000-0000-000000000009', 'Late', '{}'));
SELECT rillflow.run_projection('flaky') AS applied;
SELECT id AS dead_id, position FROM rillflow.dlq_list('flaky') \gset
\echo dead letter at :position
SELECT rillflow.dlq_delete('flaky', :dead_id);
SELECT rillflow.dlq_delete('flaky', :dead_id); \echo SQLSTATE :SQLSTATE
SELECT checkpoint, events_dead_lettered FROM rillflow.projection_status('flaky');

-- a handler that is dropped: the projection fails with a warning, the others run on
CREATE FUNCTION regress_run_gone(e rillflow.event_envelope) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT rillflow.create_projection('gone', 'regress_run_gone(rillflow.event_envelope)');
DROP FUNCTION regress_run_gone(rillflow.event_envelope);
SELECT rillflow.run_projections_until_idle() AS others_ran;
SELECT status, last_error->>'message' AS message FROM rillflow.projection_status('gone');
SELECT rillflow.run_projection('gone') AS failed_runs_nothing;
SELECT rillflow.drop_projection('gone');

-- a handler the caller may not execute (42501), writing nothing
CREATE ROLE regress_run_nobody;
GRANT USAGE ON SCHEMA rillflow, rillflow_tenant_regress_run TO regress_run_nobody;
GRANT ALL ON ALL TABLES IN SCHEMA rillflow_tenant_regress_run TO regress_run_nobody;
GRANT SELECT ON rillflow.tenants TO regress_run_nobody;
REVOKE EXECUTE ON FUNCTION regress_run_sql(rillflow.event_envelope) FROM PUBLIC;
SELECT rillflow.reset_projection('totals', 0);
SET ROLE regress_run_nobody;
SELECT rillflow.run_projection('totals'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT checkpoint FROM rillflow.projection_status('totals');
DROP OWNED BY regress_run_nobody;
DROP ROLE regress_run_nobody;

-- a cancel is not a handler failure: it stops the run and is reported to the caller
CREATE FUNCTION regress_run_slow(e rillflow.event_envelope) RETURNS void LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(5); END $$;
SELECT rillflow.create_projection('slow', 'regress_run_slow(rillflow.event_envelope)');
SET statement_timeout = '50ms';
SELECT rillflow.run_projection('slow'); \echo SQLSTATE :SQLSTATE
RESET statement_timeout;
SELECT checkpoint, retry_attempts, events_dead_lettered FROM rillflow.projection_status('slow');
-- the worker reports it afterwards (token NULL for worker projections)
SELECT rillflow.projection_fail('slow', NULL, NULL, '57014', 'canceling statement due to statement timeout');
SELECT retry_position, retry_attempts FROM rillflow.projection_status('slow');
SELECT rillflow.drop_projection('slow');

-- tenants: each store has its own projections and log
SELECT rillflow.ensure_tenant('regress_run_other');
SET rillflow.tenant = 'regress_run_other';
SELECT count(*) AS no_projections_here FROM rillflow.list_projections();
SELECT rillflow.create_projection('totals', 'regress_run_sql(rillflow.event_envelope)');
TRUNCATE regress_run_totals;
SELECT count(rillflow.append_event('00000000-0000-0000-0000-0000000000aa', 'Other', '{}'));
SELECT rillflow.run_projections_until_idle() AS applied;
SELECT stream_id, n, last FROM regress_run_totals;
SET rillflow.tenant = 'regress_run';
SELECT name, status, checkpoint, head FROM rillflow.list_projections();

RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store(t) FROM unnest(ARRAY['regress_run', 'regress_run_other']) t;
RESET client_min_messages;
DROP TABLE regress_run_totals, regress_run_log;
DROP FUNCTION regress_run_sql(rillflow.event_envelope), regress_run_pl(rillflow.event_envelope),
    regress_run_slow(rillflow.event_envelope);
