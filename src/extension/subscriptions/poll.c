/*-------------------------------------------------------------------------
 *
 * poll.c
 *	  rillflow.subscription_poll and rillflow.subscription_ack, in C with
 *	  statements prepared once per backend and store (core/plans.h): the
 *	  hot path of every consumer. The model and its invariants are in this
 *	  folder's README; in short:
 *
 *	  - A poll holds its group's row (FOR NO KEY UPDATE SKIP LOCKED) while
 *	    its transaction runs, to move the frontier; another poll of the group
 *	    meanwhile hands out what is outstanding (unless the group bounds what
 *	    is in flight) or retries for ~50 ms, never waiting on the row.
 *	  - Outstanding rows are taken FOR UPDATE SKIP LOCKED: a poll never waits
 *	    on an ack, and never hands out a row an ack in progress holds.
 *	  - In an unordered group (and the single consumer) the events a poll
 *	    takes past the frontier are written as ONE outstanding row, a batch
 *	    (column batch: the positions, sorted; position: the lowest), leased
 *	    to the consumer; an ack of the whole batch deletes that one row. A
 *	    batch whose lease ran out, or any batch of a group that became
 *	    ordered, is split into one row per event at the next poll (under the
 *	    group's row), and from then on its events go as any redelivery does:
 *	    deliveries + 1, dead-lettered after max_deliveries.
 *	  - Ordered groups take events into one row per event (pending) and hand
 *	    out only a stream's lowest outstanding event.
 *	  - The frontier moves only over positions at or below the committed
 *	    head, read after the wait read_all makes (log_sync.c).
 *	  - The type filter is on the type as read (upcast): the stored types
 *	    whose chain can end in a wanted type are read, and each event's own
 *	    chain decides (rillflow._upcast_type_in).
 *
 *	  The argument rules and errors are the SQL ones of rules.sql and
 *	  poll.sql, called through prepared statements, so each is written once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "core/errcodes.h"
#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/log_segments.h"
#include "events/log_sync.h"
#include "evolution/evolution.h"
#include "subscriptions/subscriptions.h"

PG_FUNCTION_INFO_V1(rillflow_subscription_poll);
PG_FUNCTION_INFO_V1(rillflow_subscription_ack);

/* rillflow._subscription_max_batch() */
#define RF_SUB_MAX_BATCH 10000
/* A poll that finds its group's row taken retries this often, 0.2 ms apart (~50 ms). */
#define RF_SUB_BUSY_TRIES 250

/* The rules (rules.sql, poll.sql), which raise the documented errors. */
static const RfPlanSpec rf_sub_args_plan = {
	"SELECT rillflow._subscription_group_key($1), rillflow._subscription_consumer($2)",
	2, {TEXTOID, TEXTOID}
};
static const RfPlanSpec rf_sub_lease_rule_plan = {
	"SELECT rillflow._check_subscription_lease($1)", 1, {INTERVALOID}
};
static const RfPlanSpec rf_sub_name_rule_plan = {
	"SELECT rillflow._check_subscription_name('subscription name', $1)", 1, {TEXTOID}
};
static const RfPlanSpec rf_sub_positions_rule_plan = {
	"SELECT rillflow._check_positions($1)", 1, {INT8ARRAYOID}
};
static const RfPlanSpec rf_sub_not_found_plan = {
	"SELECT rillflow._subscription_not_found($1, $2)", 2, {NAMEOID, TEXTOID}
};
static const RfPlanSpec rf_sub_lease_lost_plan = {
	"SELECT rillflow._subscription_lease_lost($1, $2, $3, $4, $5)",
	5, {NAMEOID, TEXTOID, TEXTOID, TEXTOID, INT8OID}
};

/* The statements on a store. */
static const RfPlanSpec rf_sub_get_plan = {
	"SELECT s.start_from, s.event_types, s.categories, s.stream_ids, s.headers FROM %1$s.subscriptions s WHERE s.name = $1", 1, {TEXTOID}
};
static const RfPlanSpec rf_sub_lock_plan = {
	"SELECT g.frontier, g.ordered, g.max_deliveries, g.max_in_flight, g.lease_owner, g.lease_expires_at "
	"  FROM %1$s.subscription_groups g WHERE g.subscription = $1 AND g.group_name = $2 "
	"   FOR NO KEY UPDATE SKIP LOCKED",
	2, {TEXTOID, TEXTOID}
};
static const RfPlanSpec rf_sub_settings_plan = {
	"SELECT g.ordered, g.max_deliveries, g.max_in_flight "
	"  FROM %1$s.subscription_groups g WHERE g.subscription = $1 AND g.group_name = $2",
	2, {TEXTOID, TEXTOID}
};
/* A row another poll holds is not inserted over (ON CONFLICT would wait). */
static const RfPlanSpec rf_sub_ensure_plan = {
	"INSERT INTO %1$s.subscription_groups (subscription, group_name, frontier) VALUES ($1, $2, $3) "
	"    ON CONFLICT (subscription, group_name) DO NOTHING",
	3, {TEXTOID, TEXTOID, INT8OID}
};
static const RfPlanSpec rf_sub_take_lease_plan = {
	"UPDATE %1$s.subscription_groups SET lease_owner = $3, lease_expires_at = $4, updated_at = $5 "
	" WHERE subscription = $1 AND group_name = $2",
	5, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};
