-- doc_query: the emitted SQL is served by the standard indexes, duplicated
-- fields replace the path by their column, compiled queries plan once, and
-- every call acts on the tenant's store.
\set SHOW_CONTEXT never
SELECT rillflow.create_collection('qplan');
-- bulk data for the planner, inserted directly
INSERT INTO rillflow_default.doc_qplan(id, version, data)
SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 1,
       jsonb_build_object('email', 'User' || i || '@Example.com', 'age', i % 90, 'status', CASE WHEN i % 10 = 0 THEN 'banned' ELSE 'active' END,
                          'profile', jsonb_build_object('city', 'c' || (i % 50)), 'score', i)
FROM generate_series(1, 2000) i;
CREATE INDEX qplan_email ON rillflow_default.doc_qplan ((data->>'email'));
CREATE INDEX qplan_age ON rillflow_default.doc_qplan ((data->'age'));
CREATE INDEX qplan_city ON rillflow_default.doc_qplan ((data->'profile'->>'city'));
CREATE INDEX qplan_gin ON rillflow_default.doc_qplan USING gin (data jsonb_path_ops);
ANALYZE rillflow_default.doc_qplan;
SET enable_seqscan = off;

-- EXPLAIN the statement doc_query runs, with its values
CREATE FUNCTION pg_temp.plan(spec jsonb, vals text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    sql text := rillflow.doc_query_sql('qplan', spec);
    line text;
BEGIN
    EXECUTE 'PREPARE pq AS ' || sql;
    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) EXECUTE pq(%s)', vals) LOOP
        RETURN NEXT regexp_replace(line, '\s+$', '');
    END LOOP;
    DEALLOCATE pq;
