-- Documents: collections, reads and writes, versions, soft delete, tenants.
\set SHOW_CONTEXT never

-- docs exists in every store; in the default store its table comes on first use
SELECT name, table_name, duplicated_fields FROM rillflow.list_collections();
SELECT to_regclass('rillflow_default.doc_docs') IS NULL AS docs_table_not_yet_made;
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');
SELECT to_regclass('rillflow_default.doc_docs') IS NOT NULL AS docs_table_made;
-- collection tables are not extension members (pg_dump dumps them whole)
SELECT count(*) AS member_doc_tables FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND classid = 'pg_class'::regclass AND objid::regclass::text LIKE 'rillflow_default.doc_%';

-- collections
SELECT rillflow.create_collection('orders') AS created, rillflow.create_collection('orders') AS created_again;
SELECT name, table_name FROM rillflow.list_collections();
SELECT rillflow.drop_collection('orders') AS dropped, rillflow.drop_collection('orders') AS dropped_again;
SELECT to_regclass('rillflow_default.doc_orders') IS NULL AS orders_table_gone;

-- put: insert (version 1), replace (+1), and the expected versions
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000001', '{"name": "Ada", "age": 36}');
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000001', '{"name": "Ada", "age": 37}');
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000002', '{"name": "Bob"}', expected_version => 0);
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000002', '{"name": "Bob"}', expected_version => 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000002', '{"name": "Bob", "n": 2}', expected_version => 1);
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000002', '{"name": "Bob", "n": 3}', expected_version => 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000099', '{}', expected_version => 4); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000002');
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000099');

-- get_many: live documents once each, in the order given
SELECT * FROM rillflow.doc_get_many('docs', ARRAY['d0000000-0000-0000-0000-000000000002',
    'd0000000-0000-0000-0000-000000000099', 'd0000000-0000-0000-0000-000000000001',
    'd0000000-0000-0000-0000-000000000002']::uuid[]);
SELECT * FROM rillflow.doc_get_many('docs', '{}');

-- update: a live document, at the expected version (NULL: any)
SELECT rillflow.doc_update('docs', 'd0000000-0000-0000-0000-000000000001', '{"name": "Ada L."}', 2);
SELECT rillflow.doc_update('docs', 'd0000000-0000-0000-0000-000000000001', '{"name": "Ada X"}', 2); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_update('docs', 'd0000000-0000-0000-0000-000000000001', '{"name": "Ada"}', NULL);
SELECT rillflow.doc_update('docs', 'd0000000-0000-0000-0000-000000000098', '{"name": "Nobody"}', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_update('docs', 'd0000000-0000-0000-0000-000000000001', '{}', 0); \echo SQLSTATE :SQLSTATE

-- patch: one dotted path, creating parents; patch_fields: many in one statement
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'profile.address.city', '"London"');
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'name', '"Ada Lovelace"', expected_version => 5);
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'name', '"Ada"', expected_version => 5); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch_fields('docs', 'd0000000-0000-0000-0000-000000000001',
    '{"tags": ["a"], "tags.1": "b", "profile.address.zip": "N1", "profile.born": 1815, "score": null}');
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');
-- a scalar in the way, an array index past the end, a key into an array: nothing written
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'name.first', '"A"'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'tags.7.x', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'tags.x', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch_fields('docs', 'd0000000-0000-0000-0000-000000000001', '{"ok": 1, "name.x": 2}'); \echo SQLSTATE :SQLSTATE
SELECT version, data ? 'ok' AS partly_written FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');

-- soft delete and restore: true when the call changed something
SELECT rillflow.doc_soft_delete('docs', 'd0000000-0000-0000-0000-000000000002', expected_version => 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_soft_delete('docs', 'd0000000-0000-0000-0000-000000000002', expected_version => 2) AS deleted;
SELECT rillflow.doc_soft_delete('docs', 'd0000000-0000-0000-0000-000000000002') AS deleted_again;
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000002');
SELECT count(*) FROM rillflow.doc_get_many('docs', ARRAY['d0000000-0000-0000-0000-000000000002']::uuid[]);
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000002', 'n', '4'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_update('docs', 'd0000000-0000-0000-0000-000000000002', '{}', 3); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000002', '{}', 0); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_restore('docs', 'd0000000-0000-0000-0000-000000000002', expected_version => 2); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_restore('docs', 'd0000000-0000-0000-0000-000000000002', expected_version => 3) AS restored;
SELECT rillflow.doc_restore('docs', 'd0000000-0000-0000-0000-000000000002') AS restored_again;
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000002');
-- put over a soft-deleted document replaces and revives it
SELECT rillflow.doc_soft_delete('docs', 'd0000000-0000-0000-0000-000000000002');
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000002', '{"name": "Bob again"}');
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000002');