/* last seen, written at most once a second per consumer */
static const RfPlanSpec rf_sub_seen_plan = {
	"INSERT INTO %1$s.subscription_consumers AS c (subscription, group_name, consumer, last_seen) "
	"VALUES ($1, $2, $3, $4) "
	"ON CONFLICT (subscription, group_name, consumer) DO UPDATE SET last_seen = excluded.last_seen "
	" WHERE c.last_seen < excluded.last_seen - interval '1 second'",
	4, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

/*
 * Events outstanding, events in flight (live lease), per-event rows due for
 * the dead letters, batches to split ($5: every batch, for an ordered group;
 * else those whose lease ran out, and pending ones larger than $6, this
 * poll's room), pending batches, and the committed head.
 */
static const RfPlanSpec rf_sub_counts_plan = {
	"SELECT coalesce(sum(coalesce(cardinality(o.batch), 1)), 0)::bigint, "
	"       coalesce(sum(coalesce(cardinality(o.batch), 1)) "
	"                FILTER (WHERE o.consumer IS NOT NULL AND o.lease_expires_at > $3), 0)::bigint, "
	"       count(*) FILTER (WHERE o.batch IS NULL AND o.deliveries >= $4 "
	"                          AND (o.consumer IS NULL OR o.lease_expires_at <= $3) "
	"                          AND (o.available_at IS NULL OR o.available_at <= $3)), "
	"       count(*) FILTER (WHERE o.batch IS NOT NULL AND ($5 OR o.lease_expires_at <= $3 "
	"                          OR (o.consumer IS NULL AND cardinality(o.batch) > $6))), "
	"       count(*) FILTER (WHERE o.batch IS NOT NULL AND o.consumer IS NULL), "
	"       coalesce((SELECT head FROM %1$s.log_state), 0)::bigint "
	"  FROM %1$s.subscription_outstanding o WHERE o.subscription = $1 AND o.group_name = $2",
	6, {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID, BOOLOID, INT4OID}
};

/*
 * Split batches into one row per event, keeping consumer, lease and
 * deliveries ($4: every batch, else those whose lease ran out and pending
 * ones larger than $5). A batch an ack in progress holds is skipped.
 */
#define RF_SUB_SPLIT_SQL(seq_at) \
	"WITH cand AS (" \
	"    SELECT x.ctid AS row_id FROM %1$s.subscription_outstanding x " \
	"     WHERE x.subscription = $1 AND x.group_name = $2 AND x.batch IS NOT NULL " \
	"       AND ($4 OR x.lease_expires_at <= $3 OR (x.consumer IS NULL AND cardinality(x.batch) > $5)) " \
	"       FOR UPDATE OF x SKIP LOCKED), " \
	"b AS (" \
	"    DELETE FROM %1$s.subscription_outstanding o " \
	"     WHERE o.ctid = ANY ((SELECT array_agg(cand.row_id) FROM cand)::tid[]) " \
	"    RETURNING o.batch, o.consumer, o.deliveries, o.lease_expires_at) " \
	"INSERT INTO %1$s.subscription_outstanding " \
	"       (subscription, group_name, position, stream_id, consumer, deliveries, lease_expires_at) " \
	"SELECT $1, $2, q.pos, e.stream_id, b.consumer, b.deliveries, b.lease_expires_at " \
	"  FROM b CROSS JOIN LATERAL unnest(b.batch) AS q(pos) " \
	seq_at \
	"  CROSS JOIN LATERAL (SELECT * FROM %1$s.events e1 WHERE e1.seq = p.seq LIMIT 1) e"

static const RfPlanSpec rf_sub_split_plan = {
	RF_SUB_SPLIT_SQL("  CROSS JOIN " RF_SEQ_AT("%1$s.log_segments", "q.pos") " p "),
	5, {TEXTOID, TEXTOID, TIMESTAMPTZOID, BOOLOID, INT4OID},
	.positions_sql = RF_SUB_SPLIT_SQL("  JOIN %1$s.positions p ON p.position = q.pos ")
};

/* Events delivered max_deliveries times whose last lease ran out. */
static const RfPlanSpec rf_sub_dead_plan = {
	"WITH dead AS ("
	"    DELETE FROM %1$s.subscription_outstanding o "
	"     WHERE o.subscription = $1 AND o.group_name = $2 AND o.position IN ("
	"           SELECT x.position FROM %1$s.subscription_outstanding x "
	"            WHERE x.subscription = $1 AND x.group_name = $2 AND x.batch IS NULL "
	"              AND x.deliveries >= $4 "
	"              AND (x.consumer IS NULL OR x.lease_expires_at <= $3) "
	"              AND (x.available_at IS NULL OR x.available_at <= $3) "
	"              FOR UPDATE SKIP LOCKED) "
	"    RETURNING o.position, o.stream_id, o.deliveries, o.consumer), "
	"ins AS ("
	"    INSERT INTO %1$s.subscription_dlq (subscription, group_name, position, stream_id, deliveries, "
	"                                       last_consumer, dead_at) "
	"    SELECT $1, $2, d.position, d.stream_id, d.deliveries, d.consumer, $3 FROM dead d "
	"    ON CONFLICT DO NOTHING RETURNING 1) "
	"UPDATE %1$s.subscription_groups SET dead_lettered = dead_lettered + (SELECT count(*) FROM dead) "
	" WHERE subscription = $1 AND group_name = $2 AND (SELECT count(*) FROM dead) > 0 "
	"RETURNING (SELECT count(*) FROM dead)",
	4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID}
};

/*
 * The candidates past the frontier ($3) up to $4, in position order, with
 * the subscription's filters: $5 event types (as read), $6 the stored types
 * to read when upcasters may rename (rf_upcast_source_types; each event's
 * chain then decides; NULL: the stored type is the type as read), $7
 * categories, $8 stream ids, $9 headers (containment). The events are
 * looked up per position in a subquery the planner cannot flatten, so the
 * plan is always the positions' index in order, stopping at the LIMIT,
 * whatever the statistics say. Every per-position lookup of an event here
 * is LIMIT 1: a seq is in the hot table or in the archive (its child), never
 * both, so a hot event's lookup stops before the archive's index.
 */
#define RF_SUB_CANDIDATE_FILTERS \
	"       AND ($5::text[] IS NULL OR CASE WHEN $6::text[] IS NULL THEN x.type = ANY ($5) " \
	"            ELSE x.type = ANY ($6) AND rillflow._upcast_type_in(x.type, x.event_version, $5) END) " \
	"       AND ($7::text[] IS NULL OR EXISTS (" \
	"             SELECT FROM %1$s.stream_categories sc " \
	"              WHERE sc.stream_id = x.stream_id AND sc.category = ANY ($7))) " \
	"       AND ($8::uuid[] IS NULL OR x.stream_id = ANY ($8)) " \
	"       AND ($9::jsonb IS NULL OR x.headers @> $9) "
#define RF_SUB_CANDIDATE_COLUMNS_AFTER(columns, frontier) \
	"    SELECT " columns \
	"      FROM " RF_SEGMENT_TABLE("%1$s.log_segments", \
								   RF_SEGMENTS_AFTER(frontier) " AND s.last_position < $4 + " RF_SEGMENT_MAX_SQL, \
								   RF_POSITIONS_AFTER(frontier) " AND " RF_SEGMENT_POSITION " <= $4") " p " \
	"     CROSS JOIN LATERAL (SELECT e.* FROM %1$s.events e WHERE e.seq = p.seq LIMIT 1) x " \
	"     WHERE true " RF_SUB_CANDIDATE_FILTERS \
	"     ORDER BY p.segment, p.o LIMIT $10"
/* The same on a store whose log is the positions table (step 11 or below). */
#define RF_SUB_CANDIDATE_COLUMNS_AFTER_POSITIONS(columns, frontier) \
	"    SELECT " columns \
	"      FROM %1$s.positions p " \
	"     CROSS JOIN LATERAL (SELECT e.* FROM %1$s.events e WHERE e.seq = p.seq LIMIT 1) x " \
	"     WHERE p.position > " frontier " AND p.position <= $4 " RF_SUB_CANDIDATE_FILTERS \
	"     ORDER BY p.position LIMIT $10"
#define RF_SUB_ENVELOPE_COLUMNS \
	"p.position, x.stream_id, x.version, x.type, x.event_version, x.body, x.headers, " \
	"x.event_id, x.causation_id, x.correlation_id, x.created_at "
#define RF_SUB_CANDIDATES(cand) cand(RF_SUB_ENVELOPE_COLUMNS, "$3")

/*
 * The envelopes of the events at an array of positions, in position order:
 * the segments from the lowest position to the highest in one range of
 * their primary key, unnested and joined to the positions (a hash of at most
 * a batch), and each event by seq (LIMIT 1: hot or archived, never both).
 * One probe of the segments per position cost twice as much for a batch of
 * 100; a batch whose events lie far apart (a subscription to a rare type)
 * unnests the segments its prefill read.
 */
#define RF_SUB_EVENTS_AT(positions) \
	"SELECT q.pos, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers, " \
	"       e.event_id, e.causation_id, e.correlation_id, e.created_at " \
	"  FROM (SELECT DISTINCT pos FROM unnest(" positions ") AS a(pos)) q " \
	"  JOIN " RF_SEGMENT_TABLE("%1$s.log_segments", \
							 "s.last_position >= (SELECT min(x) FROM unnest(" positions ") AS x) " \
							 "AND s.last_position < (SELECT max(x) FROM unnest(" positions ") AS x) + " \
							 RF_SEGMENT_MAX_SQL, "true") " p ON p.position = q.pos " \
	"  CROSS JOIN LATERAL (SELECT * FROM %1$s.events e1 WHERE e1.seq = p.seq LIMIT 1) e " \
	" ORDER BY q.pos"
