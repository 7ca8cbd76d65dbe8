-- doc_query: every malformed spec is 22023 naming the bad part; injection
-- attempts in paths and names are rejected before anything runs.
\set SHOW_CONTEXT never
-- TODO(docs-core): until create_collection/add_duplicated_field land, the store tables by hand.
CREATE FUNCTION pg_temp.fixture_store(s name) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I.collections(name text PRIMARY KEY, table_name name NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())', s);
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I.duplicated_fields(collection text REFERENCES %I.collections ON DELETE CASCADE, path text NOT NULL, column_name name NOT NULL, type text NOT NULL, indexed boolean NOT NULL DEFAULT true, transform text, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (collection, column_name), UNIQUE (collection, path))', s, s);
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I.compiled_queries(name text PRIMARY KEY, collection text NOT NULL, spec jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())', s);
END $$;
CREATE FUNCTION pg_temp.fixture_collection(s name, c text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.fixture_store(s);
    EXECUTE format('CREATE TABLE %I.%I(id uuid PRIMARY KEY, data jsonb NOT NULL, version bigint NOT NULL DEFAULT 1, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz)', s, 'doc_' || c);
    EXECUTE format('INSERT INTO %I.collections(name, table_name) VALUES ($1, $2)', s) USING c, 'doc_' || c;
END $$;
-- a duplicated field: column, trigger, backfill, index, row
CREATE FUNCTION pg_temp.fixture_field(s name, c text, path text, col name, typ text, transform text DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    expr text := format('(NEW.data #>> %L)', string_to_array(path, '.'));
BEGIN
    IF transform IS NOT NULL THEN expr := replace(transform, '{value}', expr); END IF;
    EXECUTE format('ALTER TABLE %I.%I ADD COLUMN %I %s', s, 'doc_' || c, col, typ);
    EXECUTE format('CREATE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN NEW.%I := (%s)::%s; RETURN NEW; END $t$',
                   s, 'dup_' || c || '_' || col, col, expr, typ);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %I.%I FOR EACH ROW EXECUTE FUNCTION %I.%I()',
                   'dup_' || col, s, 'doc_' || c, s, 'dup_' || c || '_' || col);
    EXECUTE format('UPDATE %I.%I SET data = data', s, 'doc_' || c);
    EXECUTE format('CREATE INDEX ON %I.%I (%I)', s, 'doc_' || c, col);
    EXECUTE format('INSERT INTO %I.duplicated_fields(collection, path, column_name, type, transform) VALUES ($1, $2, $3, $4, $5)', s)
        USING c, path, col, typ, transform;
END $$;
SELECT pg_temp.fixture_collection('rillflow_default', 'qerr');
INSERT INTO rillflow_default.doc_qerr(id, data) VALUES ('00000000-0000-0000-0000-000000000001', '{"a": 1}');

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
SELECT * FROM rillflow.doc_query('qerr', '{"filter": {}}'); \echo SQLSTATE :SQLSTATE
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