-- hard delete
SELECT rillflow.doc_delete('docs', 'd0000000-0000-0000-0000-000000000002', expected_version => 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_delete('docs', 'd0000000-0000-0000-0000-000000000002', expected_version => 6) AS deleted;
SELECT rillflow.doc_delete('docs', 'd0000000-0000-0000-0000-000000000002') AS deleted_again;
SELECT rillflow.doc_delete('docs', 'd0000000-0000-0000-0000-000000000002', expected_version => 6) AS missing_is_nothing_to_do;
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000002', '{}', 0) AS new_again;

-- bad input: nothing written
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000003', '[1, 2]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000003', '"text"'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000003', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', NULL, '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put(NULL, 'd0000000-0000-0000-0000-000000000003', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000003', '{}', -1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', 'not-a-uuid', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000003', '{"a": }'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'a', NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', '', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'a..b', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', '0.a', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'a.1b', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', $$a'}; DROP TABLE x; --$$, '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', 'a->>b', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000001', repeat('a.', 32) || 'a', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch_fields('docs', 'd0000000-0000-0000-0000-000000000001', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch_fields('docs', 'd0000000-0000-0000-0000-000000000001', '[]'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch_fields('docs', 'd0000000-0000-0000-0000-000000000001', '{"ok": 1, "bad path": 2}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_get_many('docs', ARRAY[NULL]::uuid[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_get_many('docs', ARRAY[['d0000000-0000-0000-0000-000000000001']]::uuid[]); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_get_many('docs', array_fill(gen_random_uuid(), ARRAY[10001])); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_soft_delete('docs', 'd0000000-0000-0000-0000-000000000001', 0); \echo SQLSTATE :SQLSTATE
SELECT version FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');
SELECT count(*) AS documents FROM rillflow_default.doc_docs;

-- collection names: checked, never pasted into SQL
SELECT rillflow.create_collection(''); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection(NULL); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection('Orders'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection('1orders'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection(repeat('a', 49)); \echo SQLSTATE :SQLSTATE
SELECT rillflow.create_collection(repeat('a', 48)) AS longest_name_ok;
SELECT rillflow.drop_collection(repeat('a', 48));
SELECT rillflow.doc_put($$x"; DROP SCHEMA rillflow CASCADE; --$$, gen_random_uuid(), '{}'); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_get('orders; DROP TABLE rillflow_default.doc_docs', gen_random_uuid()); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_collection('docs"'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.drop_collection('missing') AS dropped_missing;

-- missing collections: reads and non-creating writes raise RF004
SELECT * FROM rillflow.doc_get('missing', gen_random_uuid()); \echo SQLSTATE :SQLSTATE
SELECT * FROM rillflow.doc_get_many('missing', '{}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_update('missing', gen_random_uuid(), '{}', 1); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_patch('missing', gen_random_uuid(), 'a', '1'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_delete('missing', gen_random_uuid()); \echo SQLSTATE :SQLSTATE
SELECT count(*) AS still_missing FROM rillflow.list_collections() WHERE name = 'missing';

-- the first put creates a collection, unless auto-creation is off
SELECT rillflow.doc_put('events_archive', 'd0000000-0000-0000-0000-000000000010', '{"a": 1}');
SELECT name, table_name FROM rillflow.list_collections() WHERE name = 'events_archive';
SET rillflow.auto_create_collections = off;
SELECT rillflow.doc_put('not_auto', 'd0000000-0000-0000-0000-000000000010', '{"a": 1}'); \echo SQLSTATE :SQLSTATE
SELECT rillflow.doc_put('events_archive', 'd0000000-0000-0000-0000-000000000011', '{"a": 2}') AS existing_still_writable;
SELECT rillflow.create_collection('not_auto');
SELECT rillflow.doc_put('not_auto', 'd0000000-0000-0000-0000-000000000010', '{"a": 1}') AS after_create;
RESET rillflow.auto_create_collections;
SET rillflow.auto_create_collections = 'maybe'; \echo SQLSTATE :SQLSTATE

-- a failed write in a transaction leaves the transaction's earlier writes to its fate
BEGIN;
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000020', '{"tx": 1}');
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000020', '{"tx": 2}', 0); \echo SQLSTATE :SQLSTATE
ROLLBACK;
SELECT count(*) AS rolled_back FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000020');

-- tenants: the same calls act on the tenant's own tables
SELECT rillflow.ensure_tenant('regress_docs');
SET rillflow.tenant = 'regress_docs';
SELECT name, table_name FROM rillflow.list_collections();
SELECT to_regclass('rillflow_tenant_regress_docs.doc_docs') IS NULL AS tenant_docs_made_on_first_use;
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000001', '{"tenant": true}', 0);
SELECT rillflow.doc_put('orders', 'd0000000-0000-0000-0000-000000000001', '{"tenant": true}');
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');
SELECT name FROM rillflow.list_collections();
RESET rillflow.tenant;
SELECT data FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');
SELECT count(*) AS tenant_rows FROM rillflow_tenant_regress_docs.doc_docs;
SELECT * FROM rillflow.doc_get('orders', gen_random_uuid()); \echo SQLSTATE :SQLSTATE
SET rillflow.tenant = 'regress_nobody_docs';
SELECT rillflow.doc_put('docs', gen_random_uuid(), '{}'); \echo SQLSTATE :SQLSTATE
RESET rillflow.tenant;

-- an empty search_path changes nothing
SET search_path = '';
SELECT rillflow.doc_put('docs', 'd0000000-0000-0000-0000-000000000030', '{"p": 1}');
SELECT rillflow.doc_patch('docs', 'd0000000-0000-0000-0000-000000000030', 'q.r', '2', 1);
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000030');
SELECT rillflow.doc_soft_delete('docs', 'd0000000-0000-0000-0000-000000000030'),
       rillflow.doc_restore('docs', 'd0000000-0000-0000-0000-000000000030'),
       rillflow.doc_delete('docs', 'd0000000-0000-0000-0000-000000000030');
SELECT name FROM rillflow.list_collections();
RESET search_path;

-- clean up the default store's collections (DROP EXTENSION needs that; see docs/documents.md)
SELECT rillflow.drop_collection(name) FROM rillflow.list_collections() ORDER BY name;
SELECT name, table_name FROM rillflow.list_collections();
SELECT to_regclass('rillflow_default.doc_docs') IS NULL AS docs_table_dropped;
SELECT * FROM rillflow.doc_get('docs', 'd0000000-0000-0000-0000-000000000001');
SELECT rillflow.drop_collection('docs');

-- drop this test's tenant store
SET client_min_messages = warning;
SELECT rillflow._drop_store('regress_docs');
RESET client_min_messages;
