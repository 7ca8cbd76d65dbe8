-- Store step 11 (0.2.0): hot and cold events (src/extension/archive/).
--
-- Every event row carries its retention class: 'hot' in the events table,
-- 'cold' in events_archive. The store starts on the dual_table backend:
-- events_archive inherits from events, so a statement on events (the
-- sequencer, projections, subscriptions, aggregates, the snapshotter) sees
-- archived events as well and never skips one, while a hot read asks for
-- retention_class = 'hot' and the planner leaves events_archive out by its
-- CHECK constraint. set_archive_backend('partitioned') turns events into a
-- table partitioned by retention_class with events_hot and events_archive as
-- its partitions (archive/sql/backend.sql). Positions and versions never
-- change: a move keeps every column but retention_class.

ALTER TABLE @store@.events
    ADD COLUMN retention_class text NOT NULL DEFAULT 'hot',
    ADD CONSTRAINT events_retention_class_check
        CHECK (retention_class OPERATOR(pg_catalog.=) 'hot') NO INHERIT;

CREATE TABLE @store@.events_archive (
    CONSTRAINT events_archive_retention_class_check
        CHECK (retention_class OPERATOR(pg_catalog.=) 'cold') NO INHERIT
) INHERITS (@store@.events);
ALTER TABLE @store@.events_archive ALTER COLUMN retention_class SET DEFAULT 'cold';
ALTER TABLE @store@.events_archive ADD CONSTRAINT events_archive_pkey PRIMARY KEY (seq);
ALTER TABLE @store@.events_archive ADD CONSTRAINT events_archive_stream_version_key UNIQUE (stream_id, version);
ALTER TABLE @store@.events_archive ADD CONSTRAINT events_archive_event_id_key UNIQUE (event_id);
-- the sequencer reads events by transaction id, archived ones included
CREATE INDEX events_archive_tx_idx ON @store@.events_archive (tx);

-- When a stream was archived; NULL while it is hot.
ALTER TABLE @store@.streams ADD COLUMN archived_at timestamptz;

-- An append to an archived stream finds it archived in its own statement
-- (events/append.c: the stream row is claimed only while archived_at is
-- NULL) and then reactivates the stream, or fails with RF008 when
-- rillflow.archive_redirect is off. No trigger: a BEFORE UPDATE row trigger
-- on streams locked and logged every appended stream's row once more.

-- The backend and the archive's tablespace are read from the catalog
-- (whether events is partitioned; events_archive's tablespace), never kept
-- in a table of their own that could disagree with it.

-- The archive's counters, as one row per move (added, never updated, so two
-- archivers, or two appends that reactivate, never wait on a counter);
-- archive_streams folds the rows no one holds into one; the metrics sum.
CREATE TABLE @store@.archive_counters (
    streams_marked          bigint NOT NULL DEFAULT 0,
    streams_reactivated     bigint NOT NULL DEFAULT 0,
    events_moved            bigint NOT NULL DEFAULT 0,
    move_batches            bigint NOT NULL DEFAULT 0,
    move_seconds            double precision NOT NULL DEFAULT 0
);
