-- The first statement of the install script: refuse a schema rillflow that
-- someone else made or that holds anything.
--
-- CREATE EXTENSION installs into a schema rillflow that exists already
-- rather than failing. The owner of a schema may drop and replace anything in
-- it, so a schema another role planted (or one holding anything yet) would
-- let that role swap the API the extension's users call: refuse it. This
-- runs first, before anything is created in the schema.
DO $guard$
DECLARE
    nsp oid := pg_catalog.to_regnamespace('rillflow');
    owner name;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(n.nspowner) INTO owner FROM pg_catalog.pg_namespace n
     WHERE n.oid OPERATOR(pg_catalog.=) nsp;
    IF owner OPERATOR(pg_catalog.<>) CURRENT_USER THEN
        RAISE EXCEPTION 'schema "rillflow" already exists and is owned by role "%"', owner
            USING ERRCODE = '42P06',
                  DETAIL = 'The owner of a schema can drop and replace the functions in it; '
                           'rillflow installs only into a schema that its installer owns and that holds nothing.',
                  HINT = 'Check what the schema holds, drop it (DROP SCHEMA rillflow CASCADE), then create the extension again.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_proc WHERE pronamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_type WHERE typnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_operator WHERE oprnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_collation WHERE collnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_conversion WHERE connamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_opfamily WHERE opfnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_ts_config WHERE cfgnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_ts_dict WHERE dictnamespace OPERATOR(pg_catalog.=) nsp)
       OR EXISTS (SELECT FROM pg_catalog.pg_statistic_ext WHERE stxnamespace OPERATOR(pg_catalog.=) nsp) THEN
        RAISE EXCEPTION 'schema "rillflow" already exists and holds objects'
            USING ERRCODE = '42P06',
                  DETAIL = 'rillflow installs only into a schema that holds nothing, so no object in it is someone else''s.',
                  HINT = 'Check what the schema holds, drop it (DROP SCHEMA rillflow CASCADE), then create the extension again.';
    END IF;
END
$guard$;
