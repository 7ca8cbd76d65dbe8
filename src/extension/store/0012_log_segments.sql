-- Store step 12 (0.2.0): the global log's positions in segments.
--
-- Step 1 kept a row per position (positions: position, seq, with an index
-- on each), written by every tick: about 190 bytes of WAL per event, a
-- fifth of the WAL of an append in batches (docs/performance.md, "Positions
-- in segments"). A segment is one row for up to 64 positions in a row:
-- its last position, and the seqs of its events in position order, which
-- rise, so the first position is last_position - cardinality(seqs) + 1,
-- the segments tile 1..head with no gap, and max_seq is the last seq. A
-- tick writes one segment per 64 events it stamps, in seq order
-- (events/sequencer.c). Position -> seq: the first segment whose
-- last_position is at least the position. Seq -> position: the first
-- segment, by max_seq, at or above the seq that holds it, found in it by
-- binary search (events/log_segments.c; segments hold disjoint sets of
-- seqs).

-- max_seq is unique: a seq stamped twice as the highest of two segments is
-- an error, where positions.seq was unique for every seq. The sequencer's
-- snapshots are what keeps every seq in one segment (docs/global-log.md).
-- Readers unnest a segment's seqs in C and search them by halves, so every
-- row must have the shape a tick writes: the CHECK keeps out a hand-made row
-- and one a restore of a damaged dump loads (that COPY fails, and the store
-- stays held until its log is whole: events/sequencer.c).
CREATE TABLE @store@.log_segments (
    last_position   bigint PRIMARY KEY,
    max_seq         bigint NOT NULL UNIQUE,
    seqs            bigint[] NOT NULL,
    CONSTRAINT log_segments_shape CHECK (rillflow._segment_shaped(max_seq, seqs))
);

-- A tick that is running now writes positions until it commits; wait for it
-- and keep the next one out, so the copy below has every position.
LOCK TABLE @store@.positions IN SHARE ROW EXCLUSIVE MODE;

-- A segment of the old log ends where its seqs stop rising (a later tick
-- stamped a transaction that committed late) or at 64 positions.
WITH steps AS (
    SELECT position, seq,
           CASE WHEN seq < lag(seq) OVER (ORDER BY position) THEN 1 ELSE 0 END AS fall
      FROM @store@.positions),
runs AS (
    SELECT position, seq, sum(fall) OVER (ORDER BY position) AS run FROM steps),
numbered AS (
    SELECT position, seq, run, row_number() OVER (PARTITION BY run ORDER BY position) AS n FROM runs)
INSERT INTO @store@.log_segments (last_position, max_seq, seqs)
SELECT max(position), max(seq), array_agg(seq ORDER BY position)
  FROM numbered
 GROUP BY run, (n - 1) / 64;

DROP TABLE @store@.positions;
