-- Subscriptions: stream categories, create/drop/list/status, polls without
-- and with groups, leases, acks in the caller's transaction, nacks, dead
-- letters, ordered groups, max_in_flight, group admin, the lag view, and
-- every error. A tenant of its own, so positions start at 1.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_subs');
SET rillflow.tenant = 'regress_subs';
\set a '''aaaaaaaa-0000-0000-0000-000000000001'''
\set b '''aaaaaaaa-0000-0000-0000-000000000002'''
\set c '''aaaaaaaa-0000-0000-0000-000000000003'''

----------------------------------------------------------------------------
-- Stream categories: the alias prefix, or given on the first append.
SELECT rillflow.resolve_stream_alias('orders:42') AS orders42 \gset
SELECT rillflow.append_event(:'orders42', 'Ping', '{"n": 1}');
SELECT rillflow.append_events(:a, '[{"type": "Ping", "body": {"n": 2}}, {"type": "Pong", "body": {}}]',
                              category => 'billing');
SELECT rillflow.append_event(:b, 'Ping', '{"n": 3}', category => 'billing');
SELECT rillflow.append_event(:c, 'Ping', '{"n": 4}', headers => '{"tenant": "x"}');
-- repeating the category is fine; changing it or adding one later is not
SELECT rillflow.append_event(:a, 'Ping', '{"n": 5}', category => 'billing');
SELECT rillflow.append_event(:a, 'Ping', '{}', category => 'orders'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:c, 'Ping', '{}', category => 'late'); \echo SQLSTATE :SQLSTATE
\set VERBOSITY sqlstate
SELECT rillflow.append_event(:'orders42', 'Ping', '{}', category => 'other'); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT rillflow.append_events(gen_random_uuid(), '[{"type": "Ping", "body": {}}]', category => 'a:b'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(gen_random_uuid(), '[{"type": "Ping", "body": {}}]', category => ''); \echo SQLSTATE :SQLSTATE
-- a failed append wrote nothing: the log has 6 events
SELECT rillflow.head_position();
-- read_all by category, and by type and category
SELECT position, version, type FROM rillflow.read_all(categories => ARRAY['billing']);
SELECT position, type FROM rillflow.read_all(0, 10, ARRAY['Ping'], ARRAY['billing', 'orders']);
SELECT count(*) FROM rillflow.read_all(categories => ARRAY['nothing']);
SELECT rillflow.read_all(categories => ARRAY[NULL]::text[]); \echo SQLSTATE :SQLSTATE

----------------------------------------------------------------------------
-- create, list, status, drop
SELECT rillflow.create_subscription('pings', event_types => ARRAY['Ping']);
SELECT rillflow.create_subscription('billing', categories => ARRAY['billing'], start_from => 2);
SELECT rillflow.create_subscription('tagged', headers => '{"tenant": "x"}');
SELECT rillflow.create_subscription('two', stream_ids => ARRAY[:a, :b]::uuid[], event_types => ARRAY['Ping']);
SELECT name, event_types, categories, stream_ids IS NOT NULL AS by_stream, headers, start_from, groups
  FROM rillflow.list_subscriptions();
-- errors: exists, bad names and filters, NULLs
SELECT rillflow.create_subscription('pings'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('1bad'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('x', event_types => ARRAY[]::text[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('x', categories => ARRAY[]::text[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('x', categories => ARRAY['a:b']); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('x', categories => ARRAY[NULL]::text[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('x', stream_ids => ARRAY[NULL]::uuid[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('x', stream_ids => ARRAY[]::uuid[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('x', headers => '[1]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_subscription('x', start_from => -1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_subscription('missing'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.subscription_status('missing'); \echo SQLSTATE :SQLSTATE
SELECT count(*) FROM rillflow.list_subscriptions() WHERE name = 'x';

----------------------------------------------------------------------------
-- Without a group: the filters, the lease, acks.
SELECT position, type, body FROM rillflow.subscription_poll('pings', 2, consumer => 'c1');
SELECT position FROM rillflow.subscription_poll('pings', 10, consumer => 'c1');
-- another consumer id while c1's lease is live: RF006; no consumer id: nothing
\set VERBOSITY terse
SELECT position FROM rillflow.subscription_poll('pings', 10, consumer => 'c2'); \echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT count(*) FROM rillflow.subscription_poll('pings', 10);
SELECT checkpoint, head, lag, in_flight, lease_owner FROM rillflow.subscription_status('pings');
SELECT rillflow.subscription_ack('pings', ARRAY[1, 2], consumer => 'c1');
SELECT checkpoint, lag, in_flight FROM rillflow.subscription_status('pings');
-- an event acked already, or held by no one, is a lost lease
SELECT rillflow.subscription_ack('pings', ARRAY[1], consumer => 'c1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_ack('pings', ARRAY[4], consumer => 'c2'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_ack('pings', ARRAY[99], consumer => 'c1'); \echo SQLSTATE :SQLSTATE
-- RF006 acks nothing: 4 is still c1's
SELECT rillflow.subscription_ack('pings', ARRAY[4, 99], consumer => 'c1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_ack('pings', ARRAY[4, 5, 6], consumer => 'c1');
SELECT checkpoint, lag, in_flight FROM rillflow.subscription_status('pings');
-- the filters: start_from, category, headers, stream ids
SELECT position, stream_id = :a AS is_a FROM rillflow.subscription_poll('billing', 10, consumer => 'c1');
SELECT position FROM rillflow.subscription_poll('tagged', 10, consumer => 'c1');
SELECT position FROM rillflow.subscription_poll('two', 10, consumer => 'c1');

-- A lease that runs out: the event is delivered again, and the old holder's
-- ack fails and rolls back what its transaction did.
SELECT rillflow.create_subscription('lease', event_types => ARRAY['Ping']);
SELECT position FROM rillflow.subscription_poll('lease', 1, consumer => 'c1', lease => '100 ms');
SELECT pg_sleep(0.3);
SELECT position FROM rillflow.subscription_poll('lease', 1, consumer => 'c2');
CREATE TABLE regress_subs_applied (position bigint PRIMARY KEY);
BEGIN;
INSERT INTO regress_subs_applied VALUES (1);
SELECT rillflow.subscription_ack('lease', ARRAY[1], consumer => 'c1'); \echo SQLSTATE :SQLSTATE
ROLLBACK;
SELECT count(*) AS applied FROM regress_subs_applied;
-- c2 acks in its own transaction, with its side effect
BEGIN;
INSERT INTO regress_subs_applied VALUES (1);
SELECT rillflow.subscription_ack('lease', ARRAY[1], consumer => 'c2');
COMMIT;
SELECT count(*) AS applied FROM regress_subs_applied;
-- an ack rolled back: the event is delivered again (once its lease runs out)
SELECT position FROM rillflow.subscription_poll('lease', 1, consumer => 'c2', lease => '100 ms');
BEGIN;
SELECT rillflow.subscription_ack('lease', ARRAY[2], consumer => 'c2');
ROLLBACK;
SELECT pg_sleep(0.3);
SELECT position FROM rillflow.subscription_poll('lease', 1, consumer => 'c2');

----------------------------------------------------------------------------
-- Groups: competing consumers, deliveries, dead letters, nack.
SELECT rillflow.create_subscription('work', event_types => ARRAY['Ping']);
SELECT array_agg(position ORDER BY position) AS c1 FROM rillflow.subscription_poll('work', 2, 'g', 'c1');
SELECT array_agg(position ORDER BY position) AS c2 FROM rillflow.subscription_poll('work', 2, 'g', 'c2');
SELECT array_agg(position ORDER BY position) AS c3 FROM rillflow.subscription_poll('work', 2, 'g', 'c3');
-- another group has its own checkpoint and gets everything
SELECT array_agg(position ORDER BY position) AS other FROM rillflow.subscription_poll('work', 10, 'other', 'c1');
SELECT group_name, checkpoint, lag, in_flight, pending, consumers FROM rillflow.subscription_groups('work');
-- acks out of order: the checkpoint is the highest position with all below acked
SELECT rillflow.subscription_ack('work', ARRAY[4], 'g', 'c2');
SELECT last_seq, in_flight FROM rillflow.subscription_group_status('work', 'g');
SELECT rillflow.subscription_ack('work', ARRAY[1], 'g', 'c1');
SELECT last_seq, in_flight FROM rillflow.subscription_group_status('work', 'g');
-- a consumer acks only what it holds
SELECT rillflow.subscription_ack('work', ARRAY[2], 'g', 'c2'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_ack('work', ARRAY[2], 'other', 'c2'); \echo SQLSTATE :SQLSTATE
-- nack: delivered again after retry_after, deliveries counted
SELECT rillflow.subscription_nack('work', 2, 'g', 'c1');
SELECT rillflow.subscription_nack('work', 2, 'g', 'c1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_nack('work', 5, 'g', 'c2', retry_after => '1 hour');
SELECT array_agg(position ORDER BY position) AS c4 FROM rillflow.subscription_poll('work', 5, 'g', 'c4');
SELECT last_seq, in_flight, pending,
       (SELECT jsonb_agg(x->>'consumer' || ':' || (x->>'in_flight')) FROM jsonb_array_elements(consumers) x)
  FROM rillflow.subscription_group_status('work', 'g');

-- max_deliveries: after the last delivery's lease runs out, dead-lettered
SELECT rillflow.create_subscription('dlq', event_types => ARRAY['Pong']);
SELECT rillflow.subscription_group_configure('dlq', 'g', max_deliveries => 2);
SELECT position FROM rillflow.subscription_poll('dlq', 10, 'g', 'c1', lease => '100 ms');
SELECT pg_sleep(0.2);
SELECT position FROM rillflow.subscription_poll('dlq', 10, 'g', 'c1', lease => '100 ms');
SELECT pg_sleep(0.2);
SELECT count(*) FROM rillflow.subscription_poll('dlq', 10, 'g', 'c1');
SELECT position, type, deliveries, last_consumer FROM rillflow.subscription_dlq_list('dlq', 'g');
SELECT last_seq, lag, dead_lettered, dlq_size FROM rillflow.subscription_group_status('dlq', 'g');
-- requeue: delivered again, the checkpoint back below it
SELECT rillflow.subscription_dlq_requeue('dlq', 'g');
SELECT last_seq, pending, dlq_size FROM rillflow.subscription_group_status('dlq', 'g');
SELECT position FROM rillflow.subscription_poll('dlq', 10, 'g', 'c1', lease => '100 ms');
SELECT pg_sleep(0.2);
SELECT position FROM rillflow.subscription_poll('dlq', 10, 'g', 'c1', lease => '100 ms');
SELECT pg_sleep(0.2);
SELECT count(*) FROM rillflow.subscription_poll('dlq', 10, 'g', 'c1');
SELECT rillflow.subscription_dlq_delete('dlq', 'g', ARRAY[3]);
SELECT count(*) FROM rillflow.subscription_dlq_list('dlq', 'g');
SELECT rillflow.subscription_dlq_requeue('dlq', 'g', ARRAY[3]);

----------------------------------------------------------------------------
-- Ordered groups: a stream's next event waits until its earlier one is acked.
SELECT rillflow.append_events(:b, '[{"type": "Ping", "body": {"n": 6}}, {"type": "Ping", "body": {"n": 7}}]');
SELECT rillflow.create_subscription('ordered', event_types => ARRAY['Ping']);
SELECT rillflow.subscription_group_configure('ordered', 'g', ordered => true);
-- streams: orders42 (1), a (2, 6), b (4, 7, 8), c (5)
SELECT array_agg(position ORDER BY position) AS c1 FROM rillflow.subscription_poll('ordered', 10, 'g', 'c1');
SELECT count(*) AS c2 FROM rillflow.subscription_poll('ordered', 10, 'g', 'c2');
SELECT rillflow.subscription_ack('ordered', ARRAY[2, 4], 'g', 'c1');
SELECT array_agg(position ORDER BY position) AS c2 FROM rillflow.subscription_poll('ordered', 10, 'g', 'c2');
SELECT rillflow.subscription_ack('ordered', ARRAY[7], 'g', 'c2');
SELECT array_agg(position ORDER BY position) AS c1 FROM rillflow.subscription_poll('ordered', 10, 'g', 'c1');

-- max_in_flight: at most this many out at once; NULL unsets it
SELECT rillflow.create_subscription('bounded', event_types => ARRAY['Ping']);
SELECT rillflow.set_group_max_in_flight('bounded', 'g', 2);
SELECT count(*) FROM rillflow.subscription_poll('bounded', 10, 'g', 'c1');
SELECT count(*) FROM rillflow.subscription_poll('bounded', 10, 'g', 'c2');
SELECT in_flight, max_in_flight FROM rillflow.subscription_group_status('bounded', 'g');
SELECT rillflow.subscription_ack('bounded', ARRAY[1], 'g', 'c1');
SELECT array_agg(position) FROM rillflow.subscription_poll('bounded', 10, 'g', 'c2');
SELECT rillflow.set_group_max_in_flight('bounded', 'g', NULL);
SELECT count(*) FROM rillflow.subscription_poll('bounded', 10, 'g', 'c2');
SELECT group_name, ordered, max_deliveries, max_in_flight FROM rillflow.subscription_groups('bounded');

-- Batches: a poll of an unordered group takes its events as one row in
-- flight and leaves batches pending for the group's other consumers (taken
-- first, without the group's row); an ack of part of a batch keeps the rest
-- leased; a nack gives one event of it back; a group made ordered splits
-- every batch into one row per event, and from then on a stream's next event
-- waits for its earlier one.
SELECT rillflow.create_subscription('batched', event_types => ARRAY['Ping']);
SELECT array_agg(position ORDER BY position) AS c1 FROM rillflow.subscription_poll('batched', 2, 'g', 'c1');
SELECT position, consumer, deliveries, batch FROM rillflow_tenant_regress_subs.subscription_outstanding
 WHERE subscription = 'batched' ORDER BY position;
SELECT array_agg(position ORDER BY position) AS c2 FROM rillflow.subscription_poll('batched', 2, 'g', 'c2');
SELECT rillflow.subscription_ack('batched', ARRAY[2], 'g', 'c1') AS acked;
SELECT rillflow.subscription_nack('batched', 5, 'g', 'c2');
SELECT position, consumer, deliveries, batch FROM rillflow_tenant_regress_subs.subscription_outstanding
 WHERE subscription = 'batched' ORDER BY position;
SELECT last_seq, in_flight, pending FROM rillflow.subscription_group_status('batched', 'g');
SELECT rillflow.subscription_group_configure('batched', 'g', ordered => true);
SELECT array_agg(position ORDER BY position) AS c3 FROM rillflow.subscription_poll('batched', 10, 'g', 'c3');
SELECT position, consumer, deliveries, batch FROM rillflow_tenant_regress_subs.subscription_outstanding
 WHERE subscription = 'batched' ORDER BY position;
-- c1 still holds 1 (the rest of its split batch); 2 was acked already; 7
-- waits for 4, which c2 holds
SELECT rillflow.subscription_ack('batched', ARRAY[1], 'g', 'c1') AS acked;
SELECT count(*) AS c3 FROM rillflow.subscription_poll('batched', 10, 'g', 'c3');
SELECT rillflow.subscription_ack('batched', ARRAY[2], 'g', 'c1'); \echo SQLSTATE :SQLSTATE

----------------------------------------------------------------------------
-- The lag view, for every subscription and group of the store.
SELECT subscription, group_name, checkpoint, head, lag FROM rillflow.subscription_lag
 WHERE subscription IN ('pings', 'work', 'ordered') ORDER BY 1, 2 NULLS FIRST;

----------------------------------------------------------------------------
-- Errors of poll, ack, nack and the group functions.
SELECT rillflow.subscription_poll('missing'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_poll('pings', 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_poll('pings', 10001); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_poll('pings', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_poll('pings', 1, 'bad group'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_poll('pings', 1, 'g', 'bad consumer'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_poll('pings', 1, 'g', 'c1', lease => '10 ms'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_poll('pings', 1, 'g', 'c1', lease => NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_ack('missing', ARRAY[1]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_ack('pings', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_ack('pings', ARRAY[]::bigint[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_ack('pings', ARRAY[1, NULL]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_nack('pings', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_nack('pings', 1, retry_after => NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_nack('pings', 1, retry_after => '-1 s'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_nack('pings', 99, 'g', 'c1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_group_configure('missing', 'g'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_group_configure('pings', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_group_configure('pings', 'g', max_deliveries => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_group_max_in_flight('pings', 'g', 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.set_group_max_in_flight('missing', 'g', 1); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.subscription_groups('missing'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.subscription_group_status('pings', 'nogroup'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.subscription_group_status('missing', 'g'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.subscription_dlq_list('missing'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_dlq_requeue('pings', 'g', ARRAY[]::bigint[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.subscription_dlq_delete('missing'); \echo SQLSTATE :SQLSTATE

-- drop: the groups, outstanding events and dead letters go with it
SELECT rillflow.drop_subscription('work');
SELECT count(*) FROM rillflow_tenant_regress_subs.subscription_outstanding WHERE subscription = 'work';
SELECT count(*) FROM rillflow_tenant_regress_subs.subscription_groups WHERE subscription = 'work';
SELECT rillflow.drop_subscription('work'); \echo SQLSTATE :SQLSTATE

-- Rights: a read-only role may look but not poll; a writer polls and acks;
-- only an admin creates and drops.
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_subs_reader;
DROP ROLE IF EXISTS regress_subs_writer;
RESET client_min_messages;
CREATE ROLE regress_subs_reader;
CREATE ROLE regress_subs_writer;
SELECT rillflow.grant_tenant('regress_subs', 'regress_subs_reader', 'read');
SELECT rillflow.grant_tenant('regress_subs', 'regress_subs_writer', 'write');
SET ROLE regress_subs_reader;
SELECT count(*) FROM rillflow.list_subscriptions();
SELECT count(*) FROM rillflow.subscription_poll('pings', 1, 'r', 'r1'); \echo SQLSTATE :SQLSTATE
RESET ROLE;
SET ROLE regress_subs_writer;
SELECT rillflow.create_subscription('mine'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_subscription('pings'); \echo SQLSTATE :SQLSTATE
SELECT array_agg(position ORDER BY position) FROM rillflow.subscription_poll('pings', 3, 'w', 'w1');
SELECT rillflow.subscription_ack('pings', ARRAY[1, 2, 4], 'w', 'w1');
SELECT rillflow.append_events(gen_random_uuid(), '[{"type": "Ping", "body": {}}]', category => 'w');
RESET ROLE;
SELECT rillflow.drop_subscription('pings');
RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_subs');
RESET client_min_messages;
DROP TABLE regress_subs_applied;
DROP OWNED BY regress_subs_reader, regress_subs_writer;
DROP ROLE regress_subs_reader, regress_subs_writer;