#define RF_SUB_EVENTS_AT_POSITIONS(positions) \
	"SELECT p.position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers, " \
	"       e.event_id, e.causation_id, e.correlation_id, e.created_at " \
	"  FROM %1$s.positions p " \
	"  CROSS JOIN LATERAL (SELECT * FROM %1$s.events e1 WHERE e1.seq = p.seq LIMIT 1) e " \
	" WHERE p.position = ANY (" positions ") " \
	" ORDER BY p.position"

#define RF_SUB_FILTER_TYPES TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, UUIDARRAYOID, JSONBOID, INT4OID

/*
 * An ordered group: take matching events past the frontier ($3) up to $4
 * into pending rows, at most $6 of them, and move the frontier.
 */
#define RF_SUB_FILL_SQL(cand) \
	"WITH c AS (" cand("p.position, x.stream_id ", "$3") "), " \
	"ins AS (" \
	"    INSERT INTO %1$s.subscription_outstanding (subscription, group_name, position, stream_id) " \
	"    SELECT $1, $2, c.position, c.stream_id FROM c RETURNING position) " \
	"UPDATE %1$s.subscription_groups " \
	"   SET frontier = CASE WHEN (SELECT count(*) FROM ins) = $10 THEN (SELECT max(position) FROM ins) ELSE $4 END, " \
	"       updated_at = $11 " \
	" WHERE subscription = $1 AND group_name = $2"

static const RfPlanSpec rf_sub_fill_plan = {
	RF_SUB_FILL_SQL(RF_SUB_CANDIDATE_COLUMNS_AFTER),
	11, {TEXTOID, TEXTOID, INT8OID, INT8OID, RF_SUB_FILTER_TYPES, TIMESTAMPTZOID},
	.positions_sql = RF_SUB_FILL_SQL(RF_SUB_CANDIDATE_COLUMNS_AFTER_POSITIONS)
};

/*
 * An unordered group: take up to $10 matching events past the frontier as
 * one batch leased to $11 until $12, move the frontier, and return them
 * (envelope columns).
 */
#define RF_SUB_BATCH_SQL(cand) \
	"WITH c AS (" RF_SUB_CANDIDATES(cand) "), " \
	"ins AS (" \
	"    INSERT INTO %1$s.subscription_outstanding " \
	"           (subscription, group_name, position, stream_id, consumer, deliveries, lease_expires_at, batch) " \
	"    SELECT $1, $2, min(c.position), (array_agg(c.stream_id ORDER BY c.position))[1], $11, 1, $12, " \
	"           array_agg(c.position ORDER BY c.position) " \
	"      FROM c HAVING count(*) > 0), " \
	"fr AS (" \
	"    UPDATE %1$s.subscription_groups " \
	"       SET frontier = CASE WHEN (SELECT count(*) FROM c) = $10 THEN (SELECT max(position) FROM c) ELSE $4 END, " \
	"           updated_at = $13 " \
	"     WHERE subscription = $1 AND group_name = $2) " \
	"SELECT * FROM c ORDER BY position"

static const RfPlanSpec rf_sub_batch_plan = {
	RF_SUB_BATCH_SQL(RF_SUB_CANDIDATE_COLUMNS_AFTER),
	13, {TEXTOID, TEXTOID, INT8OID, INT8OID, RF_SUB_FILTER_TYPES, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
	.positions_sql = RF_SUB_BATCH_SQL(RF_SUB_CANDIDATE_COLUMNS_AFTER_POSITIONS)
};

/*
 * An unordered group: after this poll's own batch, pending batches of $11
 * events each (consumer NULL), up to $10 events past the frontier as this
 * poll's statement left it: the group's other consumers claim them without
 * the group's row (rf_sub_claim_plan) while a poll holds it.
 */
#define RF_SUB_PREFILL_SQL(cand) \
	"WITH c AS (" cand("p.position, x.stream_id ", \
												 "(SELECT g.frontier FROM %1$s.subscription_groups g " \
												 "WHERE g.subscription = $1 AND g.group_name = $2)") "), " \
	"n AS (SELECT c.position, c.stream_id, (row_number() OVER (ORDER BY c.position) - 1) / $11 AS b FROM c), " \
	"ins AS (" \
	"    INSERT INTO %1$s.subscription_outstanding " \
	"           (subscription, group_name, position, stream_id, deliveries, batch) " \
	"    SELECT $1, $2, min(n.position), (array_agg(n.stream_id ORDER BY n.position))[1], 0, " \
	"           array_agg(n.position ORDER BY n.position) " \
	"      FROM n GROUP BY n.b) " \
	"UPDATE %1$s.subscription_groups " \
	"   SET frontier = CASE WHEN (SELECT count(*) FROM c) = $10 THEN (SELECT max(position) FROM c) ELSE $4 END, " \
	"       updated_at = $12 " \
	" WHERE subscription = $1 AND group_name = $2 AND EXISTS (SELECT FROM c)"

static const RfPlanSpec rf_sub_prefill_plan = {
	RF_SUB_PREFILL_SQL(RF_SUB_CANDIDATE_COLUMNS_AFTER),
	12, {TEXTOID, TEXTOID, INT8OID, INT8OID, RF_SUB_FILTER_TYPES, INT4OID, TIMESTAMPTZOID},
	.positions_sql = RF_SUB_PREFILL_SQL(RF_SUB_CANDIDATE_COLUMNS_AFTER_POSITIONS)
};

/*
 * Claim the oldest pending batch of at most $5 events for $3 until $4 and
 * return its events, in a group that is (still) unordered and unbounded and
 * ($7: without the group's row) has nothing due to be delivered again at $6
 * (a lease run out, an event given back): those go first, by a poll that
 * holds the group's row. Safe
 * without the group's row: a batch another transaction holds is skipped.
 */
#define RF_SUB_CLAIM_SQL(at) \
	"WITH cand AS (" \
	"    SELECT o.ctid AS row_id FROM %1$s.subscription_outstanding o " \
	"     WHERE o.subscription = $1 AND o.group_name = $2 AND o.batch IS NOT NULL AND o.consumer IS NULL " \
	"       AND cardinality(o.batch) <= $5 " \
	"       AND EXISTS (SELECT FROM %1$s.subscription_groups g " \
	"                    WHERE g.subscription = $1 AND g.group_name = $2 " \
	"                      AND NOT g.ordered AND g.max_in_flight IS NULL) " \
	"       AND NOT ($7 AND EXISTS (SELECT FROM %1$s.subscription_outstanding x " \
	"                        WHERE x.subscription = $1 AND x.group_name = $2 " \
	"                          AND ((x.consumer IS NOT NULL AND x.lease_expires_at <= $6) " \
	"                            OR (x.batch IS NULL AND x.consumer IS NULL " \
	"                                AND (x.available_at IS NULL OR x.available_at <= $6))))) " \
	"     ORDER BY o.subscription, o.group_name, o.position " \
	"     LIMIT 1 " \
	"       FOR UPDATE OF o SKIP LOCKED), " \
	"d AS (" \
	"    UPDATE %1$s.subscription_outstanding o " \
	"       SET consumer = $3, deliveries = 1, lease_expires_at = $4 " \
	"     WHERE o.ctid = ANY ((SELECT array_agg(cand.row_id) FROM cand)::tid[]) " \
	"    RETURNING o.batch) " \
	at("(SELECT d.batch FROM d)::bigint[]")

static const RfPlanSpec rf_sub_claim_plan = {
	RF_SUB_CLAIM_SQL(RF_SUB_EVENTS_AT),
	7, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID, BOOLOID},
	.positions_sql = RF_SUB_CLAIM_SQL(RF_SUB_EVENTS_AT_POSITIONS)
};

