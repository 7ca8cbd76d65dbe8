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

-- teardown
RESET rillflow.tenant;
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_subup');
DROP SCHEMA regress_subup CASCADE;
