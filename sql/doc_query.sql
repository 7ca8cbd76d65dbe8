-- doc_query / doc_count: every operator, combinations, sort, paging, select,
-- include_deleted, typed comparisons, timestamps.
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
SELECT pg_temp.fixture_collection('rillflow_default', 'qpeople');
-- ten people and some odd documents
INSERT INTO rillflow_default.doc_qpeople(id, data, created_at) VALUES
 ('00000000-0000-0000-0000-000000000001', '{"name": "Ann",  "age": 31, "email": "Ann@Example.com", "active": true,  "profile": {"city": "Oslo"}, "tags": ["a", "b"], "joined": "2025-01-10T00:00:00Z"}', '2025-01-01Z'),
 ('00000000-0000-0000-0000-000000000002', '{"name": "Bob",  "age": 25, "email": "bob@example.com", "active": false, "profile": {"city": "Rome"}, "tags": ["b"],      "joined": "2025-06-01T12:00:00Z"}', '2025-01-02Z'),
 ('00000000-0000-0000-0000-000000000003', '{"name": "Cid",  "age": 40, "email": "cid@example.org", "active": true,  "profile": {"city": "Oslo"}, "tags": [],         "joined": "2026-02-01T00:00:00+02:00"}', '2025-01-03Z'),
 ('00000000-0000-0000-0000-000000000004', '{"name": "Dee",  "age": 25.5, "email": null,           "active": true,  "profile": {"city": null},   "tags": ["c"]}', '2025-01-04Z'),
 ('00000000-0000-0000-0000-000000000005', '{"name": "Eve",  "age": "40", "active": "yes", "profile": {}}', '2025-01-05Z'),
 ('00000000-0000-0000-0000-000000000006', '{"name": "50%_off", "age": 7}', '2025-01-06Z'),
 ('00000000-0000-0000-0000-000000000007', '{"name": "Gil", "age": 60, "scores": [10, 20]}', '2025-01-07Z');
INSERT INTO rillflow_default.doc_qpeople(id, data, deleted_at) VALUES
 ('00000000-0000-0000-0000-000000000009', '{"name": "Zed (deleted)", "age": 31}', now());

CREATE FUNCTION pg_temp.q(spec jsonb) RETURNS SETOF text LANGUAGE sql AS
$$ SELECT coalesce(d->>'name', d::text) FROM rillflow.doc_query('qpeople', spec) d $$;
CREATE FUNCTION pg_temp.names(spec jsonb) RETURNS text LANGUAGE sql AS
$$ SELECT string_agg(n, ',' ORDER BY n) FROM pg_temp.q(spec) n $$;

-- everything (soft-deleted hidden), include_deleted
SELECT pg_temp.names('{}');
SELECT pg_temp.names('{"include_deleted": true}');
SELECT pg_temp.names('{"include_deleted": false}');

