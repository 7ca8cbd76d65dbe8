/*-------------------------------------------------------------------------
 *
 * log_sync.c
 *	  Reads that see their own writes. read_all, head_position,
 *	  run_sequencer and run_projection (at READ COMMITTED, on a primary)
 *	  first wait until every event committed before the call has a position
 *	  from a committed tick; then they read with a new snapshot. They never
 *	  tick themselves: a tick in the reader's own transaction would hand out
 *	  positions before its commit (a crash could take them back) and would
 *	  need the reader to write the log.
 *
 *	  How a reader waits:
 *	  1. It takes a snapshot S0 when the call begins; "committed before the
 *	     call" means visible in S0. Its own transaction's events (a DO block
 *	     that appended, say) count as not yet committed: they get positions
 *	     after it commits.
 *	  2. It looks whether the committed log covers S0: every event visible in
 *	     S0 is visible in the snapshot the last committed tick recorded
 *	     (log_state.last_snapshot), so it has a position. The look costs what
 *	     an idle tick does: a short index range scan above that snapshot's
 *	     xmax, and a lookup per transaction it listed as running.
 *	  3. If not, it asks for a tick: it wakes the database's worker, which
 *	     ticks every store within a pass; when there is no worker, or the
 *	     worker is inside a projection batch, or has not ticked within
 *	     RF_WORKER_GRACE_MS, it starts a ticker (ticker.c), a background
 *	     process that runs one tick and exits. Then it sleeps on its latch,
 *	     which a tick's commit (shmem.c) and the ticker's exit set, and looks
 *	     again with a new snapshot.
 *	  Whoever holds the sequencer, the wait ends at the first committed tick
 *	  that started after S0. It is bounded by rillflow.log_wait_timeout:
 *	  past it the call fails with 55P03 (or 53000 when no ticker could be
 *	  started and no worker serves the database), or, for run_projection,
 *	  goes on with what is in the log.
 *
 *	  It does not wait (and reads what is committed) at REPEATABLE READ or
 *	  SERIALIZABLE, whose snapshot could not see a newer tick; on a standby;
 *	  with rillflow.log_wait_timeout = 0; in rillflow's own background
 *	  processes; and while a restore loads the store's tables (store_load.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/log_sync.h"
#include "events/store_load.h"

PG_FUNCTION_INFO_V1(rillflow_head_position);
PG_FUNCTION_INFO_V1(rillflow_run_sequencer);
PG_FUNCTION_INFO_V1(rillflow_sync_log);

/* Longest sleep between two looks at the log. */
#define RF_LOG_POLL_MS		100

/* How long a woken worker has to tick before a ticker is started as well. */
#define RF_WORKER_GRACE_MS	100

int			rf_log_wait_timeout_ms = 5000;
bool		rf_log_no_wait = false;

void
rf_log_sync_init(void)
{
	DefineCustomIntVariable("rillflow.log_wait_timeout",
							"Longest wait of a read for the log to include every event committed before it.",
							"read_all, head_position and run_sequencer fail with 55P03 past it; "
							"0 reads what is already in the log without waiting.",
							&rf_log_wait_timeout_ms,
							5000,
							0,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * One look at the log: the committed head, whether the committed log covers
 * S0, and S0 itself. S0 is $1, or this statement's snapshot when $1 is NULL
 * (the first look, which takes it), together with the caller's own
 * transaction ($2; taken with S0 on the first look), whose events are left
 * out; $3 is this cluster's system identifier.
 *
 * The log covers S0 when every event visible in S0 is visible in the snapshot
 * of the last committed tick (l). An event not visible in l has a tx at or
 * above l's xmax (a short index range up to S0's xmax) or in l's list of
 * running transactions (one index lookup each: the LATERAL ... LIMIT 1 keeps
 * the planner from a join that reads every event, as it chose once the events
 * table had a child, the archive). Without a state, covered
 * when no event is visible in S0; with another cluster's state (a restore
 * the next tick repairs), not covered.
 */
