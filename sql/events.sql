-- Events: append, read, versions, envelopes, idempotency, aliases.
-- A tenant of its own, so positions start at 1 whatever ran before.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_events');
SET rillflow.tenant = 'regress_events';
\set s1 '''aaaaaaaa-0000-0000-0000-000000000001'''
\set s2 '''aaaaaaaa-0000-0000-0000-000000000002'''

-- expected_version 0: a new stream
SELECT rillflow.append_events(:s1, '[{"type": "Opened", "body": {"owner": "ann"}},
                                     {"type": "Deposited", "body": {"amount": 10}}]', 0);
SELECT rillflow.stream_version(:s1);
-- exact version
SELECT rillflow.append_event(:s1, 'Deposited', '{"amount": 5}', expected_version => 2);
-- -1: the stream must exist
SELECT rillflow.append_event(:s1, 'Withdrawn', '{"amount": 3}', expected_version => -1);
-- NULL: any state, also for a stream that does not exist yet
SELECT rillflow.append_event(:s2, 'Opened', '{"owner": "bob"}');
SELECT rillflow.append_event(:s2, 'Deposited', '{"amount": 1}');
SELECT rillflow.stream_version('aaaaaaaa-0000-0000-0000-0000000000ff') IS NULL AS missing_stream_has_no_version;

-- read_stream: all, from a version, at most n; a missing stream reads empty
SELECT position, version, type, body, event_version FROM rillflow.read_stream(:s1);
SELECT version, type FROM rillflow.read_stream(:s1, from_version => 3);
SELECT version, type FROM rillflow.read_stream(:s1, 2, 1);
SELECT count(*) FROM rillflow.read_stream('aaaaaaaa-0000-0000-0000-0000000000ff');

-- read_all: the global log in position order, paging, type filter
SELECT position, stream_id = :s1 AS is_s1, version, type FROM rillflow.read_all();
SELECT position, type FROM rillflow.read_all(after_position => 2, max_count => 2);
SELECT position, type FROM rillflow.read_all(0, 100, ARRAY['Opened']);
SELECT position, type FROM rillflow.read_all(6);
SELECT rillflow.head_position();

-- envelopes: per-call headers merged under per-event headers (the event wins),
-- causation and correlation on every event, event ids and schema versions
SELECT rillflow.append_events(:s2,
    '[{"type": "Tagged", "body": {}, "headers": {"source": "event", "trace": "t1"}, "event_version": 3,
       "event_id": "bbbbbbbb-0000-0000-0000-000000000001"},
      {"type": "Tagged", "body": null}]',
    expected_version => 2,
    headers => '{"source": "call", "user": "ann"}',
    causation_id => 'cccccccc-0000-0000-0000-000000000001',
    correlation_id => 'dddddddd-0000-0000-0000-000000000001');
SELECT version, headers, event_version, event_id = 'bbbbbbbb-0000-0000-0000-000000000001' AS given_id,
       event_id IS NOT NULL AS has_id, causation_id, correlation_id, body
  FROM rillflow.read_stream(:s2, 3);
SELECT rillflow.append_event(:s2, 'Noted', '"text body"', headers => '{"k": [1, 2]}', event_version => 2,
                             event_id => 'bbbbbbbb-0000-0000-0000-000000000002',
                             causation_id => 'cccccccc-0000-0000-0000-000000000002');
SELECT version, type, body, headers, event_version, event_id, causation_id, correlation_id IS NULL AS no_correlation
  FROM rillflow.read_stream(:s2, 5);
SELECT count(DISTINCT event_id) = count(*) AS event_ids_unique FROM rillflow.read_all();
SELECT bool_and(created_at <= now()) AS created_in_the_past FROM rillflow.read_all();

-- idempotency: a repeated key appends nothing and names the original append
SELECT rillflow.append_events(:s1, '[{"type": "Paid", "body": {"n": 1}}, {"type": "Paid", "body": {"n": 2}}]',
                              idempotency_key => 'payment-1');
