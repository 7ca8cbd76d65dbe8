-- Duplicated fields and the index advisor.
\set SHOW_CONTEXT never

SELECT rillflow.doc_put('people', ('f0000000-0000-0000-0000-00000000000' || i)::uuid,
    jsonb_build_object('email', 'Person' || i || '@Example.COM', 'age', 20 + i, 'active', i % 2 = 0,
                       'joined', '2024-0' || i || '-01T12:00:00Z', 'ref', 'a0000000-0000-0000-0000-00000000000' || i,
                       'score', i * 1.5, 'profile', jsonb_build_object('city', ' City ' || i || ' ')))
  FROM generate_series(1, 5) i;

-- every type, nested paths, transforms; existing rows are backfilled
SELECT rillflow.add_duplicated_field('people', 'email', 'email', 'text', transform => 'lower({value})');
SELECT rillflow.add_duplicated_field('people', 'age', 'age', 'integer');
SELECT rillflow.add_duplicated_field('people', 'age', 'age_big', 'bigint'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'active', 'active', 'boolean', indexed => false);
SELECT rillflow.add_duplicated_field('people', 'joined', 'joined', 'timestamptz');
SELECT rillflow.add_duplicated_field('people', 'ref', 'ref', 'uuid');
SELECT rillflow.add_duplicated_field('people', 'score', 'score', 'numeric');
SELECT rillflow.add_duplicated_field('people', 'profile.city', 'city', 'text', transform => ' upper( {value} ) ');
SELECT rillflow.add_duplicated_field('people', 'profile.city', 'city_trim', 'text', transform => 'btrim({value})'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'missing.path', 'nothing', 'bigint');
SELECT path, column_name, type, indexed, transform FROM rillflow.list_duplicated_fields('people');
SELECT name, duplicated_fields FROM rillflow.list_collections() WHERE name = 'people';
SET timezone = 'UTC';
SELECT id, email, age, active, joined, ref, score, city, nothing FROM rillflow_default.doc_people ORDER BY id;
SELECT indexrelid::regclass AS index FROM pg_index WHERE indrelid = 'rillflow_default.doc_people'::regclass ORDER BY 1;

-- writes keep the columns in step: put, update, patch, patch_fields
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000009', '{"email": "NEW@X.ORG", "age": 9, "profile": {"city": "Oslo"}}');
SELECT rillflow.doc_patch('people', 'f0000000-0000-0000-0000-000000000009', 'age', '10');
SELECT rillflow.doc_patch_fields('people', 'f0000000-0000-0000-0000-000000000009', '{"profile.city": "Bergen", "active": true}');
SELECT rillflow.doc_update('people', 'f0000000-0000-0000-0000-000000000001', '{"email": "Only@Mail"}', 1);
SELECT id, email, age, active, city FROM rillflow_default.doc_people
 WHERE id IN ('f0000000-0000-0000-0000-000000000009', 'f0000000-0000-0000-0000-000000000001') ORDER BY id;
-- soft delete does not touch the data or the columns
SELECT rillflow.doc_soft_delete('people', 'f0000000-0000-0000-0000-000000000009');
SELECT email, age FROM rillflow_default.doc_people WHERE id = 'f0000000-0000-0000-0000-000000000009';
SELECT rillflow.doc_restore('people', 'f0000000-0000-0000-0000-000000000009');

