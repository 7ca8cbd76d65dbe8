-- Who may execute the internal functions (docs/security.md, "Internal
-- functions"). The last part of the install script, so it sees them all.
--
-- EXECUTE on every internal function (name starting with _) is revoked from
-- PUBLIC, then given back to the ones the public API calls with its caller's
-- rights, which are harmless to call directly, each for one of the reasons
-- below. A new internal function is not executable by PUBLIC until it is
-- listed here (sql/security.sql pins the list). Not listed, so run only by
-- their owner and the functions that run as it: the store's DDL
-- (_create_store, _store_apply_steps, _check_collection_table), the trigger functions
-- (_doc_sync_fields, _projection_guard: a trigger fires without EXECUTE, and
-- only its table's owner creates it), the backfill (_doc_field_value), the
-- worker's hook at CREATE EXTENSION and the query cache's diagnostics.

-- The API is open to every role, as if it were installed in public; the
-- stores are not (grant_tenant). rillflow.tenants is read by every call that
-- names a tenant (rillflow.tenant); its names are those of the stores'
-- schemas, which pg_namespace shows anyone.
GRANT USAGE ON SCHEMA rillflow TO PUBLIC;
GRANT SELECT ON rillflow.tenants TO PUBLIC;
-- the stores, their versions and the steps and shapes of this version: no data
GRANT SELECT ON rillflow.stores, rillflow.store_steps, rillflow.store_shapes TO PUBLIC;

DO $privileges$
DECLARE
    public_internal CONSTANT text[] := ARRAY[
        -- checks, constants and the errors they raise: no store access
        '_acts_as', '_check_batch_size', '_check_grantee', '_check_event_types', '_check_field_path', '_check_handler',
        '_check_lease_ttl', '_check_projection_name', '_cluster_check_lease', '_cluster_check_name',
        '_collection_base_columns', '_collection_table', '_duplicated_field_transforms',
        '_check_duplicated_field_type', '_max_batch_size', '_tenant_level_grants', '_tenant_level_rank',
        '_tenant_schema', '_function_ref', '_function_ref_text',
        '_query_params', '_doc_patch', '_projection_not_found', '_cluster_not_found',
        '_lease_lost',
        '_check_event_type', '_check_event_version', '_check_upcaster_function', '_check_fold_function',
        '_check_aggregate_name',
        -- SECURITY INVOKER functions on a store: with the caller's rights they
        -- do nothing the caller could not do by hand with its grants
        '_log_head', '_check_store_admin', '_check_store_owner', '_tenant_store', '_collection_tables',
        '_store_status',
        '_collection_relid', '_ensure_collection', '_create_projection', '_dlq_entry',
        '_projection_check_lease', '_projection_exists', '_projection_lock', '_projection_record_failure',
        '_rebuild_begin', '_rebuild_finish', '_cluster_lock_node', '_cluster_release_hot',
        -- a wake-up of wait_for_projection's waiters, and worker_status's rows;
        -- the worker's wake-up at create_projection (what any append does)
        '_note_checkpoint_advance', '_worker_slots', '_wake_worker',
        -- what schema_health and schema_plan read: the catalog and the
        -- recorded shapes, nothing of a store's rows
        '_stores_for', '_store_steps_version', '_store_schema_version', '_store_has_drift', '_store_shape',
        '_is_collection_table', '_store_problems', '_store_repair', '_store_index_made_by_constraint',
        '_store_plan', '_store_owner',
        -- metrics() and trace_mermaid() with the caller's rights: what it may read
        '_store_metrics', '_mermaid_label',
        -- the archive's: its metrics and backend from the catalog, and the
        -- owner check set_archive_backend and set_archive_tablespace make
        '_archive_metrics', '_archive_hot_relation', '_archive_backend', '_archive_check_owner',
        -- a subscription poll's events as read: upcasters run as their owners
        '_upcast_envelope',
        -- whether an event's type as read is among a subscription's types
        '_upcast_type_in',
        -- schema_sync's: they refuse (42501) a caller that does not act as the
        -- store's owner, and then do only what the owner may
        '_store_sync', '_store_migrate',
        -- SECURITY DEFINER, taking no instruction beyond a store and a
        -- collection: they make a collection's table match the store's
        -- registry, which only its admins write (see each one's comment)
        '_create_collection_table', '_sync_collection_table', '_drop_collection_table',
        -- the wait for the log that projection_acquire makes (the tick
        -- itself runs as the store's owner in the worker or a ticker, never
        -- in a caller's transaction: docs/global-log.md), and the system
        -- identifier the log state records, which pg_control_system() shows
        -- anyone
        '_sync_log', '_system_identifier',
        -- where an event's seq is in a segment of the log, for every reader
        -- of read_stream, and the shape a segment must have, the CHECK of
        -- every store's log_segments (functions of their arguments alone)
        '_segment_index', '_segment_shaped',
        -- subscriptions: rules and errors (no store access), SECURITY INVOKER
        -- helpers on a store, the lag the subscription_lag view reads, and
        -- read_all's wait for the log (the same as _sync_log's)
        '_check_category', '_check_subscription_name', '_check_subscription_lease', '_check_positions',
        '_subscription_max_batch', '_subscription_consumer', '_subscription_group_key',
        '_subscription_not_found', '_subscription_get', '_subscription_ensure_group', '_subscription_group_exists',
        '_subscription_lock_group', '_subscription_checkpoint', '_subscription_lease_lost',
        '_subscription_lag', '_subscription_lag_of', '_subscription_unbatch', '_subscription_sync_log'];
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_catalog.pg_proc p
               WHERE p.pronamespace OPERATOR(pg_catalog.=) 'rillflow'::pg_catalog.regnamespace
                 AND p.proname OPERATOR(pg_catalog.~~) '\_%' LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
    END LOOP;
    FOR fn IN SELECT p.oid FROM pg_catalog.pg_proc p
               WHERE p.pronamespace OPERATOR(pg_catalog.=) 'rillflow'::pg_catalog.regnamespace
                 AND p.proname::pg_catalog.text OPERATOR(pg_catalog.=) ANY (public_internal) LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', fn);
    END LOOP;
END
$privileges$;