-- comparison operators typed by the value
SELECT pg_temp.names('{"filter": {"eq": ["age", 25]}}') AS eq_number;
SELECT pg_temp.names('{"filter": {"eq": ["age", 25.0]}}') AS eq_number_scale;
SELECT pg_temp.names('{"filter": {"eq": ["age", "40"]}}') AS eq_string_only_strings;
SELECT pg_temp.names('{"filter": {"eq": ["age", 40]}}') AS eq_number_only_numbers;
SELECT pg_temp.names('{"filter": {"ne": ["age", 25]}}') AS ne_includes_missing_and_other_types;
SELECT pg_temp.names('{"filter": {"gt": ["age", 30]}}') AS gt;
SELECT pg_temp.names('{"filter": {"gte": ["age", 31]}}') AS gte;
SELECT pg_temp.names('{"filter": {"lt": ["age", 25.5]}}') AS lt;
SELECT pg_temp.names('{"filter": {"lte": ["age", 25.5]}}') AS lte;
SELECT pg_temp.names('{"filter": {"gt": ["name", "Cid"]}}') AS gt_text;
SELECT pg_temp.names('{"filter": {"eq": ["active", true]}}') AS eq_bool;
SELECT pg_temp.names('{"filter": {"ne": ["active", true]}}') AS ne_bool;
SELECT pg_temp.names('{"filter": {"eq": ["profile.city", "Oslo"]}}') AS nested;
SELECT pg_temp.names('{"filter": {"eq": ["scores.1", 20]}}') AS array_index;
SELECT pg_temp.names('{"filter": {"eq": ["tags.0", "b"]}}') AS array_index_text;
-- null: eq null is JSON null or missing; ne null is present and not null
SELECT pg_temp.names('{"filter": {"eq": ["email", null]}}') AS eq_null;
SELECT pg_temp.names('{"filter": {"ne": ["email", null]}}') AS ne_null;
SELECT pg_temp.names('{"filter": {"eq": ["profile.city", null]}}') AS eq_null_nested;
-- like / ilike (the pattern is a value: % and _ are wildcards, escape with \)
SELECT pg_temp.names('{"filter": {"like": ["email", "%example.com"]}}') AS like;
SELECT pg_temp.names('{"filter": {"ilike": ["email", "ann@%"]}}') AS ilike;
SELECT pg_temp.names('{"filter": {"like": ["name", "50\\%\\_%"]}}') AS like_escaped;
-- in / nin
SELECT pg_temp.names('{"filter": {"in": ["age", [25, 40, 60]]}}') AS in_numbers;
SELECT pg_temp.names('{"filter": {"in": ["name", ["Ann", "Eve", "Nobody"]]}}') AS in_strings;
SELECT pg_temp.names('{"filter": {"in": ["name", []]}}') AS in_empty;
SELECT pg_temp.names('{"filter": {"nin": ["age", [25, 40, 60]]}}') AS nin;
SELECT pg_temp.names('{"filter": {"nin": ["name", []]}}') AS nin_empty;
-- contains (jsonb @> under the path), exists
SELECT pg_temp.names('{"filter": {"contains": ["tags", ["b"]]}}') AS contains_array;
SELECT pg_temp.names('{"filter": {"contains": ["profile", {"city": "Oslo"}]}}') AS contains_object;
SELECT pg_temp.names('{"filter": {"contains": ["scores", [20]]}}') AS contains_numbers;
SELECT pg_temp.names('{"filter": {"exists": "email"}}') AS exists_even_null;
SELECT pg_temp.names('{"filter": {"exists": "profile.city"}}') AS exists_nested;
SELECT pg_temp.names('{"filter": {"not": {"exists": "tags"}}}') AS not_exists;
-- and / or / not, nested
SELECT pg_temp.names('{"filter": {"and": [{"eq": ["active", true]}, {"gte": ["age", 30]}]}}') AS and_;
SELECT pg_temp.names('{"filter": {"or": [{"eq": ["name", "Bob"]}, {"lt": ["age", 10]}]}}') AS or_;
SELECT pg_temp.names('{"filter": {"not": {"or": [{"eq": ["name", "Bob"]}, {"lt": ["age", 10]}]}}}') AS not_or;
SELECT pg_temp.names('{"filter": {"not": {"gt": ["age", 30]}}}') AS not_is_complement;
SELECT pg_temp.names('{"filter": {"and": [{"or": [{"eq": ["profile.city", "Oslo"]}, {"eq": ["profile.city", "Rome"]}]}, {"not": {"contains": ["tags", ["a"]]}}]}}') AS nested_bool;
-- timestamps
SELECT pg_temp.names('{"filter": {"gte": ["joined", {"$timestamp": "2025-06-01T12:00:00Z"}]}}') AS ts_gte;
SELECT pg_temp.names('{"filter": {"lt": ["joined", {"$timestamp": "2026-01-31T23:00:00Z"}]}}') AS ts_offsets_compared_as_instants;
SELECT pg_temp.names('{"filter": {"gt": ["$created_at", {"$timestamp": "2025-01-05T00:00:00Z"}]}}') AS created_at;
-- pseudo-paths in filters
SELECT pg_temp.names('{"filter": {"eq": ["$id", "00000000-0000-0000-0000-000000000002"]}}') AS by_id;
SELECT pg_temp.names('{"filter": {"in": ["$id", ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000003"]]}}') AS by_ids;
SELECT pg_temp.names('{"filter": {"eq": ["$version", 1]}, "include_deleted": true}') AS by_version;
SELECT pg_temp.names('{"filter": {"ne": ["$deleted_at", null]}, "include_deleted": true}') AS deleted_only;

-- order_by: direction, nulls, type, bare string, several keys
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": "name"}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": [{"path": "age", "direction": "desc"}]}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": [{"path": "email", "type": "text", "nulls": "first"}, "name"]}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": [{"path": "email", "type": "text", "direction": "desc", "nulls": "last"}, {"path": "name", "direction": "desc"}]}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"filter": {"exists": "joined"}, "order_by": [{"path": "joined", "type": "timestamp", "direction": "desc"}]}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": [{"path": "profile.city", "nulls": "last"}, {"path": "$id", "direction": "desc"}]}') n;
-- paging
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": "name", "limit": 3}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": "name", "limit": 3, "offset": 3}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": "name", "offset": 5}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": "name", "page": 2, "page_size": 2}') n;
SELECT string_agg(n, ',') FROM pg_temp.q('{"order_by": "name", "page_size": 2}') n;
SELECT count(*) FROM pg_temp.q('{"limit": 0}') n;
-- select: output fields, pseudo-paths, missing paths are null
SELECT * FROM rillflow.doc_query('qpeople', '{"filter": {"eq": ["name", "Ann"]}, "select": {"id": "$id", "v": "$version", "city": "profile.city", "first_tag": "tags.0", "nope": "no.such", "created": "$created_at", "deleted": "$deleted_at"}}');
SELECT * FROM rillflow.doc_query('qpeople', '{"filter": {"eq": ["name", "Bob"]}, "select": {"id": "$id", "doc": "$data"}}');

-- doc_count
SELECT rillflow.doc_count('qpeople');
SELECT rillflow.doc_count('qpeople', NULL, include_deleted => true);
SELECT rillflow.doc_count('qpeople', '{"gte": ["age", 25]}');
SELECT rillflow.doc_count('qpeople', '{"eq": ["age", 31]}', true);

-- typed comparisons never cast a value of another type: no error on "age": "40"
SELECT rillflow.doc_count('qpeople', '{"gt": ["age", 0]}');
-- a timestamp comparison needs timestamps at the path
SELECT rillflow.doc_count('qpeople', '{"gt": ["name", {"$timestamp": "2020-01-01Z"}]}'); \echo SQLSTATE :SQLSTATE

-- the statement doc_query runs: values are arguments, never in the text
SELECT rillflow.doc_query_sql('qpeople', '{"filter": {"and": [{"eq": ["email", "x''y"]}, {"gt": ["age", 3]}, {"contains": ["profile", {"city": "Oslo"}]}]}, "order_by": "age", "limit": 5}');
