-- Projections with batch handlers (taking rillflow.event_envelope[]): one
-- call per run of events, bisection to the failing event, retries, the DLQ
-- and requeues with the per-event guarantees, and the signatures admitted.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_batch');
SET rillflow.tenant = 'regress_batch';

CREATE TABLE regress_batch_totals (stream_id uuid PRIMARY KEY, n bigint NOT NULL, last bigint NOT NULL);
CREATE TABLE regress_batch_log (position bigint NOT NULL, type text NOT NULL);
-- a set-based upsert in SQL: one statement per batch
CREATE FUNCTION regress_batch_sql(events rillflow.event_envelope[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regress_batch_totals
        SELECT e.stream_id, count(*), max(e.position) FROM unnest(events) e GROUP BY e.stream_id
        ON CONFLICT (stream_id) DO UPDATE
            SET n = regress_batch_totals.n + EXCLUDED.n, last = EXCLUDED.last $$;
-- PL/pgSQL: writes the whole call, says which events it was called on, then
-- fails if the call holds a position the setting regress_batch.fail_on lists
CREATE FUNCTION regress_batch_pl(events rillflow.event_envelope[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
BEGIN
    RAISE NOTICE 'call on % .. % (% events)', events[1].position, events[cardinality(events)].position,
        cardinality(events);
    INSERT INTO regress_batch_log SELECT e.position, e.type FROM unnest(events) e;
    SELECT min(e.position) INTO bad FROM unnest(events) e
     WHERE e.position = ANY (coalesce(nullif(current_setting('regress_batch.fail_on', true), ''), '{}')::bigint[]);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'event % refused in a call of % events', bad, cardinality(events)
            USING ERRCODE = '22012', DETAIL = 'body ' || (SELECT e.body::text FROM unnest(events) e WHERE e.position = bad);
    END IF;
END $$;

SELECT count(rillflow.append_event(('00000000-0000-0000-0000-00000000000' || (i % 3))::uuid,
                                   CASE WHEN i % 2 = 0 THEN 'Even' ELSE 'Odd' END, jsonb_build_object('i', i)))
  FROM generate_series(1, 10) i;

-- signatures: an array of envelopes is admitted; other arrays, sets and two arguments are not
SELECT rillflow.create_projection('totals', 'regress_batch_sql(rillflow.event_envelope[])', batch_size => 4);
CREATE FUNCTION regress_batch_text(events text[]) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION regress_batch_set(events rillflow.event_envelope[]) RETURNS SETOF int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION regress_batch_two(events rillflow.event_envelope[], n int) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT rillflow.create_projection('bad', 'regress_batch_text(text[])'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('bad', 'regress_batch_set(rillflow.event_envelope[])'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_projection('bad', 'regress_batch_two(rillflow.event_envelope[], int)'); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS not_created FROM rillflow.list_projections() WHERE name = 'bad';

-- the SQL handler: three batches (4, 4, 2), each event counted once
SELECT rillflow.run_projection('totals') AS applied;
SELECT rillflow.run_projections_until_idle('totals') AS applied;
SELECT stream_id, n, last FROM regress_batch_totals ORDER BY stream_id;
SELECT status, checkpoint, lag, events_processed, batches FROM rillflow.projection_metrics('totals');
SELECT handler FROM rillflow.projection_status('totals');

-- event types reach a batch handler filtered, in log order
SELECT rillflow.create_projection('evens', 'regress_batch_pl(rillflow.event_envelope[])', event_types => ARRAY['Even']);
SELECT rillflow.run_projections_until_idle('evens') AS applied;
SELECT position, type FROM regress_batch_log ORDER BY position;
SELECT checkpoint, lag FROM rillflow.projection_status('evens');
TRUNCATE regress_batch_log;

-- a poison event in the middle of a batch: bisection applies 1..5 and isolates 6
SET regress_batch.fail_on = '{6}';
SELECT rillflow.create_projection('flaky', 'regress_batch_pl(rillflow.event_envelope[])', batch_size => 100);
SELECT rillflow.set_projection_options('flaky', max_attempts => 3, backoff_base => '1 hour');
SELECT rillflow.run_projection('flaky') AS applied;
SELECT position, count(*) FROM regress_batch_log GROUP BY position ORDER BY position;
SELECT status, checkpoint, retry_position, retry_attempts, retry_at > now() AS backing_off,
       last_error->>'position' AS position, last_error->>'sqlstate' AS sqlstate,
       last_error->>'message' AS message, last_error->>'detail' AS detail
  FROM rillflow.projection_status('flaky');
-- not due yet: nothing is called
SELECT rillflow.run_projection('flaky') AS not_due;
-- the second attempt: the backoff doubled
SELECT rillflow.set_projection_options('flaky', backoff_base => '10 minutes');
UPDATE rillflow_tenant_regress_batch.projections SET retry_at = now() WHERE name = 'flaky';
SELECT rillflow.run_projection('flaky') AS applied;
SELECT retry_position, retry_attempts,
       retry_at BETWEEN now() + interval '19 minutes' AND now() + interval '21 minutes' AS doubled
  FROM rillflow.projection_status('flaky');
-- the third attempt dead-letters 6; the batch goes on with 7..10 in one call
UPDATE rillflow_tenant_regress_batch.projections SET retry_at = now() WHERE name = 'flaky';
SELECT rillflow.run_projection('flaky') AS applied;
SELECT status, checkpoint, lag, retry_position, retry_attempts, events_processed, events_dead_lettered
  FROM rillflow.projection_status('flaky');
SELECT position, count(*) FROM regress_batch_log GROUP BY position ORDER BY position;
SELECT id AS dead_id, position, event->>'type' AS type, sqlstate, message, detail,
       context IS NOT NULL AS has_context, attempts FROM rillflow.dlq_list('flaky') \gset
\echo dead letter at :position type :type sqlstate :sqlstate attempts :attempts
\echo message :message detail :detail context :has_context
-- requeued while still failing: back in the queue; fixed: applied once, the queue empty
SELECT rillflow.dlq_requeue('flaky', :dead_id);
SELECT rillflow.run_projection('flaky') AS applied;
SELECT attempts, requeued_at FROM rillflow.dlq_list('flaky');
RESET regress_batch.fail_on;
SELECT rillflow.dlq_requeue('flaky', :dead_id);
SELECT rillflow.run_projection('flaky') AS applied;
SELECT count(*) AS dlq_empty FROM rillflow.dlq_list('flaky');
SELECT count(*) AS events, count(DISTINCT position) AS distinct_events FROM regress_batch_log;

-- two poison events: the first stops the batch; max_attempts 1 dead-letters
-- each at once, and the events between them are applied in their own calls
TRUNCATE regress_batch_log;
SET regress_batch.fail_on = '{3, 8}';
SELECT rillflow.set_projection_options('flaky', max_attempts => 1);
SELECT rillflow.reset_projection('flaky', 0);
SELECT rillflow.run_projection('flaky') AS applied;
SELECT string_agg(position::text, ',' ORDER BY position) AS applied_once FROM regress_batch_log;
SELECT position, message, attempts FROM rillflow.dlq_list('flaky') ORDER BY position;
RESET regress_batch.fail_on;

-- a failure that needs two events in one call (an upsert touching a row
-- twice, 21000): the calls are split until they pass, each event applied once
CREATE FUNCTION regress_batch_naive(events rillflow.event_envelope[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regress_batch_totals SELECT e.stream_id, 1, e.position FROM unnest(events) e
        ON CONFLICT (stream_id) DO UPDATE SET n = regress_batch_totals.n + 1, last = EXCLUDED.last $$;
TRUNCATE regress_batch_totals;
SELECT rillflow.create_projection('naive', 'regress_batch_naive(rillflow.event_envelope[])');
SELECT rillflow.run_projection('naive') AS applied;
SELECT stream_id, n, last FROM regress_batch_totals ORDER BY stream_id;
SELECT checkpoint, retry_attempts, events_dead_lettered FROM rillflow.projection_status('naive');

-- a cancel is not a handler failure: re-thrown, nothing counted
CREATE FUNCTION regress_batch_slow(events rillflow.event_envelope[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(5); END $$;
SELECT rillflow.create_projection('slow', 'regress_batch_slow(rillflow.event_envelope[])');
SET statement_timeout = '50ms';
SELECT rillflow.run_projection('slow'); \echo SQLSTATE :SQLSTATE
RESET statement_timeout;
SELECT checkpoint, retry_attempts, events_dead_lettered FROM rillflow.projection_status('slow');

RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_batch');
RESET client_min_messages;
DROP TABLE regress_batch_totals, regress_batch_log;
DROP FUNCTION regress_batch_sql(rillflow.event_envelope[]), regress_batch_pl(rillflow.event_envelope[]),
    regress_batch_text(text[]), regress_batch_set(rillflow.event_envelope[]),
    regress_batch_two(rillflow.event_envelope[], int), regress_batch_naive(rillflow.event_envelope[]),
    regress_batch_slow(rillflow.event_envelope[]);
