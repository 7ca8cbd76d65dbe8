-- Subscription polls deliver events as read: upcast by the store's chains
-- (docs/event-evolution.md), with groups and without, as every read path.
SET client_min_messages = warning;
SELECT rillflow.ensure_tenant('regress_subup');
RESET client_min_messages;
SET rillflow.tenant = 'regress_subup';
CREATE SCHEMA regress_subup;
CREATE FUNCTION regress_subup.ping_v1_v2(body jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$ SELECT body || '{"upcast": true}' $$;
SELECT rillflow.register_upcaster('Ping', 1, 2, 'regress_subup.ping_v1_v2(jsonb)') AS registered;

SELECT rillflow.append_event('5b000000-0000-0000-0000-000000000001', 'Ping', '{"n": 1}', event_version => 1);
SELECT rillflow.append_event('5b000000-0000-0000-0000-000000000001', 'Ping', '{"n": 2}', event_version => 2);
SELECT rillflow.create_subscription('pings', event_types => ARRAY['Ping']);

-- one consumer: the v1 event comes at version 2 with the upcaster's field
SELECT position, type, event_version, body FROM rillflow.subscription_poll('pings', 10, consumer => 'c1');
-- a group: the same
SELECT position, type, event_version, body
  FROM rillflow.subscription_poll('pings', 10, group_name => 'g', consumer => 'w1');
-- what is stored is unchanged
SELECT position, type, event_version, body FROM rillflow.read_all(raw => true);

-- a failing upcaster is an error naming the event, never a skip
CREATE FUNCTION regress_subup.broken(body jsonb) RETURNS jsonb LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'cannot upcast' USING ERRCODE = '22P05'; END $$;
SELECT rillflow.register_upcaster('Bad', 1, 2, 'regress_subup.broken(jsonb)') AS registered;
SELECT rillflow.append_event('5b000000-0000-0000-0000-000000000002', 'Bad', '{}', event_version => 1);
SELECT rillflow.create_subscription('bad', event_types => ARRAY['Bad']);
\set VERBOSITY terse
SELECT position FROM rillflow.subscription_poll('bad', 10, consumer => 'c1');
\set VERBOSITY default

-- The event_types filter is on the type as read: an upcaster that renames
-- OrderCreated v1 to OrderPlaced v2 makes a subscription on OrderPlaced get
-- the events stored as OrderCreated v1 (upcast), and one on OrderCreated
-- not get them; an OrderCreated stored at version 2, which no step leaves,
-- is still an OrderCreated.
CREATE FUNCTION regress_subup.created_to_placed(body jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$ SELECT body || '{"renamed": true}' $$;
SELECT rillflow.register_upcaster('OrderCreated', 1, 2, 'regress_subup.created_to_placed(jsonb)',
                                  to_type => 'OrderPlaced') AS registered;
SELECT rillflow.append_event('5b000000-0000-0000-0000-000000000003', 'OrderCreated', '{"n": 1}', event_version => 1) AS v;
SELECT rillflow.append_event('5b000000-0000-0000-0000-000000000003', 'OrderPlaced', '{"n": 2}', event_version => 2) AS v;
SELECT rillflow.append_event('5b000000-0000-0000-0000-000000000003', 'OrderCreated', '{"n": 3}', event_version => 2) AS v;
SELECT rillflow.create_subscription('placed', event_types => ARRAY['OrderPlaced']);
SELECT rillflow.create_subscription('created', event_types => ARRAY['OrderCreated']);
-- the single consumer, and a group (batches), and an ordered group (one row per event)
SELECT version, type, event_version, body FROM rillflow.subscription_poll('placed', 10, consumer => 'c1') ORDER BY version;
SELECT version, type, event_version, body FROM rillflow.subscription_poll('placed', 10, 'g', 'w1') ORDER BY version;
SELECT rillflow.subscription_group_configure('placed', 'o', ordered => true);
SELECT array_agg(version ORDER BY version) FROM rillflow.subscription_poll('placed', 10, 'o', 'w1');
SELECT version, type, event_version, body FROM rillflow.subscription_poll('created', 10, consumer => 'c1') ORDER BY version;
-- the group's checkpoint moves past the event it does not take
SELECT rillflow.subscription_ack('placed', (SELECT array_agg(position) FROM rillflow.read_all(event_types => ARRAY['OrderPlaced'])), 'g', 'w1') AS acked;
SELECT last_seq = rillflow.head_position() AS at_head, in_flight FROM rillflow.subscription_group_status('placed', 'g');
-- as read_all does
SELECT version, type FROM rillflow.read_all(event_types => ARRAY['OrderPlaced']) ORDER BY version;

-- teardown
RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_subup');
DROP SCHEMA regress_subup CASCADE;
