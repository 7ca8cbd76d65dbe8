-- A transaction whose only writes are subscription polls commits without
-- waiting for its WAL flush (subscriptions/poll_commit.c); one with any other
-- write, before or after a poll, commits as synchronous_commit says. The
-- DEBUG1 line is printed at each commit that does not wait.
SELECT rillflow.create_subscription('pc', event_types => ARRAY['Job']);
SELECT rillflow.append_events('00000000-0000-0000-0000-0000000000c1',
    '[{"type":"Job","body":{}},{"type":"Job","body":{}},{"type":"Job","body":{}},{"type":"Job","body":{}},
      {"type":"Job","body":{}},{"type":"Job","body":{}},{"type":"Job","body":{}},{"type":"Job","body":{}}]');
SELECT rillflow.run_sequencer();
CREATE TABLE pc_sink (position bigint);
SET client_min_messages = debug1;

-- a poll on its own: no wait (the line)
SELECT count(*) FROM rillflow.subscription_poll('pc', 1, 'g', 'c1');

-- a poll, then the consumer's own write: waits (no line)
BEGIN;
SELECT count(*) FROM rillflow.subscription_poll('pc', 1, 'g', 'c1');
INSERT INTO pc_sink VALUES (-1);
COMMIT;

-- a write, then a poll: waits
BEGIN;
INSERT INTO pc_sink VALUES (-2);
SELECT count(*) FROM rillflow.subscription_poll('pc', 1, 'g', 'c1');
COMMIT;

-- two polls and nothing else: no wait
BEGIN;
SELECT count(*) FROM rillflow.subscription_poll('pc', 1, 'g', 'c1');
SELECT count(*) FROM rillflow.subscription_poll('pc', 1, 'g', 'c1');
COMMIT;

-- a poll and its side effect in one statement: waits
WITH p AS (SELECT * FROM rillflow.subscription_poll('pc', 1, 'g', 'c1'))
INSERT INTO pc_sink SELECT position FROM p;

-- an ack is not a poll: waits (the poll before it does not)
SELECT position AS polled FROM rillflow.subscription_poll('pc', 1, 'g', 'c1') \gset
SELECT rillflow.subscription_ack('pc', ARRAY[:polled::bigint], 'g', 'c1');

-- a poll rolled back to a savepoint still wrote: waits
BEGIN;
SELECT count(*) FROM rillflow.subscription_poll('pc', 1, 'g', 'c1');
SAVEPOINT s;
INSERT INTO pc_sink VALUES (-3);
ROLLBACK TO SAVEPOINT s;
COMMIT;

-- the single consumer: no wait
SELECT count(*) FROM rillflow.subscription_poll('pc', 1);

RESET client_min_messages;

-- the consumer's writes committed: -1, -2 and the polled position, not -3
SELECT count(*) AS sink_rows, count(*) FILTER (WHERE position = -3) AS rolled_back FROM pc_sink;
SELECT rillflow.drop_subscription('pc');
DROP TABLE pc_sink;
