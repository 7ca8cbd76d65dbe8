-- Reads where nothing can be written (READ ONLY transactions, hot standbys;
-- docs/scaling.md). A registered collection whose table does not exist yet
-- (the default store's docs before its first write) cannot get its table
-- there, so its reads read this table instead: always empty, the answer a
-- read-write server gives after creating the table (documents/collections.c).
-- Nobody may write it; it has the shape of every collection table.
CREATE TABLE IF NOT EXISTS rillflow._empty_collection (
    id          uuid PRIMARY KEY,
    data        jsonb NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CONSTRAINT always_empty CHECK (false)
);
COMMENT ON TABLE rillflow._empty_collection
    IS 'Always empty: what read-only transactions read for a collection whose table does not exist yet';
REVOKE ALL ON rillflow._empty_collection FROM PUBLIC;
GRANT SELECT ON rillflow._empty_collection TO PUBLIC;