/* Pending batches of a group, and the committed head. */
static const RfPlanSpec rf_sub_pending_plan = {
	"SELECT count(*), coalesce((SELECT head FROM %1$s.log_state), 0)::bigint "
	"  FROM %1$s.subscription_outstanding o "
	" WHERE o.subscription = $1 AND o.group_name = $2 AND o.batch IS NOT NULL AND o.consumer IS NULL",
	2, {TEXTOID, TEXTOID}
};

/*
 * Pending batches kept ahead for competing consumers; a poll that took one
 * tops them up when the group's row is free.
 */
#define RF_SUB_PREFILL_BATCHES 12
#define RF_SUB_PREFILL_LOW 4

/*
 * Hand out up to $7 deliverable per-event rows to $4: never delivered,
 * nacked and due, or whose lease ran out (deliveries + 1), oldest first; in
 * an ordered group ($6) only a stream's lowest outstanding event. Rows
 * another transaction holds are skipped. Safe without the group's row.
 *
 * Planner notes: the outstanding rows change too fast for autovacuum's
 * analyse, so the plan must be right without statistics. ORDER BY the whole
 * primary key makes its index the cheapest ordered path, and the rows just
 * locked are updated by ctid (they cannot move while this statement holds
 * them). The events are read by RF_SUB_EVENTS_AT: no unnest, join and
 * sort (a quarter faster at 100 events; the claim reads its batch the same
 * way).
 */
#define RF_SUB_DELIVER_SQL(at) \
	"WITH cand AS (" \
	"    SELECT o.ctid AS row_id FROM %1$s.subscription_outstanding o " \
	"     WHERE o.subscription = $1 AND o.group_name = $2 AND o.batch IS NULL " \
	"       AND o.deliveries < $5 " \
	"       AND (o.consumer IS NULL OR o.lease_expires_at <= $3) " \
	"       AND (o.available_at IS NULL OR o.available_at <= $3) " \
	"       AND (NOT $6 OR NOT EXISTS (" \
	"             SELECT FROM %1$s.subscription_outstanding x " \
	"              WHERE x.subscription = o.subscription AND x.group_name = o.group_name " \
	"                AND x.stream_id = o.stream_id AND x.position < o.position)) " \
	"     ORDER BY o.subscription, o.group_name, o.position " \
	"     LIMIT $7 " \
	"       FOR UPDATE OF o SKIP LOCKED), " \
	"d AS (" \
	"    UPDATE %1$s.subscription_outstanding o " \
	"       SET consumer = $4, deliveries = o.deliveries + 1, lease_expires_at = $3 + $8, available_at = NULL " \
	"     WHERE o.ctid = ANY ((SELECT array_agg(cand.row_id) FROM cand)::tid[]) " \
	"    RETURNING o.position) " \
	at("ARRAY(SELECT d.position FROM d)")

static const RfPlanSpec rf_sub_deliver_plan = {
	RF_SUB_DELIVER_SQL(RF_SUB_EVENTS_AT),
	8, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT4OID, BOOLOID, INT4OID, INTERVALOID},
	.positions_sql = RF_SUB_DELIVER_SQL(RF_SUB_EVENTS_AT_POSITIONS)
};

/* Acks. Whole batches of this consumer's live lease, all of whose positions are acked. */
static const RfPlanSpec rf_sub_ack_batches_plan = {
	"DELETE FROM %1$s.subscription_outstanding o "
	" WHERE o.subscription = $1 AND o.group_name = $2 AND o.position = ANY ($3) "
	"   AND o.batch IS NOT NULL AND o.batch <@ $3 "
	"   AND o.consumer = $4 AND o.lease_expires_at > clock_timestamp() "
	"RETURNING o.batch",
	4, {TEXTOID, TEXTOID, INT8ARRAYOID, TEXTOID}
};
static const RfPlanSpec rf_sub_ack_events_plan = {
	"DELETE FROM %1$s.subscription_outstanding o "
	" WHERE o.subscription = $1 AND o.group_name = $2 AND o.position = ANY ($3) AND o.batch IS NULL "
	"   AND o.consumer = $4 AND o.lease_expires_at > clock_timestamp() "
	"RETURNING o.position",
	4, {TEXTOID, TEXTOID, INT8ARRAYOID, TEXTOID}
};
/* Part of a batch: its rows, locked, then each rewritten (or deleted) by ctid. */
static const RfPlanSpec rf_sub_ack_partial_plan = {
	"SELECT o.ctid, o.batch FROM %1$s.subscription_outstanding o "
	" WHERE o.subscription = $1 AND o.group_name = $2 AND o.batch IS NOT NULL AND o.batch && $3 "
	"   AND o.consumer = $4 AND o.lease_expires_at > clock_timestamp() "
	"   FOR UPDATE",
	4, {TEXTOID, TEXTOID, INT8ARRAYOID, TEXTOID}
};
static const RfPlanSpec rf_sub_batch_rest_plan = {
	"UPDATE %1$s.subscription_outstanding SET batch = $2, position = $2[1] WHERE ctid = $1",
	2, {TIDOID, INT8ARRAYOID}
};
static const RfPlanSpec rf_sub_batch_delete_plan = {
	"DELETE FROM %1$s.subscription_outstanding WHERE ctid = $1", 1, {TIDOID}
};

static SPIPlanPtr
rf_rule_plan(const RfPlanSpec *spec)
{
	return rf_keep_plan(InvalidOid, spec, "");
}

static void
rf_sub_rule(const RfPlanSpec *spec, Datum *values, const char *nulls)
{
	rf_execute_plan(rf_rule_plan(spec), values, nulls, false, 0);
}

static Datum
rf_sub_getbin(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * Fast acceptance of the argument rules: a value these accept, the SQL rule
 * accepts too; any other value goes to the SQL rule, which raises the
 * documented error (or accepts it after all). So each rule and its messages
 * stay written once, in SQL, and a valid call runs no PL/pgSQL.
 */
static bool
rf_ascii_name_ok(text *t, int maxlen, bool first_letter, const char *extra)
{
	const char *p = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);

	if (n < 1 || n > maxlen)
		return false;
	for (int i = 0; i < n; i++)
	{
		char		c = p[i];
		bool		letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');

		if (i == 0 && first_letter && !letter)
			return false;
		if (!letter && !(c >= '0' && c <= '9') && (c == '\0' || strchr(extra, c) == NULL))
			return false;
	}
	return true;
}

/* A subscription or group name (rillflow._check_subscription_name). */
static bool
rf_sub_name_ok(text *t)
{
	return rf_ascii_name_ok(t, 63, true, "_-");
}

