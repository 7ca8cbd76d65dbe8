-- The API never runs objects a hostile search_path or a planted function
-- would put in its way.
\set SHOW_CONTEXT never

-- An unprivileged role plants lookalikes of what rillflow calls, in public,
-- before the extension is created.
-- Tenant stores outlive DROP EXTENSION by design (they hold data); clear
-- those of earlier tests so the recreated catalog matches the schemas.
-- Collection tables are not extension members (pg_dump dumps them whole), so
-- the default store's collections need CASCADE. What earlier tests left
-- behind varies, so the lists of dropped objects stay out of the output.
SET client_min_messages = warning;
DO $$ BEGIN PERFORM rillflow._drop_store(name) FROM rillflow.tenants; END $$;
DROP EXTENSION rillflow CASCADE;
RESET client_min_messages;
DROP ROLE IF EXISTS rillflow_mallory;
CREATE ROLE rillflow_mallory;
GRANT CREATE ON SCHEMA public TO rillflow_mallory;
SET ROLE rillflow_mallory;
CREATE TABLE public.mallory_log (what text);
CREATE FUNCTION public.plant(what text) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO public.mallory_log VALUES (what) $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('now'); RETURN '2000-01-01'; END $$;
CREATE FUNCTION public.gen_random_uuid() RETURNS uuid LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('gen_random_uuid'); RETURN '00000000-0000-0000-0000-000000000000'; END $$;
CREATE FUNCTION public.pg_current_xact_id() RETURNS xid8 LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('pg_current_xact_id'); RETURN '1'; END $$;
CREATE FUNCTION public.jsonb_array_elements(jsonb) RETURNS SETOF jsonb LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('jsonb_array_elements'); END $$;
CREATE FUNCTION public.format(text, VARIADIC text[]) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('format'); RETURN 'SELECT 1'; END $$;
CREATE FUNCTION public.pg_try_advisory_xact_lock(integer, integer) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('pg_try_advisory_xact_lock'); RETURN true; END $$;
CREATE FUNCTION public.uuid_eq_planted(uuid, uuid) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('uuid ='); RETURN true; END $$;
CREATE OPERATOR public.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = public.uuid_eq_planted);
CREATE FUNCTION public.text_eq_planted(text, text) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('text ='); RETURN true; END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.text_eq_planted);
CREATE FUNCTION public.bigint_plus_planted(bigint, bigint) RETURNS bigint LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('bigint +'); RETURN 1; END $$;
CREATE OPERATOR public.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.bigint_plus_planted);
CREATE FUNCTION public.jsonb_concat_planted(jsonb, jsonb) RETURNS jsonb LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.plant('jsonb ||'); RETURN '{}'; END $$;
CREATE OPERATOR public.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = public.jsonb_concat_planted);
RESET ROLE;

-- The superuser installs the extension with public first in its path.
SET search_path = public, pg_catalog;
CREATE EXTENSION rillflow;
SELECT rillflow.ensure_tenant('regress_path');
SET rillflow.tenant = 'regress_path';
SELECT rillflow.append_events('5a000000-0000-0000-0000-000000000001',
    '[{"type": "A", "body": {"n": 1}, "headers": {"e": 1}}, {"type": "B", "body": {"n": 2}}]',
    expected_version => 0, idempotency_key => 'path-key', headers => '{"c": 1}');
SELECT rillflow.append_event('5a000000-0000-0000-0000-000000000001', 'C', '{}', expected_version => 2);
SELECT rillflow.append_event('5a000000-0000-0000-0000-000000000001', 'C', '{}', expected_version => 2);
SELECT rillflow.append_events('5a000000-0000-0000-0000-000000000001', '[{"type": "D", "body": {}}]', idempotency_key => 'path-key');
SELECT position, version, type, headers, created_at > '2001-01-01' AS real_now,
       event_id <> '00000000-0000-0000-0000-000000000000' AS real_uuid
  FROM rillflow.read_all();
SELECT version, type FROM rillflow.read_stream('5a000000-0000-0000-0000-000000000001', 2);
SELECT rillflow.stream_version('5a000000-0000-0000-0000-000000000001');
-- (this test's own comparison must name pg_catalog's operator: public comes first here)
SELECT rillflow.resolve_stream_alias('p') OPERATOR(pg_catalog.=) rillflow.resolve_stream_alias('p') AS alias_stable;
SELECT rillflow.head_position(), rillflow.run_sequencer();
-- categories and subscriptions
SELECT rillflow.append_events('5a000000-0000-0000-0000-000000000002', '[{"type": "A", "body": {}}]',
                              category => 'cat');
SELECT position, type FROM rillflow.read_all(categories => ARRAY['cat']);
SELECT rillflow.create_subscription('path_sub', event_types => ARRAY['A'], categories => ARRAY['cat']);
SELECT rillflow.subscription_group_configure('path_sub', 'g', ordered => true);
SELECT position FROM rillflow.subscription_poll('path_sub', 10, 'g', 'c1');
SELECT rillflow.subscription_ack('path_sub', ARRAY[4], 'g', 'c1');
SELECT last_seq, lag FROM rillflow.subscription_group_status('path_sub', 'g');
SELECT subscription, group_name, checkpoint FROM rillflow.subscription_lag;
RESET rillflow.tenant;

-- An empty search_path works the same.
SET search_path = '';
SET rillflow.tenant = 'regress_path';
SELECT rillflow.append_event('5a000000-0000-0000-0000-000000000001', 'E', '{}', expected_version => 3);
SELECT count(*) FROM rillflow.read_all();
SELECT rillflow.stream_version('5a000000-0000-0000-0000-000000000001');
RESET rillflow.tenant;
RESET search_path;

-- Nothing planted ran.
SELECT count(*) AS planted_calls FROM public.mallory_log;
SELECT * FROM public.mallory_log;

DROP OPERATOR public.= (uuid, uuid);
DROP OPERATOR public.= (text, text);
DROP OPERATOR public.+ (bigint, bigint);
DROP OPERATOR public.|| (jsonb, jsonb);
DROP FUNCTION public.now(), public.gen_random_uuid(), public.pg_current_xact_id(),
    public.jsonb_array_elements(jsonb), public.format(text, VARIADIC text[]),
    public.pg_try_advisory_xact_lock(integer, integer), public.uuid_eq_planted(uuid, uuid),
    public.text_eq_planted(text, text), public.bigint_plus_planted(bigint, bigint),
    public.jsonb_concat_planted(jsonb, jsonb), public.plant(text);
DROP TABLE public.mallory_log;
REVOKE CREATE ON SCHEMA public FROM rillflow_mallory;
DROP ROLE rillflow_mallory;
