/*-------------------------------------------------------------------------
 *
 * sequencer.c
 *	  The sequencer: gives committed events their dense positions in the
 *	  global log, in the order they became visible. See docs/global-log.md.
 *
 *	  An append writes its events with a provisional number (seq) and its
 *	  transaction id (tx). A tick takes the store's sequencer lock, takes a
 *	  snapshot, and stamps the events whose transaction is visible in that
 *	  snapshot but was not in the previous tick's: exactly the transactions
 *	  that committed in between, however out of order they committed. Aborted
 *	  appends leave no rows to wait on, and an open transaction holds back
 *	  only its own events.
 *
 *	  Invariants of every tick:
 *	  - It runs in a transaction of its own, in a background process (the
 *	    database worker, or a ticker a reader started: log_sync.c), never in
 *	    a client's transaction. So a tick never shares a transaction with an
 *	    append (inside an appender it would take the appender's own events for
 *	    committed ones, and record a snapshot in which the appender counts as
 *	    done: its later events would never be stamped), and no reader ever
 *	    sees positions of a tick that has not committed.
 *	  - A reader that saw a position sees it again after a crash: the tick
 *	    commits without waiting for its flush, and every reader flushes the
 *	    WAL up to the newest tick before it returns a position
 *	    (rf_log_make_durable, core/shmem.h); without shared memory, or with a
 *	    synchronous standby named, the tick commits durably instead. Its
 *	    commit record follows the commits of every event it stamped, so those
 *	    are durable too once it is.
 *	  - It runs as the owner of the store's schema, in a security-restricted
 *	    context, so readers need only SELECT, and whoever asked for the tick
 *	    (the worker's role, a reader) lends it no rights.
 *	  - Its lock is an object lock no SQL statement can take (below), so no
 *	    session can hold the log still from SQL.
 *	  - It skips a store whose tables a restore is loading (store_load.c).
 *
 *	  An idle tick costs one short index range scan and writes nothing; the
 *	  worker runs one per store when an append commits, or, while appends
 *	  keep arriving, every rillflow.tick_coalesce (worker/worker_db.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/log_segments.h"
#include "events/sequencer.h"
#include "events/store_load.h"

PG_FUNCTION_INFO_V1(rillflow_system_identifier);

/*
 * A tick needs READ COMMITTED and a writable transaction whatever the
 * database's defaults. And no JIT: a tick (or a worker's batch) is a few
 * index lookups, planned generically on estimates that grow with the store
 * (log_state has no statistics until analysed), so past jit_above_cost every
 * tick compiled its expressions anew, 10 to 100 ms of CPU for a statement of
 * 0.1 ms (docs/performance.md).
 */