/* rillflow._check_subscription_lease: from 100 milliseconds to 1 day. */
static bool
rf_sub_lease_ok(Interval *lease)
{
	return lease->month == 0 &&
		((lease->day == 0 && lease->time >= 100 * INT64CONST(1000) && lease->time <= USECS_PER_DAY) ||
		 (lease->day == 1 && lease->time == 0));
}

/* rillflow._check_positions: non-empty, one dimension, no NULL. */
static bool
rf_sub_positions_ok(ArrayType *a)
{
	return ARR_NDIM(a) == 1 && ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)) > 0 && !array_contains_nulls(a);
}

/* The group key ('' for the single consumer) and the consumer; 22004/22023. */
static void
rf_sub_args(FunctionCallInfo fcinfo, int group_arg, int consumer_arg, text **grp, text **me)
{
	Datum		values[2];
	char		nulls[2];
	bool		isnull;

	/* rillflow._subscription_group_key, rillflow._subscription_consumer */
	if ((PG_ARGISNULL(group_arg) || rf_sub_name_ok(PG_GETARG_TEXT_PP(group_arg))) &&
		(PG_ARGISNULL(consumer_arg) || rf_ascii_name_ok(PG_GETARG_TEXT_PP(consumer_arg), 128, false, "_.:@-")))
	{
		*grp = PG_ARGISNULL(group_arg) ? cstring_to_text("") : PG_GETARG_TEXT_PP(group_arg);
		*me = PG_ARGISNULL(consumer_arg) ? cstring_to_text(psprintf("session-%d", MyProcPid))
			: PG_GETARG_TEXT_PP(consumer_arg);
		return;
	}
	values[0] = PG_ARGISNULL(group_arg) ? (Datum) 0 : PG_GETARG_DATUM(group_arg);
	nulls[0] = PG_ARGISNULL(group_arg) ? 'n' : ' ';
	values[1] = PG_ARGISNULL(consumer_arg) ? (Datum) 0 : PG_GETARG_DATUM(consumer_arg);
	nulls[1] = PG_ARGISNULL(consumer_arg) ? 'n' : ' ';
	rf_sub_rule(&rf_sub_args_plan, values, nulls);
	*grp = DatumGetTextPCopy(rf_sub_getbin(0, 1, &isnull));
	*me = DatumGetTextPCopy(rf_sub_getbin(0, 2, &isnull));
}

/*
 * The subscription's start_from, and its filters (event_types, categories,
 * stream_ids, headers; (Datum) 0 for none, valid until SPI_finish);
 * 22004/22023 for a bad name, RF004 when there is none.
 */
static int64
rf_sub_get(const RfStore *store, FunctionCallInfo fcinfo, Datum *filters)
{
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;

	values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	if (PG_ARGISNULL(0) || !rf_sub_name_ok(PG_GETARG_TEXT_PP(0)))
		rf_sub_rule(&rf_sub_name_rule_plan, values, nulls);
	rf_run_plan(store, &rf_sub_get_plan, values, NULL, false, 0);
	if (SPI_processed == 0)
	{
		values[0] = DirectFunctionCall1(namein, CStringGetDatum(store->schema_name));
		values[1] = PG_GETARG_DATUM(0);
		rf_sub_rule(&rf_sub_not_found_plan, values, NULL);
		elog(ERROR, "rillflow._subscription_not_found returned");
	}
	if (filters != NULL)
		for (int i = 0; i < 4; i++)
		{
			filters[i] = rf_sub_getbin(0, 2 + i, &isnull);
			if (isnull)
				filters[i] = (Datum) 0;
		}
	return DatumGetInt64(rf_sub_getbin(0, 1, &isnull));
}

typedef struct RfGroup
{
	int64		frontier;
	bool		ordered;
	int32		max_deliveries;
	bool		has_max_in_flight;
	int32		max_in_flight;
	bool		has_lease;
	text	   *lease_owner;
	TimestampTz lease_expires_at;
} RfGroup;

static void
rf_sub_deliver(const RfStore *store, RfUpcasters *ups, ReturnSetInfo *rsinfo, Datum name, Datum grp,
			   Datum me, TimestampTz now, int32 max_deliveries, bool ordered, int32 room, Datum lease)
{
	Datum		values[8];

	values[0] = name;
	values[1] = grp;
	values[2] = TimestampTzGetDatum(now);
	values[3] = me;
	values[4] = Int32GetDatum(max_deliveries);
	values[5] = BoolGetDatum(ordered);
	values[6] = Int32GetDatum(room);
	values[7] = lease;
	rf_upcast_run_plan_into(ups, store, &rf_sub_deliver_plan, values, NULL, false, (Datum) 0,
							rsinfo->setResult, rsinfo->setDesc);
}

/*
 * The candidates' filters, $5 to $9 (values[4..8]): the types as read, the
 * stored types to read, categories, stream ids, headers; every other null
 * flag cleared.
 */
static void
rf_sub_filter_values(RfUpcasters *ups, const Datum *filters, Datum *values, char *nulls)
{
	memset(nulls, ' ', 13);
	values[4] = filters[0];
	values[5] = (ups != NULL && filters[0] != (Datum) 0) ? rf_upcast_source_types(ups, filters[0]) : (Datum) 0;
	values[6] = filters[1];
	values[7] = filters[2];
	values[8] = filters[3];
	for (int i = 4; i < 9; i++)
		nulls[i] = values[i] == (Datum) 0 ? 'n' : ' ';
}

/*
 * Record that the consumer was seen (for status), at most once a second:
 * the last write of this backend is remembered, so a consumer polling in a
 * loop writes its row once a second, not at every poll.
 */
static void
rf_sub_seen(const RfStore *store, Datum name, Datum grp, Datum me, TimestampTz now)
{
	static Oid	last_store = InvalidOid;
	static char *last_key = NULL;
	static TimestampTz last_at = 0;
	char	   *key = psprintf("%s\x1f%s\x1f%s", TextDatumGetCString(name), TextDatumGetCString(grp),
							   TextDatumGetCString(me));
	Datum		values[4];

	if (last_key != NULL && last_store == store->schema_oid && strcmp(last_key, key) == 0 &&
		now - last_at < USECS_PER_SEC / 2)
		return;
	values[0] = name;
	values[1] = grp;
	values[2] = me;
	values[3] = TimestampTzGetDatum(now);
	rf_run_plan(store, &rf_sub_seen_plan, values, NULL, false, 0);
	if (last_key != NULL)
		pfree(last_key);
	last_key = MemoryContextStrdup(TopMemoryContext, key);
	last_store = store->schema_oid;
	last_at = now;
}

/*
 * Claim a pending batch of at most room events; returns how many events.
 * Without the group's row (locked false), only when nothing is due to be
 * delivered again.
 */
static int64
rf_sub_claim(const RfStore *store, RfUpcasters *ups, ReturnSetInfo *rsinfo, Datum name, Datum grp,
			 Datum me, TimestampTz now, int32 room, Datum lease, bool locked)
{
	Datum		values[7];
	int64		before = tuplestore_tuple_count(rsinfo->setResult);

	values[0] = name;
	values[1] = grp;
	values[2] = me;
	values[3] = DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now), lease);
	values[4] = Int32GetDatum(room);
	values[5] = TimestampTzGetDatum(now);
	values[6] = BoolGetDatum(!locked);
	rf_upcast_run_plan_into(ups, store, &rf_sub_claim_plan, values, NULL, false, (Datum) 0,
							rsinfo->setResult, rsinfo->setDesc);
	return tuplestore_tuple_count(rsinfo->setResult) - before;
}

