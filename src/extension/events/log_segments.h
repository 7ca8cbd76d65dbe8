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
 * The log as a row per position: FROM this, the columns
 * RF_SEGMENT_POSITION and u.seq; ORDER BY RF_SEGMENT_ORDER is position
 * order, and lets the planner keep the segments' index order (a sort within
 * each segment only).
 */
#define RF_SEGMENT_ROWS(segments) \
	segments " g CROSS JOIN LATERAL pg_catalog.unnest(g.seqs) WITH ORDINALITY AS u(seq, o)"
#define RF_SEGMENT_POSITION \
	"(g.last_position OPERATOR(pg_catalog.-) pg_catalog.cardinality(g.seqs) OPERATOR(pg_catalog.+) u.o)"
#define RF_SEGMENT_ORDER "g.last_position, u.o"

/*
 * Positions after `after`: the segments' index range, and the positions of
 * the first segment before `after` left out.
 */
#define RF_SEGMENTS_AFTER(after) \
	"g.last_position OPERATOR(pg_catalog.>) " after " AND " RF_SEGMENT_POSITION " OPERATOR(pg_catalog.>) " after

/*
 * The same as a derived table with the columns position, seq, segment and
 * o, for the rows of the segments that `where` keeps: ORDER BY segment, o
 * is position order. The planner pulls it up into the outer query, so its
 * position order still comes from the segments' index.
 */
#define RF_SEGMENT_TABLE(segments, where) \
	"(SELECT " RF_SEGMENT_POSITION " AS position, u.seq, g.last_position AS segment, u.o " \
	"FROM " RF_SEGMENT_ROWS(segments) " WHERE " where ")"

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
