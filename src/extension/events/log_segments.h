/*-------------------------------------------------------------------------
 *
 * log_segments.h
 *	  SQL fragments for reading the global log kept in segments (store step
 *	  12, src/extension/store/0012_log_segments.sql): a row of log_segments
 *	  holds up to RF_SEGMENT_MAX positions in a row, as its last position
 *	  and the seqs of its events in position order, which is ascending seq
 *	  order (a tick stamps in seq order; a segment never spans two ticks).
 *
 *	  Each fragment takes the qualified table as it appears in its statement
 *	  ("%s.log_segments", or "%1$s.log_segments" in a statement that numbers
 *	  its arguments), and names its own rows g (and u), so a statement uses
 *	  at most one of them per query level.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_LOG_SEGMENTS_H
#define RILLFLOW_LOG_SEGMENTS_H

/* Most positions one segment holds; the tick splits a larger stamp. */
#define RF_SEGMENT_MAX 64
#define RF_SEGMENT_MAX_SQL "64"

/*
 * The log as a row per position, from the segments that `where` keeps (on
 * the segment s): FROM this, the columns RF_SEGMENT_POSITION and u.seq.
 * ORDER BY RF_SEGMENT_ORDER is position order. The segments come from a
 * subquery with its own ORDER BY, which the planner keeps whole: its rows
 * arrive in order (by the primary key, or a sort of the segments alone), so
 * only each segment's rows are sorted. Joined flat, the planner could sort
 * every row of the range, or hash-join them to the events, before the first
 * row comes out.
 */
#define RF_SEGMENT_ROWS(segments, where) \
	"(SELECT s.last_position, s.seqs FROM " segments " s WHERE " where \
	" ORDER BY s.last_position) g CROSS JOIN LATERAL pg_catalog.unnest(g.seqs) WITH ORDINALITY AS u(seq, o)"
#define RF_SEGMENT_POSITION \
	"(g.last_position OPERATOR(pg_catalog.-) pg_catalog.cardinality(g.seqs) OPERATOR(pg_catalog.+) u.o)"
#define RF_SEGMENT_ORDER "g.last_position, u.o"

/* The segments that hold positions after `after` (on s), and those positions (on g and u). */
#define RF_SEGMENTS_AFTER(after) "s.last_position OPERATOR(pg_catalog.>) " after
#define RF_POSITIONS_AFTER(after) RF_SEGMENT_POSITION " OPERATOR(pg_catalog.>) " after

/*
 * The same as a derived table with the columns position, seq, segment and
 * o: ORDER BY segment, o is position order.
 */
#define RF_SEGMENT_TABLE(segments, segment_where, row_where) \
	"(SELECT " RF_SEGMENT_POSITION " AS position, u.seq, g.last_position AS segment, u.o " \
	"FROM " RF_SEGMENT_ROWS(segments, segment_where) " WHERE " row_where ")"

/*
 * The seq at position `pos` (an expression of the outer query), as a
 * LATERAL subquery with the column seq: no row for a position the log does
 * not have.
 */
#define RF_SEQ_AT(segments, pos) \
	"LATERAL (SELECT g.seqs[(pg_catalog.cardinality(g.seqs) OPERATOR(pg_catalog.-) " \
	"(g.last_position OPERATOR(pg_catalog.-) (" pos ")))::pg_catalog.int4] AS seq " \
	"FROM " segments " g WHERE g.last_position OPERATOR(pg_catalog.>=) (" pos ") " \
	"AND (" pos ") OPERATOR(pg_catalog.>) 0 ORDER BY g.last_position LIMIT 1)"

/*
 * The position of the event `seq` (an expression of the outer query), NULL
 * before its tick: the first segment by max_seq from seq up that holds it,
 * found in each by binary search (log_segments.c).
 */
#define RF_POSITION_OF(segments, seq) \
	"(SELECT g.last_position OPERATOR(pg_catalog.-) pg_catalog.cardinality(g.seqs) " \
	"OPERATOR(pg_catalog.+) x.i " \
	"FROM " segments " g CROSS JOIN LATERAL (SELECT rillflow._segment_index(g.seqs, " seq ") AS i) x " \
	"WHERE g.max_seq OPERATOR(pg_catalog.>=) " seq " AND x.i IS NOT NULL ORDER BY g.max_seq LIMIT 1)"

/* The head: the last position. */
#define RF_SEGMENTS_HEAD(segments) \
	"(SELECT COALESCE(pg_catalog.max(g.last_position), 0) FROM " segments " g)"

#endif							/* RILLFLOW_LOG_SEGMENTS_H */