void
rf_sequencer_process_settings(void)
{
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * A whole tick in one statement, for a store whose state was written by this
 * cluster ($1 its system identifier): read the state (the previous tick's
 * snapshot "prev" and the head), take this tick's snapshot "cur", stamp, and
 * move the state on. Returns (1, stamped); (0, 0) when there is no state of
 * this cluster.
 *
 * A transaction not visible in prev either started after it (tx >= xmax of
 * prev) or was running then (tx in the xip list of prev). So the events to
 * stamp are the visible-in-cur ones of those two sets, found by a short range
 * scan above prev's xmax and a few point lookups, whatever the age of the
 * oldest running transaction: an appender idle for an hour costs each tick
 * one lookup, not a scan of the hour's events.
 *
 * The stamped events go into segments of up to RF_SEGMENT_MAX positions, in
 * seq order (one row for a tick of a few appends, where a row per position
 * cost about 190 bytes of WAL an event).
 *
 * An idle tick writes nothing: keeping the older snapshot stays exact, since
 * nothing became visible between it and this one.
 */
/* The tick's state and its fresh events (both forms of the log). */
#define RF_TICK_FRESH \
	"WITH st AS MATERIALIZED (" \
	"  SELECT head, last_snapshot AS prev, pg_catalog.pg_current_snapshot() AS cur" \
	"    FROM %s.log_state WHERE system_identifier OPERATOR(pg_catalog.=) $1)," \
	" fresh AS (" \
	"  SELECT e.seq FROM %s.events e, st" \
	"   WHERE e.tx OPERATOR(pg_catalog.>=) pg_catalog.pg_snapshot_xmax(st.prev)" \
	"     AND e.tx OPERATOR(pg_catalog.<) pg_catalog.pg_snapshot_xmax(st.cur)" \
	"     AND pg_catalog.pg_visible_in_snapshot(e.tx, st.cur)" \
	"  UNION ALL" \
	"  SELECT e.seq FROM %s.events e" \
	"   WHERE e.tx OPERATOR(pg_catalog.=) ANY (ARRAY(" \
	"           SELECT x FROM st, pg_catalog.pg_snapshot_xip(st.prev) AS x" \
	"            WHERE pg_catalog.pg_visible_in_snapshot(x, st.cur)))),"

/* The head moved by what `counted` counts, and the tick's result (both forms). */
#define RF_TICK_MOVE \
	" moved AS (" \
	"  UPDATE %s.log_state l" \
	"     SET head = l.head OPERATOR(pg_catalog.+) c.n, last_snapshot = st.cur, updated_at = pg_catalog.now()" \
	"    FROM counted c, st" \
	"   WHERE c.n OPERATOR(pg_catalog.>) 0" \
	"  RETURNING 1)" \
	" SELECT (SELECT pg_catalog.count(*) FROM st), (SELECT n FROM counted)," \
	"        (SELECT pg_catalog.count(*) FROM moved)," \
	"        (SELECT st.head OPERATOR(pg_catalog.+) c.n FROM st, counted c)"

static const RfPlanSpec rf_tick = {
	RF_TICK_FRESH
	" numbered AS ("
	"  SELECT f.seq, pg_catalog.row_number() OVER (ORDER BY f.seq) AS n FROM fresh f),"
	" stamped AS ("
	"  INSERT INTO %s.log_segments (last_position, max_seq, seqs)"
	"  SELECT st.head OPERATOR(pg_catalog.+) pg_catalog.max(r.n), pg_catalog.max(r.seq),"
	"         pg_catalog.array_agg(r.seq ORDER BY r.seq)"
	"    FROM numbered r, st"
	"   GROUP BY (r.n OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) " RF_SEGMENT_MAX_SQL ", st.head"
	"  RETURNING pg_catalog.cardinality(seqs) AS n),"
	" counted AS (SELECT COALESCE(pg_catalog.sum(n), 0)::pg_catalog.int8 AS n FROM stamped),"
	RF_TICK_MOVE,
	1, {INT8OID},
	.positions_sql =
	RF_TICK_FRESH
	" stamped AS ("
	"  INSERT INTO %s.positions (position, seq)"
	"  SELECT st.head OPERATOR(pg_catalog.+) pg_catalog.row_number() OVER (ORDER BY f.seq), f.seq"
	"    FROM fresh f, st"
	"  RETURNING 1),"
	" counted AS (SELECT pg_catalog.count(*) AS n FROM stamped),"
	RF_TICK_MOVE
};

/* A store's state, when rf_tick found none written by this cluster. */
static const RfPlanSpec rf_read_state = {
	"SELECT head FROM %s.log_state",
	0, {InvalidOid}
};

/*
 * The state before the first tick: nothing stamped, and a previous snapshot
 * in which no transaction is visible, so the first tick takes every
 * committed event. Written only once there is an event: the state of a
 * store being restored arrives by COPY after the extension is created, and
 * must find no row of ours in its way.
 */
static const RfPlanSpec rf_seed_state = {
	"INSERT INTO %s.log_state (id, head, last_snapshot, system_identifier) "
	"SELECT true, 0, '1:1:', $1 WHERE EXISTS (SELECT FROM %s.events) "
	"ON CONFLICT (id) DO NOTHING",
	1, {INT8OID}
};

/*
 * The restore repair (data restored from another cluster, where the recorded
 * transaction ids mean nothing), with every writer of the store locked out
 * for a moment: freeze every event's tx as long committed, so no later tick
 * looks at it again; stamp every event without a position in provisional
 * order; record the new head and this cluster's snapshot and identifier.
 * Events appended after the repair have transaction ids this snapshot shows
 * as running or future, so the next ticks stamp them as usual.
 */
static const RfPlanSpec rf_restored_freeze = {
	"UPDATE %s.events SET tx = '1'::pg_catalog.xid8 WHERE tx OPERATOR(pg_catalog.<>) '1'::pg_catalog.xid8",
	0, {InvalidOid}
};

static const RfPlanSpec rf_restored_stamp = {
	"WITH fresh AS ("
	"  SELECT e.seq FROM %s.events e"
	"  EXCEPT SELECT u.seq FROM %s.log_segments g CROSS JOIN LATERAL pg_catalog.unnest(g.seqs) AS u(seq)),"
	" numbered AS ("
	"  SELECT f.seq, pg_catalog.row_number() OVER (ORDER BY f.seq) AS n FROM fresh f),"
	" stamped AS ("
	"  INSERT INTO %s.log_segments (last_position, max_seq, seqs)"
	"  SELECT $1 OPERATOR(pg_catalog.+) pg_catalog.max(r.n), pg_catalog.max(r.seq),"
	"         pg_catalog.array_agg(r.seq ORDER BY r.seq)"
	"    FROM numbered r"
	"   GROUP BY (r.n OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) " RF_SEGMENT_MAX_SQL
	"  RETURNING pg_catalog.cardinality(seqs) AS n)"
	" SELECT COALESCE(pg_catalog.sum(n), 0)::pg_catalog.int8 FROM stamped",
	1, {INT8OID},
	.positions_sql =
	"WITH fresh AS ("
	"  SELECT e.seq FROM %s.events e"
	"   WHERE NOT EXISTS (SELECT FROM %s.positions p WHERE p.seq OPERATOR(pg_catalog.=) e.seq)),"
	" stamped AS ("
	"  INSERT INTO %s.positions (position, seq)"
	"  SELECT $1 OPERATOR(pg_catalog.+) pg_catalog.row_number() OVER (ORDER BY seq), seq FROM fresh"
	"  RETURNING 1)"
	" SELECT pg_catalog.count(*) FROM stamped"
};

static const RfPlanSpec rf_restored_state = {
	"UPDATE %s.log_state SET head = $1, last_snapshot = pg_catalog.pg_current_snapshot(),"
	" system_identifier = $2, updated_at = pg_catalog.now()",
	2, {INT8OID, INT8OID}
};

/*
 * Whether a store's log is whole, after a restore loaded its tables: the
 * state is there, the positions are exactly 1..head, and each names an
 * event. (Each table arrives in one COPY, so a log that is whole has all
 * three; the table's CHECK constraint gives every segment the shape a tick
 * writes.) Runs only while a restore's hold is on the store.
 */
static const RfPlanSpec rf_log_whole = {
	"SELECT EXISTS (SELECT FROM %s.log_state l"
	"   WHERE l.head OPERATOR(pg_catalog.=) (SELECT COALESCE(pg_catalog.max(last_position), 0) FROM %s.log_segments))"
	" AND NOT EXISTS (SELECT FROM ("
	"   SELECT g.last_position OPERATOR(pg_catalog.-) pg_catalog.cardinality(g.seqs) AS before,"
	"          COALESCE(pg_catalog.lag(g.last_position) OVER (ORDER BY g.last_position), 0) AS prev"
	"     FROM %s.log_segments g) x"
	"   WHERE x.before OPERATOR(pg_catalog.<>) x.prev)"
	" AND NOT EXISTS (SELECT FROM %s.log_segments g CROSS JOIN LATERAL pg_catalog.unnest(g.seqs) AS u(seq)"
	"   WHERE NOT EXISTS (SELECT FROM %s.events e WHERE e.seq OPERATOR(pg_catalog.=) u.seq))",
	0, {InvalidOid},
	.positions_sql =
	"SELECT EXISTS (SELECT FROM %s.log_state l"
	"   WHERE l.head OPERATOR(pg_catalog.=) (SELECT pg_catalog.count(*) FROM %s.positions)"
	"     AND l.head OPERATOR(pg_catalog.=) (SELECT COALESCE(pg_catalog.max(position), 0) FROM %s.positions))"
	" AND NOT EXISTS (SELECT FROM %s.positions p"
	"   WHERE NOT EXISTS (SELECT FROM %s.events e WHERE e.seq OPERATOR(pg_catalog.=) p.seq))"
};

/*
 * The sequencer's lock of a store: an object lock on (pg_namespace, the
 * store's schema, RF_SEQUENCER_LOCK_SUBID). PostgreSQL locks a schema only
 * with sub-id 0, and no SQL statement takes an object lock of its choosing
 * (advisory locks have a lock tag type of their own), so nobody can hold the
 * log still from SQL: not an ordinary role with pg_advisory_lock, not even a
 * superuser. It is a heavyweight lock all the same: released at transaction
 * end or backend exit, shown in pg_locks (locktype object, classid
 * pg_namespace, objsubid RF_SEQUENCER_LOCK_SUBID).
 */
static void
rf_sequencer_locktag(LOCKTAG *tag, const RfStore *store)
{
	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, NamespaceRelationId, store->schema_oid,
					   RF_SEQUENCER_LOCK_SUBID);
}