/*
 * Every way out of a poll: no position leaves before its tick is flushed
 * (ticks commit without waiting for it; core/shmem.h), and a transaction
 * that only polled commits without waiting for its own flush
 * (poll_commit.c).
 */
static void
rf_sub_poll_leave(bool poll_only)
{
	rf_log_make_durable();
	rf_poll_commit_end(poll_only);
}

/*
 * rillflow.subscription_poll(name text, max_count integer DEFAULT 100,
 *     group_name text DEFAULT NULL, consumer text DEFAULT NULL,
 *     lease interval DEFAULT '30 seconds') RETURNS SETOF rillflow.event_envelope
 *
 * Every way out calls rf_sub_poll_leave() first: ticks commit without
 * waiting for their flush, and no position may leave before its tick is
 * flushed (core/shmem.h).
 */
Datum
rillflow_subscription_poll(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const RfStore *store;
	text	   *grp;
	text	   *me;
	bool		single;
	int32		max_count;
	Datum		lease;
	Datum		name;
	int64		start_from;
	Datum		filters[4];
	RfGroup		g;
	RfUpcasters *ups;
	Datum		values[13];
	char		nulls[13];
	bool		isnull;
	TimestampTz now;
	int64		n_out;
	int64		n_live;
	int64		n_due_dead;
	int64		n_split;
	int64		n_pending_batches;
	int64		log_head;
	int32		room;
	int			tries;
	bool		busy_deliver = false;
	bool		busy_ordered = false;
	int32		busy_max_deliveries = 0;
	RfUpcasters *ups_busy = NULL;
	bool		poll_only;

	InitMaterializedSRF(fcinfo, 0);
	poll_only = rf_poll_commit_begin();
	store = rf_current_store();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	rf_sub_args(fcinfo, 2, 3, &grp, &me);	/* 22023 */
	single = VARSIZE_ANY_EXHDR(grp) == 0;
	if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) < 1 || PG_GETARG_INT32(1) > RF_SUB_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 PG_ARGISNULL(1)
				 ? errmsg("max_count must be from 1 to %d, not NULL", RF_SUB_MAX_BATCH)
				 : errmsg("max_count must be from 1 to %d, not %d", RF_SUB_MAX_BATCH, PG_GETARG_INT32(1))));
	max_count = PG_GETARG_INT32(1);
	values[0] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	if (PG_ARGISNULL(4) || !rf_sub_lease_ok(PG_GETARG_INTERVAL_P(4)))
		rf_sub_rule(&rf_sub_lease_rule_plan, values, PG_ARGISNULL(4) ? "n" : " ");	/* 22004/22023 */
	lease = PG_GETARG_DATUM(4);
	name = PG_GETARG_DATUM(0);
	if (PG_ARGISNULL(0) || !rf_sub_name_ok(PG_GETARG_TEXT_PP(0)))
		(void) rf_sub_get(store, fcinfo, NULL);	/* 22004/22023 */

	/*
	 * In a group, a batch pending for its consumers first: no need for the
	 * group's row (nor for the subscription's row: a claimed batch is of a
	 * subscription that exists).
	 */
	if (!single &&
		rf_sub_claim(store, rf_upcasters_acquire(store), rsinfo, name, PointerGetDatum(grp),
					 PointerGetDatum(me), GetCurrentTimestamp(), max_count, lease, false) > 0)
	{
		int64		pending;

		rf_sub_seen(store, name, PointerGetDatum(grp), PointerGetDatum(me), GetCurrentTimestamp());
		values[0] = name;
		values[1] = PointerGetDatum(grp);
		rf_run_plan(store, &rf_sub_pending_plan, values, NULL, false, 0);
		pending = DatumGetInt64(rf_sub_getbin(0, 1, &isnull));
		if (pending < RF_SUB_PREFILL_LOW)
		{
			/* Refill while the others take what is left, if the group's row is free. */
			rf_run_plan(store, &rf_sub_lock_plan, values, NULL, false, 0);
			if (SPI_processed > 0 && !DatumGetBool(rf_sub_getbin(0, 2, &isnull)))
			{
				int64		frontier = DatumGetInt64(rf_sub_getbin(0, 1, &isnull));

				(void) rf_sub_getbin(0, 4, &isnull);
				if (isnull)
				{
					(void) rf_log_sync(store, false, NULL);
					/* again, under the row: what the others took meanwhile, and the head */
					rf_run_plan(store, &rf_sub_pending_plan, values, NULL, false, 0);
					pending = DatumGetInt64(rf_sub_getbin(0, 1, &isnull));
					log_head = DatumGetInt64(rf_sub_getbin(0, 2, &isnull));
					if (log_head > frontier && pending < RF_SUB_PREFILL_BATCHES)
					{
						RfUpcasters *u = rf_upcasters_acquire(store);

						(void) rf_sub_get(store, fcinfo, filters);
						values[0] = name;
						values[1] = PointerGetDatum(grp);

						rf_sub_filter_values(u, filters, values, nulls);
						values[2] = Int64GetDatum(frontier);
						values[3] = Int64GetDatum(Min(log_head, frontier + 100000));
						values[9] = Int32GetDatum((int32) (RF_SUB_PREFILL_BATCHES - pending) * max_count);
						values[10] = Int32GetDatum(max_count);
						values[11] = TimestampTzGetDatum(GetCurrentTimestamp());
						rf_run_plan(store, &rf_sub_prefill_plan, values, nulls, false, 0);
					}
				}
			}
		}
		rf_sub_poll_leave(poll_only);
		SPI_finish();
		return (Datum) 0;
	}
	start_from = rf_sub_get(store, fcinfo, filters);	/* RF004 */

	/*
	 * The group's row, held until this poll's transaction ends: who holds it
	 * moves the frontier. When another poll of the group holds it, this one
	 * hands out what is outstanding already (unless the group bounds what is
	 * in flight), and otherwise tries again for a few milliseconds: it never
	 * waits on a lock that outlives a poll.
	 */
	values[0] = name;
	values[1] = PointerGetDatum(grp);
	for (tries = 0;; tries++)
	{
		CHECK_FOR_INTERRUPTS();
		rf_run_plan(store, &rf_sub_lock_plan, values, NULL, false, 0);
		if (SPI_processed > 0)
		{
			g.frontier = DatumGetInt64(rf_sub_getbin(0, 1, &isnull));
			g.ordered = DatumGetBool(rf_sub_getbin(0, 2, &isnull));
			g.max_deliveries = DatumGetInt32(rf_sub_getbin(0, 3, &isnull));
			g.max_in_flight = DatumGetInt32(rf_sub_getbin(0, 4, &isnull));
			g.has_max_in_flight = !isnull;
			g.lease_owner = (text *) DatumGetPointer(rf_sub_getbin(0, 5, &isnull));
			g.has_lease = !isnull;
			if (g.has_lease)
				g.lease_owner = DatumGetTextPCopy(PointerGetDatum(g.lease_owner));
			g.lease_expires_at = DatumGetTimestampTz(rf_sub_getbin(0, 6, &isnull));
			if (isnull)
				g.has_lease = false;
			break;
		}
		if (tries == 0)
		{
			rf_run_plan(store, &rf_sub_settings_plan, values, NULL, false, 0);
			if (SPI_processed == 0)
			{
				/* Create the group at its first poll. */
				values[2] = Int64GetDatum(start_from);
				rf_run_plan(store, &rf_sub_ensure_plan, values, NULL, false, 0);
				continue;
			}
			busy_ordered = DatumGetBool(rf_sub_getbin(0, 1, &isnull));
			busy_max_deliveries = DatumGetInt32(rf_sub_getbin(0, 2, &isnull));
			(void) rf_sub_getbin(0, 3, &isnull);
			busy_deliver = !single && isnull;
		}

		/*
		 * Busy: hand out what is outstanding (at the first look and every
		 * ~10 ms; a look costs more than a try for the row), else wait.
		 */
		if (busy_deliver && tries % (busy_ordered ? 50 : 5) == 0)
		{
			if (ups_busy == NULL)
				ups_busy = rf_upcasters_acquire(store);
			rf_sub_deliver(store, ups_busy, rsinfo, name, PointerGetDatum(grp), PointerGetDatum(me),
						   GetCurrentTimestamp(), busy_max_deliveries, busy_ordered, max_count, lease);
			if (tuplestore_tuple_count(rsinfo->setResult) == 0 && !busy_ordered)
				(void) rf_sub_claim(store, ups_busy, rsinfo, name, PointerGetDatum(grp), PointerGetDatum(me),
									GetCurrentTimestamp(), max_count, lease, false);
			if (tuplestore_tuple_count(rsinfo->setResult) > 0)
			{
				rf_sub_poll_leave(poll_only);
				SPI_finish();
				return (Datum) 0;
			}
		}
		if (tries >= RF_SUB_BUSY_TRIES)
		{
			rf_sub_poll_leave(poll_only);
			SPI_finish();		/* the group is busy: nothing this time */
			return (Datum) 0;
		}
		pg_usleep(200L);
	}

	/* The log covers every event committed before this call (read_all's wait). */
	(void) rf_log_sync(store, false, NULL);
	now = GetCurrentTimestamp();

	/* Without a group, one consumer at a time holds the subscription's lease. */
	if (single)
	{
		if (g.has_lease && g.lease_expires_at > now &&
			!DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID,
												  PointerGetDatum(g.lease_owner), PointerGetDatum(me))))
		{
			if (PG_ARGISNULL(3))
			{
				rf_sub_poll_leave(poll_only);
				SPI_finish();
				return (Datum) 0;
			}
			ereport(ERROR,
					(errcode(ERRCODE_RF_LEASE_LOST),
					 errmsg("subscription \"%s\" is leased to consumer \"%s\"",
							TextDatumGetCString(name), text_to_cstring(g.lease_owner)),
					 errdetail("The lease expires at %s unless its holder polls again.",
							   DatumGetCString(DirectFunctionCall1(timestamptz_out,
																		 TimestampTzGetDatum(g.lease_expires_at)))),
					 errhint("Poll with a group_name for competing consumers, or wait for the lease to expire.")));
		}
		values[2] = PointerGetDatum(me);
		values[3] = DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now), lease);
		values[4] = TimestampTzGetDatum(now);
		rf_run_plan(store, &rf_sub_take_lease_plan, values, NULL, false, 0);
	}
	rf_sub_seen(store, name, PointerGetDatum(grp), PointerGetDatum(me), now);

	/*
	 * What is outstanding. Batches whose lease ran out (every batch, in an
	 * ordered group) become one row per event first.
	 */
	values[0] = name;
	values[1] = PointerGetDatum(grp);
	values[2] = TimestampTzGetDatum(now);
	values[3] = Int32GetDatum(g.max_deliveries);
	values[4] = BoolGetDatum(g.ordered);
	/* pending batches larger than a poll takes are split (all, under max_in_flight) */
	values[5] = Int32GetDatum(g.has_max_in_flight ? 0 : max_count);
	rf_run_plan(store, &rf_sub_counts_plan, values, NULL, false, 0);
	n_split = DatumGetInt64(rf_sub_getbin(0, 4, &isnull));
	if (n_split > 0)
	{
		values[3] = BoolGetDatum(g.ordered);
		values[4] = Int32GetDatum(g.has_max_in_flight ? 0 : max_count);
		rf_run_plan(store, &rf_sub_split_plan, values, NULL, false, 0);
		values[3] = Int32GetDatum(g.max_deliveries);
		values[4] = BoolGetDatum(g.ordered);
		rf_run_plan(store, &rf_sub_counts_plan, values, NULL, false, 0);
	}
	n_out = DatumGetInt64(rf_sub_getbin(0, 1, &isnull));
	n_live = DatumGetInt64(rf_sub_getbin(0, 2, &isnull));
	n_due_dead = DatumGetInt64(rf_sub_getbin(0, 3, &isnull));
	n_pending_batches = DatumGetInt64(rf_sub_getbin(0, 5, &isnull));
	log_head = DatumGetInt64(rf_sub_getbin(0, 6, &isnull));

	/*
	 * Events delivered max_deliveries times whose last lease ran out go to
	 * the group's dead letters; the group moves on.
	 */
	if (n_due_dead > 0)
	{
		rf_run_plan(store, &rf_sub_dead_plan, values, NULL, false, 0);
		if (SPI_processed > 0)
			n_out -= DatumGetInt64(rf_sub_getbin(0, 1, &isnull));
	}
	ups = rf_upcasters_acquire(store);

	/* At most max_in_flight out at once (counted under the group's row). */
	room = max_count;
	if (g.has_max_in_flight)
		room = (int32) Min((int64) room, (int64) g.max_in_flight - n_live);

	rf_sub_filter_values(ups, filters, values, nulls);
	values[0] = name;
	values[1] = PointerGetDatum(grp);
	values[2] = Int64GetDatum(g.frontier);
	values[3] = Int64GetDatum(Min(log_head, g.frontier + 100000));

	if (g.ordered)
	{
		/*
		 * Take matching events past the frontier into pending rows: more
		 * than this poll's, since a stream's later events wait for its
		 * earlier ones; at most 100000 positions per poll, never past the
		 * committed head (read before the events, so every position at or
		 * below it is visible).
		 */
		int64		cap = Min(Max(1000, 10 * (int64) max_count), 100000);
		int64		fill = cap - n_out;

		if (fill > 0 && log_head > g.frontier)
		{
			values[9] = Int32GetDatum((int32) fill);
			values[10] = TimestampTzGetDatum(now);
			rf_run_plan(store, &rf_sub_fill_plan, values, nulls, false, 0);
		}
		if (room > 0)
			rf_sub_deliver(store, ups, rsinfo, name, PointerGetDatum(grp), PointerGetDatum(me), now,
						   g.max_deliveries, true, room, lease);
		rf_sub_poll_leave(poll_only);
		SPI_finish();
		return (Datum) 0;
	}

	/*
	 * Unordered: what is to be delivered again first, then a pending batch,
	 * then the events past the frontier as one batch; and batches pending
	 * for the group's other consumers, which take them while a poll holds
	 * the group's row.
	 */
	if (room > 0 && n_out > n_live + n_pending_batches)
	{
		rf_sub_deliver(store, ups, rsinfo, name, PointerGetDatum(grp), PointerGetDatum(me), now,
					   g.max_deliveries, false, room, lease);
		room -= (int32) tuplestore_tuple_count(rsinfo->setResult);
	}
	if (room > 0 && n_pending_batches > 0)
	{
		int64		n = rf_sub_claim(store, ups, rsinfo, name, PointerGetDatum(grp), PointerGetDatum(me),
									 now, room, lease, true);

		room -= (int32) n;
		if (n > 0)
			n_pending_batches--;
	}
	if (room > 0 && log_head > g.frontier)
	{
		int64		before = tuplestore_tuple_count(rsinfo->setResult);

		values[9] = Int32GetDatum(room);
		values[10] = PointerGetDatum(me);
		values[11] = DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now), lease);
		values[12] = TimestampTzGetDatum(now);
		rf_upcast_run_plan_into(ups, store, &rf_sub_batch_plan, values, nulls, false, (Datum) 0,
								rsinfo->setResult, rsinfo->setDesc);
		/* all it asked for: there may be more */
		if (tuplestore_tuple_count(rsinfo->setResult) - before == room && !single &&
			!g.has_max_in_flight && n_pending_batches < RF_SUB_PREFILL_BATCHES)
		{
			values[9] = Int32GetDatum((int32) (RF_SUB_PREFILL_BATCHES - n_pending_batches) * max_count);
			values[10] = Int32GetDatum(max_count);
			values[11] = TimestampTzGetDatum(now);
			rf_run_plan(store, &rf_sub_prefill_plan, values, nulls, false, 0);
		}
	}
	rf_sub_poll_leave(poll_only);
	SPI_finish();
	return (Datum) 0;
}

