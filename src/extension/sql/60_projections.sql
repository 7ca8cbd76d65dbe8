-- Projections: registry, runtime, leases, dead-letter queue, admin.

-- The projection tables of one store; called by rillflow._create_store.
CREATE FUNCTION rillflow._create_store_projections(store name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    NULL;
END
$fn$;