/*
 * Take the store's sequencer lock for the rest of the transaction; when
 * another process ticks, try again every few milliseconds for up to wait_ms
 * (0: just once). Polling, not a lock wait, so a ticker that gives up leaves
 * no error behind.
 */
static bool
rf_sequencer_lock(const RfStore *store, int wait_ms)
{
	LOCKTAG		tag;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

	rf_sequencer_locktag(&tag, store);
	for (;;)
	{
		if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
			return true;
		if (wait_ms <= 0 || GetCurrentTimestamp() >= deadline)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 RF_SEQUENCER_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* The owner of a store's schema. */
static Oid
rf_store_owner(const RfStore *store)
{
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(store->schema_oid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("the schema of store \"%s\" does not exist", store->schema_name)));
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * A load of the store's tables began after the caller's check but before
 * this tick's snapshot: what the tick stamped may be rows of a restore in
 * progress. Throw the whole transaction away.
 */
static void
rf_refuse_tick_during_load(const RfStore *store, int64 stamped)
{
	pid_t		loader = 0;

	if (stamped == 0 ||
		(rf_store_load_hold(MyDatabaseId, store->schema_oid, &loader) &
		 (RF_HOLD_XACT | RF_HOLD_RESTORE | RF_HOLD_LOG)) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the rillflow sequencer cannot run while the tables of store \"%s\" are being loaded",
					store->schema_name),
			 errdetail("The backend with PID %d copied rows into the store's tables, as a restore does.",
					   (int) loader),
			 errhint("Wait for the restore to end; the log is sequenced when it is whole again.")));
}

