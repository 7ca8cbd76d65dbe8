-- doc_query: every malformed spec is 22023 naming the bad part; injection
-- attempts in paths and names are rejected before anything runs.
\set SHOW_CONTEXT never
SELECT rillflow.create_collection('qerr');
SELECT rillflow.doc_put('qerr', '00000000-0000-0000-0000-000000000001', '{"a": 1}');

-- NULL arguments (22004), unknown or invalid collection
SELECT * FROM rillflow.doc_query(NULL, '{}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('nosuch', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_count('nosuch'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr"; DROP TABLE x; --', '{}'); \echo SQLSTATE :SQLSTATE

-- the spec's shape
SELECT * FROM rillflow.doc_query('qerr', '[]'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '"x"'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filters": {}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"include_deleted": "yes"}'); \echo SQLSTATE :SQLSTATE
-- filter predicates
-- {} is every document at the top level (platform.sql), but names no operator inside and/or/not
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"and": [{}]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": []}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a", 1], "ne": ["a", 2]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"equals": ["a", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"and": [{"eq": ["a", 1]}, {"gte": ["a"]}]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a", 1, 2]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": "a"}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": [1, 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a", [1]]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a", {"x": 1}]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"gt": ["a", null]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"like": ["a", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"like": ["$id", "a%"]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"in": ["a", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"in": ["a", [1, "x"]]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"nin": ["a", [1, null]]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"in": ["a", [[1]]]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"exists": ["a"]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"exists": "$id"}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"contains": ["$id", "x"]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"and": []}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"or": {"eq": ["a", 1]}}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"not": [{"eq": ["a", 1]}]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"or": [{"eq": ["a", 1]}, {"not": {"and": [{"eq": ["a", 1]}, {"lt": ["b", true, 3]}]}}]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', jsonb_build_object('filter', (SELECT jsonb_build_object('and', jsonb_agg('{"eq": ["a", 1]}'::jsonb)) FROM generate_series(1, 1001)))); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', (SELECT jsonb_build_object('filter', '{"eq": ["a", 1]}'::jsonb) FROM generate_series(1, 1))); 
-- values
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"gt": ["a", {"$timestamp": 5}]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"gt": ["a", {"$timestamp": "yesterday-ish"}]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"gt": ["a", {"$timestamp": "2026-01-01", "x": 1}]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["$id", "not-a-uuid"]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["$version", "1"]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"gt": ["$created_at", "2026-01-01"]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["$nope", 1]}}'); \echo SQLSTATE :SQLSTATE

-- paths: malformed, and injection attempts
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a..b", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a.", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["1a", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["0.a", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a b", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a''); DROP TABLE x; --", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a\"b", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a->>b", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["données", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', jsonb_build_object('filter', jsonb_build_object('eq', jsonb_build_array(repeat('a', 64), 1)))); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', jsonb_build_object('filter', jsonb_build_object('eq', jsonb_build_array(rtrim(repeat('a.', 33), '.'), 1)))); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["tags.1234567890", 1]}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"order_by": "a;DROP"}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"select": {"x": "a)--"}}'); \echo SQLSTATE :SQLSTATE
-- a hostile value is only ever a value
SELECT count(*) FROM rillflow.doc_query('qerr', '{"filter": {"eq": ["a", "1''; DROP TABLE rillflow_default.doc_qerr; --"]}}');
SELECT count(*) FROM rillflow.doc_query('qerr', '{"select": {"x''); DROP TABLE rillflow_default.doc_qerr; --": "a"}}');
SELECT count(*) AS still_there FROM rillflow_default.doc_qerr;

-- order_by
SELECT * FROM rillflow.doc_query('qerr', '{"order_by": 5}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"order_by": [{"direction": "asc"}]}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"order_by": [{"path": "a", "direction": "up"}]}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"order_by": [{"path": "a", "nulls": "middle"}]}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"order_by": [{"path": "a", "type": "money"}]}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"order_by": [{"path": "a", "collate": "C"}]}'); \echo SQLSTATE :SQLSTATE
-- paging
SELECT * FROM rillflow.doc_query('qerr', '{"limit": -1}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"limit": 1.5}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"limit": "10"}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"offset": -3}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"limit": 1e30}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"limit": 10, "page": 1, "page_size": 10}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"offset": 10, "page_size": 10}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"page": 2}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"page": 0, "page_size": 10}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"page": 1, "page_size": 0}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"page": 9223372036854775807, "page_size": 10}'); \echo SQLSTATE :SQLSTATE
-- select
SELECT * FROM rillflow.doc_query('qerr', '{"select": ["a"]}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"select": {}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"select": {"x": 1}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', '{"select": {"x": "$secret"}}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_query('qerr', (SELECT jsonb_build_object('select', jsonb_object_agg('f' || i, 'a')) FROM generate_series(1, 51) i)); \echo SQLSTATE :SQLSTATE
-- doc_count's filter
SELECT rillflow.doc_count('qerr', '{"eq": ["a"]}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_count('qerr', '3'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_count('qerr', '{"filter": {"eq": ["a", 1]}}'); \echo SQLSTATE :SQLSTATE

-- a hostile search_path changes nothing
CREATE SCHEMA qerr_evil;
CREATE FUNCTION qerr_evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'string' $$;
SET search_path = qerr_evil, public, pg_catalog;
SELECT count(*) FROM rillflow.doc_query('qerr', '{"filter": {"gt": ["a", 0]}}');
SET search_path = '';
SELECT count(*) FROM rillflow.doc_query('qerr', '{"filter": {"gt": ["a", 0]}}');
RESET search_path;
DROP SCHEMA qerr_evil CASCADE;

SELECT rillflow.drop_collection('qerr');
