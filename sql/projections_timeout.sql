-- rillflow.batch_statement_timeout bounds the handler calls of every batch,
-- run by the worker or by run_projection. When it runs out, the events before
-- the one that was running are kept (replayed, as after a handler error), and
-- that event is run again alone with a full budget: only an event that runs
-- out of time on its own is charged (retried, then dead-lettered with 57014).
-- Every event is applied or dead-lettered, none is skipped. A handler that
-- catches query_canceled is stopped all the same. The caller's own cancel and
-- statement_timeout still abort the run and charge nothing.
\set SHOW_CONTEXT never
-- a guard only: a runtime that ignored the budget would sleep for an hour
SET statement_timeout = '10s';
SELECT rillflow.ensure_tenant('regress_timeout');
SET rillflow.tenant = 'regress_timeout';

CREATE TABLE regress_timeout_applied (projection text, position bigint, type text, PRIMARY KEY (projection, position));
-- Fast events return at once; Loop sleeps for an hour; Stubborn sleeps for
-- an hour and catches every cancel, forever.
CREATE FUNCTION regress_timeout_apply(e rillflow.event_envelope, projection text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.type = 'Loop' THEN
        PERFORM pg_sleep(3600);
    ELSIF e.type = 'Stubborn' THEN
        LOOP
            BEGIN
                PERFORM pg_sleep(3600);
            EXCEPTION WHEN query_canceled THEN
                NULL;
            END;
        END LOOP;
    END IF;
    INSERT INTO regress_timeout_applied VALUES (projection, e.position, e.type);
END $$;
CREATE FUNCTION regress_timeout_retried(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    BEGIN ATOMIC SELECT regress_timeout_apply(e, 'retried'); END;
CREATE FUNCTION regress_timeout_dead(e rillflow.event_envelope) RETURNS void LANGUAGE sql
    BEGIN ATOMIC SELECT regress_timeout_apply(e, 'dead'); END;
-- a batch handler: the whole call sleeps when any of its events would
CREATE FUNCTION regress_timeout_batch(events rillflow.event_envelope[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    e rillflow.event_envelope;
BEGIN
    FOREACH e IN ARRAY events LOOP
        IF e.type IN ('Loop', 'Stubborn') THEN
            PERFORM regress_timeout_apply(e, 'batch');
        END IF;
    END LOOP;
    INSERT INTO regress_timeout_applied SELECT 'batch', x.position, x.type FROM unnest(events) x;
END $$;

SELECT count(rillflow.append_event(gen_random_uuid(), t, '{}'))
  FROM unnest(ARRAY['Fast', 'Fast', 'Loop', 'Fast', 'Stubborn', 'Fast']) t;

-- only a superuser sets the budget for a session (the worker's comes from the server's configuration)
SET client_min_messages = warning;
CREATE ROLE regress_rf_timeout;
RESET client_min_messages;
SET ROLE regress_rf_timeout;
SET rillflow.batch_statement_timeout = '1h'; \echo SQLSTATE :SQLSTATE
RESET ROLE;
DROP ROLE regress_rf_timeout;
SET rillflow.batch_statement_timeout = '200ms';

-- a looping event is charged, the events before it are kept, the events
-- after it wait: here the first attempt is counted and a retry is due in an hour
SELECT rillflow.create_projection('retried', 'regress_timeout_retried(rillflow.event_envelope)');
SELECT rillflow.set_projection_options('retried', max_attempts => 2, backoff_base => '1 hour');
SELECT rillflow.run_projections_until_idle('retried') AS applied;
SELECT position, type FROM regress_timeout_applied WHERE projection = 'retried' ORDER BY position;
SELECT status, checkpoint, retry_position, retry_attempts, last_error->>'sqlstate' AS sqlstate,
       last_error->>'message' AS message
  FROM rillflow.projection_status('retried');

-- dead-lettered at the first charge: every event is applied or dead-lettered,
-- the one that caught every cancel too
SELECT rillflow.create_projection('dead', 'regress_timeout_dead(rillflow.event_envelope)');
SELECT rillflow.set_projection_options('dead', max_attempts => 1);
SELECT rillflow.run_projections_until_idle('dead') AS applied;
SELECT status, checkpoint, events_processed, events_dead_lettered FROM rillflow.projection_status('dead');
SELECT p.position, a.type AS applied, d.event->>'type' AS dead_lettered, d.sqlstate, d.message
  FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_tenant_regress_timeout.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p
  LEFT JOIN regress_timeout_applied a ON a.projection = 'dead' AND a.position = p.position
  LEFT JOIN rillflow.dlq_list('dead') d ON d.position = p.position
 ORDER BY p.position;

-- a batch handler: calls that run out of time are halved until the event
-- that runs out of time alone is found
SELECT rillflow.create_projection('batch', 'regress_timeout_batch(rillflow.event_envelope[])');
SELECT rillflow.set_projection_options('batch', max_attempts => 1);
SELECT rillflow.run_projections_until_idle('batch') AS applied;
SELECT status, checkpoint, events_processed, events_dead_lettered FROM rillflow.projection_status('batch');
SELECT p.position, a.type AS applied, d.event->>'type' AS dead_lettered, d.sqlstate
  FROM (SELECT g.last_position - cardinality(g.seqs) + u.o AS position, u.seq FROM rillflow_tenant_regress_timeout.log_segments g, unnest(g.seqs) WITH ORDINALITY u(seq, o)) p
  LEFT JOIN regress_timeout_applied a ON a.projection = 'batch' AND a.position = p.position
  LEFT JOIN rillflow.dlq_list('batch') d ON d.position = p.position
 ORDER BY p.position;

-- the caller's own statement_timeout is not a handler failure: the run is
-- aborted and nothing is charged
SET rillflow.batch_statement_timeout = 0;
SELECT rillflow.create_projection('caller', 'regress_timeout_retried(rillflow.event_envelope)',
                                  event_types => ARRAY['Loop']);
SET statement_timeout = '200ms';
SELECT rillflow.run_projection('caller'); \echo SQLSTATE :SQLSTATE
SET statement_timeout = '10s';
SELECT status, checkpoint, retry_attempts, events_dead_lettered FROM rillflow.projection_status('caller');
RESET rillflow.batch_statement_timeout;

RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_timeout');
RESET client_min_messages;
DROP TABLE regress_timeout_applied;
DROP FUNCTION regress_timeout_retried(rillflow.event_envelope), regress_timeout_dead(rillflow.event_envelope),
    regress_timeout_batch(rillflow.event_envelope[]), regress_timeout_apply(rillflow.event_envelope, text);
RESET statement_timeout;
