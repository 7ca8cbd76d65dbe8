-- Store step 12 (0.2.0): the global log's positions in segments.
--
-- Step 1 kept a row per position (positions: position, seq, with an index
-- on each), written by every tick: about 190 bytes of WAL per event, a
-- fifth of the WAL of an append in batches (docs/performance.md, "Positions
-- in segments"). A segment is one row for up to 64 positions in a row:
-- its last position, and the seqs of its events in position order, so the
-- first position is last_position - cardinality(seqs) + 1 and the segments
-- tile 1..head with no gap. A tick writes one segment per 64 events it
-- stamps (events/sequencer.c). Position -> seq: the first segment whose
-- last_position is at least the position. Seq -> position: the first
-- segment, by max_seq, at or above the seq that holds it (a segment holds
-- seqs at most max_seq; segments hold disjoint sets of seqs).

CREATE TABLE @store@.log_segments (
    last_position   bigint PRIMARY KEY,
    max_seq         bigint NOT NULL,
    seqs            bigint[] NOT NULL
);
CREATE INDEX log_segments_max_seq_idx ON @store@.log_segments (max_seq);

-- A tick that is running now writes positions until it commits; wait for it
-- and keep the next one out, so the copy below has every position.
LOCK TABLE @store@.positions IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO @store@.log_segments (last_position, max_seq, seqs)
SELECT max(position), max(seq), array_agg(seq ORDER BY position)
  FROM @store@.positions
 GROUP BY (position - 1) / 64;

DROP TABLE @store@.positions;