static const RfPlanSpec rf_log_covered = {
	"WITH s AS MATERIALIZED ("
	"  SELECT COALESCE($1, pg_catalog.pg_current_snapshot()) AS s0,"
	"         CASE WHEN $1 IS NULL THEN pg_catalog.pg_current_xact_id_if_assigned() ELSE $2 END AS own),"
	" st AS MATERIALIZED ("
	"  SELECT head, last_snapshot AS l, system_identifier AS sid FROM %s.log_state)"
	" SELECT (SELECT head FROM st),"
	"  CASE"
	"   WHEN NOT EXISTS (SELECT FROM st) THEN NOT EXISTS ("
	"     SELECT FROM %s.events e, s"
	"      WHERE pg_catalog.pg_visible_in_snapshot(e.tx, s.s0)"
	"        AND (s.own IS NULL OR e.tx OPERATOR(pg_catalog.<>) s.own))"
	"   WHEN (SELECT sid FROM st) OPERATOR(pg_catalog.<>) $3 THEN false"
	"   ELSE NOT EXISTS ("
	"     SELECT FROM %s.events e, s"
	"      WHERE e.tx OPERATOR(pg_catalog.>=) (SELECT pg_catalog.pg_snapshot_xmax(l) FROM st)"
	"        AND e.tx OPERATOR(pg_catalog.<) (SELECT pg_catalog.pg_snapshot_xmax(s0) FROM s)"
	"        AND pg_catalog.pg_visible_in_snapshot(e.tx, s.s0)"
	"        AND (s.own IS NULL OR e.tx OPERATOR(pg_catalog.<>) s.own))"
	"    AND NOT EXISTS ("
	"     SELECT FROM st, s, pg_catalog.pg_snapshot_xip(st.l) AS x,"
	"      LATERAL (SELECT FROM %s.events e WHERE e.tx OPERATOR(pg_catalog.=) x LIMIT 1) e"
	"      WHERE pg_catalog.pg_visible_in_snapshot(x, s.s0)"
	"        AND (s.own IS NULL OR x OPERATOR(pg_catalog.<>) s.own))"
	"  END,"
	"  (SELECT s0 FROM s), (SELECT own FROM s)",
	3, {PG_SNAPSHOTOID, XID8OID, INT8OID}
};

static const RfPlanSpec rf_log_head = {
	"SELECT head FROM %s.log_state",
	0, {InvalidOid}
};

/* Whether a call may wait for the log here (see the file header). */
static bool
rf_log_waits_here(const RfStore *store)
{
	return rf_log_wait_timeout_ms > 0 &&
		!rf_log_no_wait &&
		!IsolationUsesXactSnapshot() &&
		!RecoveryInProgress() &&
		(rf_store_load_hold(MyDatabaseId, store->schema_oid, NULL) &
		 (RF_HOLD_XACT | RF_HOLD_RESTORE | RF_HOLD_LOG)) == 0;
}

/* What a waiting reader has asked for so far. */
typedef struct RfTickRequest
{
	TimestampTz worker_woken_at;	/* 0: not yet */
	BackgroundWorkerHandle *ticker; /* the ticker it started, if any */
	bool		worker_seen;	/* a worker served the database */
	bool		no_slot;		/* a ticker could not be started */
} RfTickRequest;

/*
 * Ask for a tick of the store: wake the worker, and start a ticker when no
 * worker can tick soon (none, or inside a projection batch, or woken more
 * than RF_WORKER_GRACE_MS ago without a tick that covers us) and ours is
 * not still running.
 */
static void
rf_ask_for_tick(const RfStore *store, RfTickRequest *req, int wait_ms)
{
	bool		projecting;
	TimestampTz now = GetCurrentTimestamp();

	if (rf_db_worker_serves(MyDatabaseId, &projecting))
	{
		req->worker_seen = true;
		rf_wake_db_worker(MyDatabaseId);
		if (req->worker_woken_at == 0)
			req->worker_woken_at = now;
		if (!projecting &&
			!TimestampDifferenceExceeds(req->worker_woken_at, now, RF_WORKER_GRACE_MS))
			return;
	}
	if (req->ticker != NULL)
	{
		pid_t		pid;
		BgwHandleStatus status = GetBackgroundWorkerPid(req->ticker, &pid);

		if (status == BGWH_NOT_YET_STARTED || status == BGWH_STARTED)
			return;
		pfree(req->ticker);
		req->ticker = NULL;
	}
	req->ticker = rf_start_ticker(store, wait_ms, true);
	if (req->ticker == NULL)
		req->no_slot = true;
}

/*
 * No ticker of a reader outlives its call: once the log covers what the
 * reader waited for, its ticker (still starting, or idle-ticking after
 * another process's tick did the work) is stopped and waited for, so it
 * holds no lock when the call returns (a DROP of the store right after must
 * not meet it). A reader that fails stops its ticker without waiting.
 */
static void
rf_stop_ticker(RfTickRequest *req)
{
	if (req->ticker == NULL)
		return;
	TerminateBackgroundWorker(req->ticker);
	(void) WaitForBackgroundWorkerShutdown(req->ticker);
	pfree(req->ticker);
	req->ticker = NULL;
}