-- a value that does not convert: an error naming the path, type and document; nothing written
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000008', '{"age": "old"}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000008', '{"age": 99999999999}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000008', '{"joined": "yesterday-ish"}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000008', '{"ref": "not-a-uuid"}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000008', '{"active": "perhaps"}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000008', '{"score": {"x": 1}}'); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS not_written FROM rillflow.doc_get('people', 'f0000000-0000-0000-0000-000000000008');
SELECT rillflow.doc_patch('people', 'f0000000-0000-0000-0000-000000000009', 'age', '"ten"'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch_fields('people', 'f0000000-0000-0000-0000-000000000009', '{"email": "ok@ok", "age": 1.5}'); \echo SQLSTATE :SQLSTATE
SELECT g.data->>'email' AS email, g.data->'age' AS age, g.version, t.email AS email_column, t.age AS age_column
  FROM rillflow.doc_get('people', 'f0000000-0000-0000-0000-000000000009') g,
       rillflow_default.doc_people t WHERE t.id = 'f0000000-0000-0000-0000-000000000009';

-- a backfill that meets a value that does not convert fails whole: no column, no row, no index
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000007', '{"code": "X1"}');
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000006', '{"code": 42}');
SELECT rillflow.add_duplicated_field('people', 'code', 'code', 'integer'); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS no_field FROM rillflow.list_duplicated_fields('people') WHERE column_name = 'code';
SELECT count(*) AS no_column FROM pg_attribute WHERE attrelid = 'rillflow_default.doc_people'::regclass AND attname = 'code';
-- the backfill fills every row, in one UPDATE of the new column
SELECT count(rillflow.doc_put('bulk', gen_random_uuid(), jsonb_build_object('n', i))) FROM generate_series(1, 25000) i;
SELECT rillflow.add_duplicated_field('bulk', 'n', 'n', 'integer');
SELECT count(*) AS rows, count(n) AS filled, bool_and(n = (data->>'n')::int) AS equal FROM rillflow_default.doc_bulk;

-- the backfill's value function is the trigger's: same value, same errors
SELECT rillflow._doc_field_value(NULL, '{"a": {"b": " X "}}', 'c', 'a.b', 'text', 'btrim({value})', NULL::text) AS trimmed,
       rillflow._doc_field_value(NULL, '{"a": 7}', 'c', 'a', 'bigint', NULL, NULL::bigint) AS big,
       rillflow._doc_field_value(NULL, '{}', 'c', 'a', 'uuid', NULL, NULL::uuid) IS NULL AS missing;
SELECT rillflow._doc_field_value('f0000000-0000-0000-0000-000000000001', '{"a": "x"}', 'c', 'a', 'integer', NULL, NULL::integer); \echo SQLSTATE :SQLSTATE
SELECT rillflow._doc_field_value(NULL, '{"a": 1}', 'c', 'a', 'money', NULL, NULL::text); \echo SQLSTATE :SQLSTATE
SELECT rillflow._doc_field_value(NULL, '{"a": 1}', 'c', 'a', 'integer', NULL, NULL::text); \echo SQLSTATE :SQLSTATE
SELECT rillflow._doc_field_value(NULL, '{"a": 1}', 'c', 'a', NULL, NULL, NULL::text); \echo SQLSTATE :SQLSTATE

-- bad arguments: nothing added
SELECT rillflow.add_duplicated_field('people', 'age', 'age2', 'int'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'age', 'age2', 'integer; DROP TABLE x'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'age', 'age2', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'nick', 'text', transform => 'md5({value})'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'nick', 'text', transform => 'lower({value})); DROP TABLE x; --'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'nick', 'text', transform => 'lower(data)'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'Nick', 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'nick"; DROP TABLE x; --', 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', repeat('n', 64), 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'data', 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'version', 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'email', 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', NULL, 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', $$nick' || pg_sleep(1) || '$$, 'nick', 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick->>0', 'nick', 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('people', 'nick', 'nick', 'text', indexed => NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('missing', 'nick', 'nick', 'text'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.add_duplicated_field('Bad Name', 'nick', 'nick', 'text'); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS fields FROM rillflow.list_duplicated_fields('people');
SELECT rillflow.list_duplicated_fields('missing'); \echo SQLSTATE :SQLSTATE

-- drop: the column, its index and its part of the trigger go
SELECT rillflow.drop_duplicated_field('people', 'age') AS dropped, rillflow.drop_duplicated_field('people', 'age') AS dropped_again;
SELECT count(*) AS age_column FROM pg_attribute WHERE attrelid = 'rillflow_default.doc_people'::regclass AND attname = 'age' AND NOT attisdropped;
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000008', '{"age": "old now fine", "email": "E@E"}');
SELECT email FROM rillflow_default.doc_people WHERE id = 'f0000000-0000-0000-0000-000000000008';
SELECT rillflow.drop_duplicated_field('people', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_duplicated_field('missing', 'age'); \echo SQLSTATE :SQLSTATE
SELECT column_name FROM rillflow.list_duplicated_fields('people');
-- the last field's drop removes the trigger
SELECT rillflow.drop_duplicated_field('bulk', 'n');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'rillflow_default.doc_bulk'::regclass AND NOT tgisinternal;

-- the trigger refuses to run anywhere else
CREATE TABLE public.not_a_collection (id uuid, data jsonb);
CREATE TRIGGER t AFTER INSERT ON public.not_a_collection FOR EACH ROW EXECUTE FUNCTION rillflow._doc_sync_fields();
INSERT INTO public.not_a_collection VALUES (gen_random_uuid(), '{}'); \echo SQLSTATE :SQLSTATE
DROP TABLE public.not_a_collection;

-- tenants: fields live on the tenant's own table
SELECT rillflow.ensure_tenant('regress_fields');
SET rillflow.tenant = 'regress_fields';
SELECT rillflow.doc_put('people', 'f0000000-0000-0000-0000-000000000001', '{"email": "T@T"}');
SELECT rillflow.add_duplicated_field('people', 'email', 'email', 'text', transform => 'lower({value})');
SELECT column_name, transform FROM rillflow.list_duplicated_fields('people');
SELECT email FROM rillflow_tenant_regress_fields.doc_people;
RESET rillflow.tenant;
SELECT column_name FROM rillflow.list_duplicated_fields('people') WHERE column_name = 'email';

-- index advisor
SELECT count(rillflow.doc_put('customers', gen_random_uuid(), jsonb_build_object(
           'email', 'c' || i || '@x.com', 'age', i % 90, 'price', i * 0.25, 'vip', i % 7 = 0,
           'since', '2024-01-01T00:00:00Z', 'mixed', CASE WHEN i % 2 = 0 THEN to_jsonb(i) ELSE to_jsonb('s' || i) END,
           'profile', jsonb_build_object('city', 'c' || i % 10), 'tags', jsonb_build_array('a'))))
  FROM generate_series(1, 300) i;
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'email');
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'age', gin => true);
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'price');
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'vip');
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'since');
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'profile.city');
SELECT kind, ddl, reason FROM rillflow.index_advisor('customers', 'mixed');
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'tags');
SELECT kind, ddl, reason FROM rillflow.index_advisor('customers', 'absent');
-- every DDL it returns runs
SELECT a.ddl FROM (VALUES ('email'), ('age'), ('price'), ('vip'), ('since'), ('profile.city'), ('mixed')) f(field),
       rillflow.index_advisor('customers', f.field, true) a
 WHERE a.ddl IS NOT NULL \gexec
SELECT column_name, type FROM rillflow.list_duplicated_fields('customers');
SELECT count(*) AS advised_indexes FROM pg_index WHERE indrelid = 'rillflow_default.doc_customers'::regclass;
-- once built, it says so
SELECT kind, ddl, reason FROM rillflow.index_advisor('customers', 'email');
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'tags', true);
SELECT rillflow.drop_duplicated_field('customers', 'vip');
SELECT rillflow.add_duplicated_field('customers', 'vip', 'vip', 'boolean', indexed => false);
SELECT kind, ddl FROM rillflow.index_advisor('customers', 'vip');
SELECT rillflow.index_advisor('customers', 'a b'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.index_advisor('customers', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.index_advisor('missing', 'email'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.index_advisor('customers', 'email', NULL); \echo SQLSTATE :SQLSTATE

-- clean up the default store's collections
SELECT rillflow.drop_collection(name) FROM rillflow.list_collections() ORDER BY name;

-- drop this test's tenant store
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_fields');
RESET client_min_messages;
