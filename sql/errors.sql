-- Bad input: every error names the argument at fault and writes nothing.
\set SHOW_CONTEXT never
SELECT rillflow.ensure_tenant('regress_errors');
SET rillflow.tenant = 'regress_errors';
\set s '''eeeeeeee-0000-0000-0000-000000000001'''

-- NULL where a value is required (22004)
SELECT rillflow.append_events(NULL, '[{"type": "A", "body": {}}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:s, NULL, '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:s, 'A', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(NULL, 'A', '{}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_stream(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.stream_version(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resolve_stream_alias(NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_all(0, 10, ARRAY['A', NULL]); \echo SQLSTATE :SQLSTATE

-- events that are not an array of event objects (22023)
SELECT rillflow.append_events(:s, '{"type": "A", "body": {}}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '"A"'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, 'null'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[1]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}}, [1]]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"body": {}}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": 7, "body": {}}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": null, "body": {}}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "", "body": {}}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A\u0001", "body": {}}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, jsonb_build_array(jsonb_build_object('type', repeat('t', 256), 'body', '{}'::jsonb))); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A"}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "headers": [1]}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "headers": "h"}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "event_version": 0}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "event_version": 1.5}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "event_version": "2"}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "event_version": 3000000000}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "event_id": "not-a-uuid"}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "event_id": 12}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "event_id": "ffffffff-0000-0000-0000-00000000000g"}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "event_id": "ffffffff-0000-0000-0000-000000000001"},
                                    {"type": "B", "body": {}},
                                    {"type": "C", "body": {}, "event_id": "FFFFFFFF000000000000000000000001"}]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}, "stream_id": "x"}]'); \echo SQLSTATE :SQLSTATE
-- the last element is checked too, after good ones
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}}, {"type": "B", "body": {}}, {"type": "C"}]'); \echo SQLSTATE :SQLSTATE
-- malformed JSON text never reaches the function
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events('not-a-uuid', '[{"type": "A", "body": {}}]'); \echo SQLSTATE :SQLSTATE

-- other arguments
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}}]', expected_version => -2); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}}]', idempotency_key => ''); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}}]', idempotency_key => repeat('k', 513)); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}}]', headers => '[1, 2]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_events(:s, '[{"type": "A", "body": {}}]', headers => '"h"'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:s, '', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:s, 'A', '{}', event_version => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.append_event(:s, 'A', '{}', expected_version => -5); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_stream(:s, 0); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_stream(:s, 1, 0); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_all(-1); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_all(0, 0); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_all(0, 100001); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.read_all(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resolve_stream_alias(''); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resolve_stream_alias(repeat('a', 513)); \echo SQLSTATE :SQLSTATE
SELECT rillflow.resolve_stream_alias(E'line\nbreak'); \echo SQLSTATE :SQLSTATE

-- none of the above wrote anything
SELECT rillflow.stream_version(:s) IS NULL AS nothing_appended;
SELECT count(*) AS events FROM rillflow.read_all();
SELECT count(*) AS aliases FROM rillflow_tenant_regress_errors.stream_aliases;
SELECT count(*) AS keys FROM rillflow_tenant_regress_errors.idempotency_keys;

-- input that looks like SQL is only ever data
SELECT rillflow.append_event(:s, $$x'); DROP TABLE rillflow.tenants; --$$, '{"a": "''; DROP SCHEMA rillflow; --"}',
                             idempotency_key => $$k'; DELETE FROM x; --$$, headers => '{"''\"": "x"}');
SELECT type, body, headers FROM rillflow.read_stream(:s);
SELECT count(*) > 0 AS tenants_table_still_there FROM rillflow.tenants;
RESET rillflow.tenant;
