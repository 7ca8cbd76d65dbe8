-- Store step 8 (0.2.0): a projection's handler and reset function are kept as
-- their signature text, not as regprocedure, whose oids pg_upgrade does not
-- keep (it refuses every user table with such a column: docs/operations.md).
-- The applier runs under search_path pg_catalog, pg_temp, the search_path
-- rillflow._function_ref resolves the text under, so the cast writes the
-- signature that names the same function again.
ALTER TABLE @store@.projections ALTER COLUMN handler TYPE text USING handler::text;
ALTER TABLE @store@.projections ALTER COLUMN reset_function TYPE text USING reset_function::text;
