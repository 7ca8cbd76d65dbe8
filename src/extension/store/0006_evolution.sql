-- Store step 6 (0.2.0): event evolution: the upcaster and aggregate
-- registries (rows run as their owner, guarded by _evolution_guard), the
-- snapshots and the streams each aggregate is kept for. See
-- docs/event-evolution.md and docs/aggregates.md.

-- One step leaves each (event_type, from_version), and versions only
-- go up: from any stored (type, version) there is one chain, and it ends.
CREATE TABLE @store@.upcasters (
    event_type      text NOT NULL,
    from_version    integer NOT NULL CHECK (from_version > 0),
    to_version      integer NOT NULL,
    to_type         text NOT NULL,
    fn              text NOT NULL,        -- signature text (rillflow._function_ref)
    takes_envelope  boolean NOT NULL,
    owner           regrole NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, from_version),
    CONSTRAINT upcasters_version_up CHECK (to_version > from_version)
);
CREATE TRIGGER upcasters_guard BEFORE INSERT OR UPDATE ON @store@.upcasters
    FOR EACH ROW EXECUTE FUNCTION rillflow._evolution_guard();
-- Every backend drops its cached chains of this store at its next read.
CREATE TRIGGER upcasters_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @store@.upcasters
    FOR EACH STATEMENT EXECUTE FUNCTION rillflow._upcasters_changed();

CREATE TABLE @store@.aggregates (
    name            text PRIMARY KEY,
    fold            text NOT NULL,        -- signature text (rillflow._function_ref)
    initial         jsonb NOT NULL DEFAULT '{}',
    event_types     text[],
    state_version   integer NOT NULL DEFAULT 1 CHECK (state_version > 0),
    owner           regrole NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER aggregates_guard BEFORE INSERT OR UPDATE ON @store@.aggregates
    FOR EACH ROW EXECUTE FUNCTION rillflow._evolution_guard();

-- The newest snapshot of each (stream, aggregate, state_version); never
-- ahead of the stream when saved (snapshot_save), and never read past
-- the stream's version (snapshot_load).
CREATE TABLE @store@.snapshots (
    stream_id       uuid NOT NULL,
    aggregate       text NOT NULL,
    state_version   integer NOT NULL CHECK (state_version > 0),
    version         bigint NOT NULL CHECK (version > 0),
    state           jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, aggregate, state_version)
);

-- The streams each aggregate is kept for: what the snapshotter scans.
-- Rows come from aggregate_commit, snapshot_save and aggregate_track.
CREATE TABLE @store@.aggregate_streams (
    aggregate       text NOT NULL,
    stream_id       uuid NOT NULL,
    PRIMARY KEY (aggregate, stream_id)
);