static void
rf_log_timed_out(const RfStore *store, const RfTickRequest *req)
{
	if (req->no_slot && !req->worker_seen)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a rillflow ticker within %d ms", rf_log_wait_timeout_ms),
				 errdetail("Events committed before this call began have no position in store \"%s\" yet, "
						   "no rillflow worker runs in this database, and every background worker slot was taken.",
						   store->schema_name),
				 errhint("Raise max_worker_processes, or run the rillflow worker (shared_preload_libraries).")));
	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("timed out after %d ms waiting for the rillflow sequencer", rf_log_wait_timeout_ms),
			 errdetail("Events committed before this call began have no position in store \"%s\" yet.",
					   store->schema_name),
			 errhint("A session may hold a lock on the store's log tables (see pg_locks), or the sequencer "
					 "failed (see the server log). Set rillflow.log_wait_timeout to 0 to read what is "
					 "already in the log.")));
}

bool
rf_log_sync(const RfStore *store, bool quiet, int64 *gained)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;
	TimestampTz deadline;
	RfTickRequest req = {0};
	int64		head_before = 0;
	int64		head = 0;
	bool		first = true;

	if (gained != NULL)
		*gained = 0;
	if (!rf_log_waits_here(store))
	{
		rf_log_make_durable();
		return false;
	}

	/* The first look takes S0 (a read-write SPI statement runs on a new snapshot). */
	nulls[0] = 'n';
	nulls[1] = 'n';
	values[2] = Int64GetDatum((int64) GetSystemIdentifier());

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), rf_log_wait_timeout_ms);
	rf_set_waiting(MyDatabaseId);
	PG_TRY();
	{
		for (;;)
		{
			bool		covered;
			long		remaining;

			rf_run_plan(store, &rf_log_covered, values, nulls, false, 1);
			head = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			if (isnull)
				head = 0;
			covered = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			if (first)
			{
				/* Keep S0 and the caller's own transaction for the next looks. */
				head_before = head;
				values[0] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull),
									  false, -1);
				nulls[0] = ' ';
				values[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);
				nulls[1] = isnull ? 'n' : ' ';
				first = false;
			}
			if (covered)
				break;
			remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (remaining <= 0)
			{
				if (quiet)
					break;
				rf_log_timed_out(store, &req);
			}
			rf_ask_for_tick(store, &req, (int) remaining);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(remaining, RF_LOG_POLL_MS), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		rf_set_waiting(InvalidOid);
		if (req.ticker != NULL)
			TerminateBackgroundWorker(req.ticker);
		PG_RE_THROW();
	}
	PG_END_TRY();
	rf_set_waiting(InvalidOid);
	rf_stop_ticker(&req);
	/*
	 * The head and anything the caller read before it are flushed; a caller
	 * that reads positions afterwards flushes again after its read.
	 */
	rf_log_make_durable();
	if (gained != NULL)
		*gained = head - head_before;
	return true;
}

/*
 * rillflow.head_position() RETURNS bigint
 *
 * The highest position in the log, once it includes every event committed
 * before the call (where the call may wait, see above).
 */
Datum
rillflow_head_position(PG_FUNCTION_ARGS)
{
	const RfStore *store = rf_current_store();
	int64		head = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) rf_log_sync(store, false, NULL);
	rf_run_plan(store, &rf_log_head, NULL, NULL, false, 1);
	if (SPI_processed == 1)
		head = rf_spi_int8(0, 1);
	SPI_finish();
	rf_log_make_durable();
	PG_RETURN_INT64(head);
}

/*
 * rillflow.run_sequencer() RETURNS bigint
 *
 * Makes the log include every event committed before the call, whoever
 * ticks; returns how many positions the log gained meanwhile. READ
 * COMMITTED only (25000 otherwise), inside a transaction block or not: it
 * takes no lock and writes nothing itself. Where it may not wait (a standby,
 * rillflow.log_wait_timeout = 0, a restore loading the store, rillflow's own
 * processes) it only wakes the worker and returns 0.
 */
Datum
rillflow_run_sequencer(PG_FUNCTION_ARGS)
{
	const RfStore *store;
	int64		gained = 0;

	if (XactIsoLevel != XACT_READ_COMMITTED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("the rillflow sequencer needs READ COMMITTED, not %s",
						XactIsoLevel == XACT_SERIALIZABLE ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errhint("Call it in its own transaction at the default isolation level.")));
	store = rf_current_store();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!rf_log_sync(store, false, &gained))
		rf_wake_db_worker(MyDatabaseId);
	SPI_finish();
	PG_RETURN_INT64(gained);
}

/*
 * rillflow._sync_log() RETURNS void
 *
 * rf_log_sync on the current store, for SQL callers that go on with what is
 * in the log when the wait times out (projection_acquire).
 */
Datum
rillflow_sync_log(PG_FUNCTION_ARGS)
{
	const RfStore *store = rf_current_store();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) rf_log_sync(store, true, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}