/* The repair of a store restored from another cluster (rf_restored_*). */
static int64
rf_sequence_restored(const RfStore *store, int64 head)
{
	Oid			events = get_relname_relid("events", store->schema_oid);
	Datum		values[2];
	int64		stamped;

	/* Writers busy: the next tick tries again. */
	if (!OidIsValid(events) || !ConditionalLockRelationOid(events, ExclusiveLock))
		return 0;
	rf_run_plan(store, &rf_restored_freeze, NULL, NULL, false, 0);
	values[0] = Int64GetDatum(head);
	rf_run_plan(store, &rf_restored_stamp, values, NULL, false, 1);
	stamped = rf_spi_int8(0, 1);
	values[0] = Int64GetDatum(head + stamped);
	values[1] = Int64GetDatum((int64) GetSystemIdentifier());
	rf_run_plan(store, &rf_restored_state, values, NULL, false, 0);
	ereport(LOG,
			(errmsg("rillflow: sequenced " INT64_FORMAT " events of store \"%s\" restored from another cluster",
					stamped, store->schema_name)));
	return stamped;
}

/*
 * Run rf_tick, planned with sequential scans off. Its cached plan is made
 * once, often while the store's events table is new and has no statistics
 * (autovacuum analyses it within a minute or more): the planner then takes
 * the table for ten pages, finds a sequential scan cheapest, and the cached
 * plan keeps scanning the whole table at every tick while it grows by
 * thousands of rows a second (at 20,000 events/s, 300 ticks read 120 million
 * rows in 30 s, and the worker used a core). A tick only ever needs a range
 * of events_tx_idx and a few probes of it; the setting is the planner's own
 * way to say so whatever the statistics, and it reaches only this statement.
 */
static void
rf_run_tick_plan(const RfStore *store, Datum *values)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	rf_run_plan(store, &rf_tick, values, NULL, false, 1);
	AtEOXact_GUC(true, nestlevel);
}

/*
 * The tick itself, holding the lock, as the store's owner. Returns how many
 * events got positions; *head the new head when some did.
 */
