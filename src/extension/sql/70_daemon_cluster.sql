-- External projection daemons: hot/cold cluster nodes and leases.

-- The daemon cluster tables of one store; called by rillflow._create_store.
CREATE FUNCTION rillflow._create_store_daemon(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    NULL;
END
$fn$;