static int
rf_cmp_int8(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Remove from want (sorted, unique) the positions in got; returns the new length. */
static int
rf_remove_positions(int64 *want, int nwant, const int64 *got, int ngot)
{
	int			n = 0;

	for (int i = 0; i < nwant; i++)
	{
		bool		hit = false;

		for (int j = 0; j < ngot && !hit; j++)
			hit = got[j] == want[i];
		if (!hit)
			want[n++] = want[i];
	}
	return n;
}

static Datum
rf_int8_array(const int64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static void
rf_array_int8s(Datum a, int64 **v, int *n)
{
	Datum	   *d;
	bool	   *nl;

	deconstruct_array(DatumGetArrayTypeP(a), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, &nl, n);
	*v = palloc(sizeof(int64) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		(*v)[i] = DatumGetInt64(d[i]);
}

/*
 * rillflow.subscription_ack(name text, positions bigint[], group_name text
 *     DEFAULT NULL, consumer text DEFAULT NULL) RETURNS integer
 *
 * Acks the positions for this consumer in the caller's transaction: done
 * when it commits, delivered again if it rolls back. RF006 for a position
 * this consumer does not hold a live lease on (the caller's work rolls back
 * with it). Returns how many positions it acked. Never touches the group's
 * row, so acks of competing consumers do not serialise.
 */
Datum
rillflow_subscription_ack(PG_FUNCTION_ARGS)
{
	const RfStore *store;
	text	   *grp;
	text	   *me;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64	   *want;
	int			nwant;
	int			nuniq;
	int			acked = 0;
	bool		isnull;
	bool		sub_checked = false;

	store = rf_current_store();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rf_sub_args(fcinfo, 2, 3, &grp, &me);	/* 22023 */

	/*
	 * The subscription is looked up (RF004) before the positions' rule when
	 * an argument is wrong; otherwise only when something is not acked.
	 */
	if (PG_ARGISNULL(0) || !rf_sub_name_ok(PG_GETARG_TEXT_PP(0)) ||
		PG_ARGISNULL(1) || !rf_sub_positions_ok(PG_GETARG_ARRAYTYPE_P(1)))
	{
		(void) rf_sub_get(store, fcinfo, NULL); /* RF004 */
		sub_checked = true;
		values[0] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
		rf_sub_rule(&rf_sub_positions_rule_plan, values, PG_ARGISNULL(1) ? "n" : " ");	/* 22004/22023 */
	}

	rf_array_int8s(PG_GETARG_DATUM(1), &want, &nwant);
	qsort(want, nwant, sizeof(int64), rf_cmp_int8);
	nuniq = 0;
	for (int i = 0; i < nwant; i++)
		if (nuniq == 0 || want[nuniq - 1] != want[i])
			want[nuniq++] = want[i];
	nwant = nuniq;

	values[0] = PG_GETARG_DATUM(0);
	values[1] = PointerGetDatum(grp);
	values[2] = rf_int8_array(want, nwant);
	values[3] = PointerGetDatum(me);

	/* Whole batches (the usual ack). */
	rf_run_plan(store, &rf_sub_ack_batches_plan, values, NULL, false, 0);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		int64	   *got;
		int			ngot;

		rf_array_int8s(rf_sub_getbin(r, 1, &isnull), &got, &ngot);
		acked += ngot;
		nwant = rf_remove_positions(want, nwant, got, ngot);
	}
	/* Events delivered one by one (redeliveries, ordered groups). */
	if (nwant > 0)
	{
		values[2] = rf_int8_array(want, nwant);
		rf_run_plan(store, &rf_sub_ack_events_plan, values, NULL, false, 0);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			int64		got = DatumGetInt64(rf_sub_getbin(r, 1, &isnull));

			acked++;
			nwant = rf_remove_positions(want, nwant, &got, 1);
		}
	}
	/* Part of a batch: the rest of it stays leased. */
	if (nwant > 0)
	{
		SPITupleTable *tab;
		uint64		n;

		values[2] = rf_int8_array(want, nwant);
		rf_run_plan(store, &rf_sub_ack_partial_plan, values, NULL, false, 0);
		tab = SPI_tuptable;
		n = SPI_processed;
		for (uint64 r = 0; r < n; r++)
		{
			Datum		tid = SPI_getbinval(tab->vals[r], tab->tupdesc, 1, &isnull);
			int64	   *batch;
			int			nbatch;
			int			nrest;
			int64	   *taken = palloc(sizeof(int64) * Max(nwant, 1));
			int			ntaken = 0;

			rf_array_int8s(SPI_getbinval(tab->vals[r], tab->tupdesc, 2, &isnull), &batch, &nbatch);
			for (int i = 0; i < nwant; i++)
				for (int j = 0; j < nbatch; j++)
					if (batch[j] == want[i])
						taken[ntaken++] = want[i];
			nrest = rf_remove_positions(batch, nbatch, taken, ntaken);
			if (nrest == 0)
			{
				Datum		v[1] = {tid};

				rf_run_plan(store, &rf_sub_batch_delete_plan, v, NULL, false, 0);
			}
			else
			{
				Datum		v[2] = {tid, rf_int8_array(batch, nrest)};

				rf_run_plan(store, &rf_sub_batch_rest_plan, v, NULL, false, 0);
			}
			acked += ntaken;
			nwant = rf_remove_positions(want, nwant, taken, ntaken);
		}
	}
	if (nwant > 0 && !sub_checked)
		(void) rf_sub_get(store, fcinfo, NULL); /* RF004 */
	if (nwant > 0)
	{
		values[0] = DirectFunctionCall1(namein, CStringGetDatum(store->schema_name));
		values[1] = PG_GETARG_DATUM(0);
		values[2] = PointerGetDatum(grp);
		values[3] = PointerGetDatum(me);
		values[4] = Int64GetDatum(want[0]);
		rf_sub_rule(&rf_sub_lease_lost_plan, values, nulls);	/* RF006 */
		elog(ERROR, "rillflow._subscription_lease_lost returned");
	}
	SPI_finish();
	PG_RETURN_INT32(acked);
}