static int64
rf_tick_store_log(const RfStore *store, int64 *head)
{
	Datum		values[1] = {Int64GetDatum((int64) GetSystemIdentifier())};
	int64		stamped;

	rf_run_tick_plan(store, values);
	if (rf_spi_int8(0, 1) == 1)
	{
		stamped = rf_spi_int8(0, 2);
		if (stamped > 0)
			*head = rf_spi_int8(0, 4);
		return stamped;
	}

	rf_run_plan(store, &rf_read_state, NULL, NULL, false, 1);
	if (SPI_processed == 1)
	{
		/* Restored from another cluster. */
		int64		old_head = rf_spi_int8(0, 1);

		stamped = rf_sequence_restored(store, old_head);
		*head = old_head + stamped;
		return stamped;
	}

	/* The store's first tick. */
	rf_run_plan(store, &rf_seed_state, values, NULL, false, 0);
	rf_run_tick_plan(store, values);
	stamped = rf_spi_int8(0, 2);
	if (stamped > 0)
		*head = rf_spi_int8(0, 4);
	return stamped;
}

/*
 * NOTIFY rillflow_events with {"store": ..., "head": N}, sent at the tick's
 * commit, for external listeners.
 */
static void
rf_notify_head(const RfStore *store, int64 head)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"store\":");
	escape_json(&payload, store->schema_name);
	appendStringInfo(&payload, ",\"head\":" INT64_FORMAT "}", head);
	Async_Notify(RF_NOTIFY_CHANNEL, payload.data);
}

/*
 * One tick of the store's sequencer, in the current transaction, which must
 * be of its own: READ COMMITTED (every statement below sees what earlier
 * ticks committed before we got the lock), read-write, with no transaction
 * id yet, SPI connected. Waits up to wait_ms for another process's tick to
 * end (0: not at all). Returns how many events got positions: 0 when it did
 * not tick (another process ticks, or the store is being loaded). When it
 * gave positions, it has asked for its commit (asynchronous, see the file
 * header), a NOTIFY and a wake-up
 * of the readers waiting for the log, all sent at commit; *head (when not
 * NULL) is the new head.
 */
int64
rf_sequence(const RfStore *store, int wait_ms, int64 *head)
{
	uint32		hold;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	int64		stamped = 0;
	int64		new_head = 0;
	bool		whole = true;
	bool		isnull;

	if (TransactionIdIsValid(GetTopTransactionIdIfAny()) || XactIsoLevel != XACT_READ_COMMITTED)
		elog(ERROR, "rillflow: a tick must run at READ COMMITTED, in a transaction of its own");

	hold = rf_store_load_hold(MyDatabaseId, store->schema_oid, NULL);
	if ((hold & (RF_HOLD_XACT | RF_HOLD_RESTORE)) != 0 || !rf_sequencer_lock(store, wait_ms))
		return 0;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rf_store_owner(store),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();

	if (hold & RF_HOLD_LOG)
	{
		rf_run_plan(store, &rf_log_whole, NULL, NULL, false, 1);
		whole = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (whole)
			rf_release_log_hold(MyDatabaseId, store->schema_oid);
	}
	if (whole)
	{
		stamped = rf_tick_store_log(store, &new_head);
		rf_refuse_tick_during_load(store, stamped);
	}

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	if (stamped > 0)
	{
		/*
		 * A position a reader saw must survive a crash. Either the tick
		 * commits without waiting for its flush, and every reader flushes
		 * the WAL up to it before it returns a position (core/shmem.h:
		 * rf_log_make_durable); or (no shared memory, or a synchronous
		 * standby named, which must have the tick before anyone sees it) it
		 * commits durably.
		 */
		if (rf_note_async_tick())
			(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_LOCAL, true, 0, false);
		else if (synchronous_commit < SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
			(void) set_config_option("synchronous_commit", "on", PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_LOCAL, true, 0, false);
		rf_notify_head(store, new_head);
		rf_note_log_advance();
		if (head != NULL)
			*head = new_head;
	}
	return stamped;
}

/*
 * rillflow._system_identifier() RETURNS bigint
 *
 * The cluster's identity. Transaction ids in restored rows mean nothing in
 * another cluster; the sequencer compares this with the value it recorded to
 * know when it runs on restored data.
 */
Datum
rillflow_system_identifier(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) GetSystemIdentifier());
}