SELECT rillflow.append_events(:s1, '[{"type": "Paid", "body": {"n": 1}}]', idempotency_key => 'payment-1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:s2, 'Paid', '{}', idempotency_key => 'payment-1'); \echo SQLSTATE :SQLSTATE
-- a reused event id is refused the same way
SELECT rillflow.append_event(:s1, 'Paid', '{}', event_id => 'bbbbbbbb-0000-0000-0000-000000000001'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s1, '[{"type": "Paid", "body": {}, "event_id": "bbbbbbbb-0000-0000-0000-000000000002"}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.stream_version(:s1) AS s1_version_unchanged, rillflow.stream_version(:s2) AS s2_version_unchanged;

-- version conflicts (RF001) change nothing
SELECT rillflow.append_event(:s1, 'Late', '{}', expected_version => 2); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:s1, 'Late', '{}', expected_version => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event('aaaaaaaa-0000-0000-0000-0000000000fe', 'Late', '{}', expected_version => -1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event('aaaaaaaa-0000-0000-0000-0000000000fe', 'Late', '{}', expected_version => 7); \echo SQLSTATE :SQLSTATE
SELECT rillflow.stream_version(:s1), rillflow.stream_version('aaaaaaaa-0000-0000-0000-0000000000fe');

-- a failed call inside a transaction leaves the stream as it was
BEGIN;
SELECT rillflow.append_event(:s1, 'InTx', '{}');
SAVEPOINT before_bad;
SELECT rillflow.append_events(:s1, '[{"type": "Good", "body": {}}, {"type": "Bad"}]');
ROLLBACK TO SAVEPOINT before_bad;
SELECT rillflow.stream_version(:s1);
ROLLBACK;
SELECT rillflow.stream_version(:s1), count(*) AS events FROM rillflow.read_stream(:s1);

-- aliases: created on first use, stable afterwards, any text is data
SELECT rillflow.resolve_stream_alias('order-42') = rillflow.resolve_stream_alias('order-42') AS stable;
SELECT rillflow.resolve_stream_alias('order-42') <> rillflow.resolve_stream_alias('order-43') AS distinct_aliases;
SELECT rillflow.resolve_stream_alias($$it's "quoted"; DROP TABLE x; --$$) IS NOT NULL AS odd_alias_is_data;
SELECT rillflow.append_event(rillflow.resolve_stream_alias('order-42'), 'Placed', '{}', expected_version => 0);
SELECT type FROM rillflow.read_stream(rillflow.resolve_stream_alias('order-42'));

-- the positions of the log are 1..N with no hole
SELECT count(*) AS events, min(position), max(position), max(position) = count(*) AS dense
  FROM rillflow.read_all(0, 100000);

-- a large body round-trips whole
SELECT rillflow.append_event(:s2, 'Big', jsonb_build_object('blob', repeat('x', 5 * 1024 * 1024)));
SELECT length(body ->> 'blob') FROM rillflow.read_stream(:s2, 6);
-- many events in one call
SELECT rillflow.append_events('aaaaaaaa-0000-0000-0000-000000000003',
    (SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'body', jsonb_build_object('i', i))) FROM generate_series(1, 5000) i), 0);
SELECT count(*), min(version), max(version), bool_and((body ->> 'i')::int = version) AS in_order
  FROM rillflow.read_stream('aaaaaaaa-0000-0000-0000-000000000003');

-- a retried append (the reply was lost) hears that it is already there, not
-- that the stream moved on, even with an expected version
SELECT rillflow.append_event(:s1, 'Refunded', '{}', expected_version => 6, idempotency_key => 'refund-1');
SELECT rillflow.append_event(:s1, 'Refunded', '{}', expected_version => 6, idempotency_key => 'refund-1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s1, '[{"type": "Noted", "body": {}, "event_id": "bbbbbbbb-0000-0000-0000-000000000009"}]', 7);
SELECT rillflow.append_events(:s1, '[{"type": "Noted", "body": {}, "event_id": "bbbbbbbb-0000-0000-0000-000000000009"}]', 7); \echo SQLSTATE :SQLSTATE
SELECT rillflow.stream_version(:s1);

-- every event keeps its own id, type, body, headers and version, in any id order
SELECT rillflow.append_events('aaaaaaaa-0000-0000-0000-000000000004',
    '[{"type": "E1", "body": 1, "event_id": "ffffffff-0000-0000-0000-000000000003", "headers": {"h": 1}},
      {"type": "E2", "body": 2},
      {"type": "E3", "body": 3, "event_id": "ffffffff-0000-0000-0000-000000000001", "event_version": 2},
      {"type": "E4", "body": 4, "event_id": "ffffffff-0000-0000-0000-000000000002"}]', 0);
SELECT version, type, body, headers, event_version, event_id::text LIKE 'ffffffff%' AS given,
       CASE WHEN event_id::text LIKE 'ffffffff%' THEN right(event_id::text, 1) END AS id_tail
  FROM rillflow.read_stream('aaaaaaaa-0000-0000-0000-000000000004');

-- the ids the store gives are time-ordered (UUID version 7, RFC 9562): the
-- version nibble is 7, the variant 10, the first 48 bits the time of the
-- append in Unix milliseconds, and they rise with the versions; an id the
-- caller names (V2's) is kept as it is
SELECT rillflow.append_events('aaaaaaaa-0000-0000-0000-000000000005',
    '[{"type": "V1", "body": 1}, {"type": "V2", "body": 2, "event_id": "ffffffff-0000-0000-0000-000000000005"},
      {"type": "V3", "body": 3}, {"type": "V4", "body": 4}]', 0);
SELECT rillflow.append_event('aaaaaaaa-0000-0000-0000-000000000005', 'V5', '5', 4);
WITH given AS (
    SELECT version, event_id, created_at FROM rillflow.read_stream('aaaaaaaa-0000-0000-0000-000000000005')
     WHERE event_id::text NOT LIKE 'ffffffff%')
SELECT count(*) AS given_ids,
       bool_and(substr(event_id::text, 15, 1) = '7') AS version_7,
       bool_and(substr(event_id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS variant_10,
       bool_and(abs(('x' || lpad(replace(left(event_id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint
                    - (extract(epoch FROM created_at) * 1000)::bigint) < 60000) AS time_of_append,
       array_agg(event_id ORDER BY version) = array_agg(event_id ORDER BY event_id) AS rise_with_versions
  FROM given;
SELECT count(DISTINCT event_id) AS distinct_ids FROM rillflow.read_stream('aaaaaaaa-0000-0000-0000-000000000005');

RESET rillflow.tenant;