END $$;
-- text equality: btree ((data->>'email'))
SELECT * FROM pg_temp.plan('{"filter": {"eq": ["email", "User7@Example.com"]}}', '''User7@Example.com''');
SELECT * FROM rillflow.doc_query('qplan', '{"filter": {"eq": ["email", "User7@Example.com"]}, "select": {"s": "score"}}');
-- nested text: btree ((data->'profile'->>'city'))
SELECT * FROM pg_temp.plan('{"filter": {"in": ["profile.city", ["c1", "c2"]]}}', '''{c1,c2}''');
-- number range and sort: btree ((data->'age'))
SELECT * FROM pg_temp.plan('{"filter": {"gte": ["age", 88]}}', '''88''::jsonb');
SELECT * FROM pg_temp.plan('{"order_by": [{"path": "age", "direction": "desc"}], "limit": 3}', '3');
-- contains: GIN (data jsonb_path_ops)
SELECT * FROM pg_temp.plan('{"filter": {"contains": ["status", "banned"]}}', '''{"status": "banned"}''');
SELECT rillflow.doc_count('qplan', '{"contains": ["status", "banned"]}');

-- duplicated fields: the column replaces the path, the value is converted
-- and transformed in C, and nothing wraps the column
SELECT rillflow.add_duplicated_field('qplan', 'email', 'email_lc', 'text', transform => 'lower({value})');
SELECT rillflow.add_duplicated_field('qplan', 'score', 'score', 'integer');
ANALYZE rillflow_default.doc_qplan;
SELECT rillflow.doc_query_sql('qplan', '{"filter": {"and": [{"eq": ["email", "USER7@example.COM"]}, {"gt": ["score", 5.5]}]}, "order_by": "score", "limit": 2}');
SELECT * FROM pg_temp.plan('{"filter": {"eq": ["email", "USER7@example.COM"]}}', '''user7@example.com''');
SELECT * FROM rillflow.doc_query('qplan', '{"filter": {"eq": ["email", "USER7@example.COM"]}, "select": {"s": "score", "e": "email"}}');
SELECT * FROM pg_temp.plan('{"filter": {"gt": ["score", 1990]}}', '1990');
SELECT * FROM pg_temp.plan('{"order_by": [{"path": "score", "direction": "desc"}], "limit": 3}', '3');
SELECT * FROM rillflow.doc_query('qplan', '{"order_by": [{"path": "score", "direction": "desc"}], "limit": 3, "select": {"s": "score"}}');
-- range on an integer column rounds to the same answer; equality with a
-- non-integer reads the document (no match) instead of the column
SELECT rillflow.doc_count('qplan', '{"gt": ["score", 1998.5]}') AS gt_1998_5, rillflow.doc_count('qplan', '{"gte": ["score", 1998.5]}') AS gte_1998_5,
       rillflow.doc_count('qplan', '{"lt": ["score", 1.5]}') AS lt_1_5, rillflow.doc_count('qplan', '{"lte": ["score", 1.5]}') AS lte_1_5,
       rillflow.doc_count('qplan', '{"eq": ["score", 7.5]}') AS eq_7_5, rillflow.doc_count('qplan', '{"in": ["score", [7, 7.5, 8]]}') AS in_,
       rillflow.doc_count('qplan', '{"eq": ["score", 1e20]}') AS out_of_range;
SELECT rillflow.doc_query_sql('qplan', '{"filter": {"eq": ["score", 7.5]}}');
-- a value of another JSON type than the column's reads the document
SELECT rillflow.doc_query_sql('qplan', '{"filter": {"eq": ["score", "7"]}}');
-- eq null is the column IS NULL
SELECT rillflow.doc_query_sql('qplan', '{"filter": {"eq": ["score", null]}}');
-- a transform the query code does not know (add_duplicated_field refuses
-- it; here a hand-edited row) is not used
INSERT INTO rillflow_default.duplicated_fields(collection, path, column_name, type, indexed, transform) VALUES ('qplan', 'status', 'status', 'text', false, 'md5({value})');
ALTER TABLE rillflow_default.doc_qplan ADD COLUMN status text;
SELECT rillflow.doc_query_sql('qplan', '{"filter": {"eq": ["status", "x"]}}');
DELETE FROM rillflow_default.duplicated_fields WHERE collection = 'qplan' AND column_name = 'status';
ALTER TABLE rillflow_default.doc_qplan DROP COLUMN status;
-- the per-backend cache of duplicated fields follows DDL: drop one, the path is read again
SELECT rillflow.doc_query_sql('qplan', '{"filter": {"gt": ["score", 3]}}');
SELECT rillflow.drop_duplicated_field('qplan', 'score');
SELECT rillflow.doc_query_sql('qplan', '{"filter": {"gt": ["score", 3]}}');
RESET enable_seqscan;

-- compiled queries
SELECT rillflow.compile_query('by_email', 'qplan', '{"filter": {"eq": ["email", "$email"]}, "select": {"id": "$id", "v": "$version", "s": "score"}}');
SELECT rillflow.compile_query('older', 'qplan', '{"filter": {"and": [{"gte": ["age", "$min"]}, {"eq": ["status", "$status"]}]}, "order_by": ["score"], "limit": "$n"}');
SELECT name, collection, params FROM rillflow.list_queries();
SELECT * FROM rillflow.run_query('by_email', '{"email": "user7@EXAMPLE.com"}');
SELECT * FROM rillflow.run_query('by_email', '{"email": "User8@Example.com"}');
SELECT * FROM rillflow.run_query('older', '{"min": 88, "status": "banned", "n": 2}');
SELECT * FROM rillflow.run_query('older', '{"min": 80, "status": "banned", "n": 1}');
SELECT name, plans, prepared, reused FROM rillflow._compiled_query_cache() ORDER BY name;
-- recompiling replaces the spec; the old plans are dropped
SELECT rillflow.compile_query('by_email', 'qplan', '{"filter": {"eq": ["score", "$score"]}, "select": {"s": "score"}}');
SELECT * FROM rillflow.run_query('by_email', '{"score": 42}');
SELECT name, plans, prepared, reused FROM rillflow._compiled_query_cache() WHERE name = 'by_email';
-- a parameter of another JSON type is another statement, with its own plan
SELECT * FROM rillflow.run_query('by_email', '{"score": "42"}');
SELECT name, plans, prepared, reused FROM rillflow._compiled_query_cache() WHERE name = 'by_email';
-- parameter errors
SELECT * FROM rillflow.run_query('older', '{"min": 1}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.run_query('older', '{"min": 1, "status": "x", "n": 1, "extra": 2, "more": 3}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.run_query('older', '{"min": 1, "n": 1, "stat": "x"}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.run_query('older', '{"min": [1], "status": "x", "n": 1}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.run_query('older', '{"min": 1, "status": "x", "n": -1}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.run_query('older', '[]'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.run_query('older', NULL); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.run_query('nosuch', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.compile_query('bad', 'qplan', '{"filter": {"eq": ["email"]}}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.compile_query('bad', 'qplan', '{"filter": {"in": ["email", "$list"]}, "limit": "$n", "order_by": "$o"}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.compile_query('bad', 'nosuch', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.compile_query('bad name!', 'qplan', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.compile_query('bad', 'qplan', NULL); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS nothing_written FROM rillflow.list_queries() WHERE name = 'bad';
-- in with a parameter list
SELECT rillflow.compile_query('in_list', 'qplan', '{"filter": {"in": ["age", "$ages"]}, "select": {"n": "score"}, "order_by": "score", "limit": 3}');
SELECT * FROM rillflow.run_query('in_list', '{"ages": [1, 2]}');
SELECT * FROM rillflow.run_query('in_list', '{"ages": 1}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_query('in_list');
SELECT rillflow.drop_query('in_list'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.run_query('in_list', '{"ages": [1]}'); \echo SQLSTATE :SQLSTATE

-- tenants: the same calls act on the tenant's store
SELECT rillflow.ensure_tenant('regress_query');
SET rillflow.tenant = 'regress_query';
SELECT rillflow.create_collection('qplan');
SELECT rillflow.doc_put('qplan', '00000000-0000-0000-0000-000000000001', '{"email": "tenant@example.com", "score": 1}');
SELECT * FROM rillflow.doc_query('qplan', '{}');
SELECT rillflow.doc_count('qplan');
SELECT * FROM rillflow.run_query('by_email', '{"score": 1}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.compile_query('by_email', 'qplan', '{"filter": {"eq": ["email", "$email"]}}');
SELECT * FROM rillflow.run_query('by_email', '{"email": "tenant@example.com"}');
RESET rillflow.tenant;
SELECT * FROM rillflow.run_query('by_email', '{"score": 1}');

-- clean up: the tenant's store, then the default store's queries and collection
SET rillflow.tenant = 'regress_query';
SELECT rillflow.drop_query('by_email'), rillflow.drop_collection('qplan');
RESET rillflow.tenant;

-- (quietly: the list of a store's tables grows with each feature)
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_query');
RESET client_min_messages;
SELECT rillflow.drop_query('by_email'), rillflow.drop_query('older'), rillflow.drop_collection('qplan');
SELECT count(*) AS queries_left FROM rillflow.list_queries();
SELECT name FROM rillflow.list_collections();
