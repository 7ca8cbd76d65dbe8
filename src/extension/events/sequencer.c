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
 *	  A tick runs on every read_all from a short transaction, so it is one
 *	  statement prepared once per backend and store; an idle tick costs one
 *	  short index range scan and writes nothing.
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
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/sequencer.h"

PG_FUNCTION_INFO_V1(rillflow_sequence);
PG_FUNCTION_INFO_V1(rillflow_may_sequence);
PG_FUNCTION_INFO_V1(rillflow_system_identifier);

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
 * An idle tick writes nothing: keeping the older snapshot stays exact, since
 * nothing became visible between it and this one.
 */
static const RfPlanSpec rf_tick = {
	"WITH st AS MATERIALIZED ("
	"  SELECT head, last_snapshot AS prev, pg_catalog.pg_current_snapshot() AS cur"
	"    FROM %s.log_state WHERE system_identifier OPERATOR(pg_catalog.=) $1),"
	" fresh AS ("
	"  SELECT e.seq FROM %s.events e, st"
	"   WHERE e.tx OPERATOR(pg_catalog.>=) pg_catalog.pg_snapshot_xmax(st.prev)"
	"     AND e.tx OPERATOR(pg_catalog.<) pg_catalog.pg_snapshot_xmax(st.cur)"
	"     AND pg_catalog.pg_visible_in_snapshot(e.tx, st.cur)"
	"  UNION ALL"
	"  SELECT e.seq FROM %s.events e"
	"   WHERE e.tx OPERATOR(pg_catalog.=) ANY (ARRAY("
	"           SELECT x FROM st, pg_catalog.pg_snapshot_xip(st.prev) AS x"
	"            WHERE pg_catalog.pg_visible_in_snapshot(x, st.cur)))),"
	" stamped AS ("
	"  INSERT INTO %s.positions (position, seq)"
	"  SELECT st.head OPERATOR(pg_catalog.+) pg_catalog.row_number() OVER (ORDER BY f.seq), f.seq"
	"    FROM fresh f, st"
	"  RETURNING 1),"
	" counted AS (SELECT pg_catalog.count(*) AS n FROM stamped),"
	" moved AS ("
	"  UPDATE %s.log_state l"
	"     SET head = l.head OPERATOR(pg_catalog.+) c.n, last_snapshot = st.cur, updated_at = pg_catalog.now()"
	"    FROM counted c, st"
	"   WHERE c.n OPERATOR(pg_catalog.>) 0"
	"  RETURNING 1)"
	" SELECT (SELECT pg_catalog.count(*) FROM st), (SELECT n FROM counted),"
	"        (SELECT pg_catalog.count(*) FROM moved),"
	"        (SELECT st.head OPERATOR(pg_catalog.+) c.n FROM st, counted c)",
	1, {INT8OID}
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

/* Whether the current transaction holds a store's sequencer lock. */
static bool rf_xact_holds_sequencer = false;
static bool rf_xact_callback_registered = false;

/*
 * A prepared transaction keeps its locks and its uncommitted positions until
 * COMMIT PREPARED, so one that ran a tick would stop the store's log for as
 * long as it stays prepared, possibly forever. Refuse it, the way PostgreSQL
 * refuses to prepare a transaction that used temporary objects.
 */
static void
rf_sequencer_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (rf_xact_holds_sequencer)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has run the rillflow sequencer"),
						 errdetail("A prepared transaction would hold the store's global log until it is committed or rolled back."),
						 errhint("Run the sequencer, or read_all() outside a transaction block, in a transaction of its own.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			rf_xact_holds_sequencer = false;
			break;
		default:
			break;
	}
}

/*
 * Take the store's sequencer lock for the rest of the transaction if it is
 * free: a transaction-scoped advisory lock on (RFLG, low 32 bits of the
 * store schema's OID), so stores never wait on each other.
 */
static bool
rf_try_sequencer_lock(const RfStore *store)
{
	bool		locked;

	locked = DatumGetBool(DirectFunctionCall2(pg_try_advisory_xact_lock_int4,
											  Int32GetDatum(RF_SEQUENCER_LOCK_CLASS),
											  Int32GetDatum((int32) store->schema_oid)));
	if (locked)
	{
		if (!rf_xact_callback_registered)
		{
			RegisterXactCallback(rf_sequencer_xact_callback, NULL);
			rf_xact_callback_registered = true;
		}
		rf_xact_holds_sequencer = true;
	}
	return locked;
}

/*
 * A session started loading the store's tables (store_load.c) after the
 * caller's check but before this tick's snapshot: what the tick stamped may
 * be rows of a restore in progress. Throw the whole transaction away.
 */
static void
rf_refuse_tick_during_load(int64 stamped)
{
	pid_t		loader;

	if (stamped == 0 || (loader = rf_database_loader(MyDatabaseId)) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the rillflow sequencer cannot run while store tables are being loaded"),
			 errdetail("The backend with PID %d copied rows into a store's tables, as a restore does.", (int) loader),
			 errhint("Wait for the restore to end; the log is sequenced when its session disconnects.")));
}

/*
 * One tick of the store's sequencer; SPI must be connected, at READ
 * COMMITTED, so that every statement below sees what earlier ticks committed
 * before we got the lock. Returns how many events got positions; 0 when
 * another session holds the sequencer lock right now. When it gave
 * positions and head is not NULL, *head is the log's new head.
 */
int64
rf_sequence(const RfStore *store, int64 *head)
{
	Datum		values[1] = {Int64GetDatum((int64) GetSystemIdentifier())};
	int64		stamped;

	if (rf_database_loader(MyDatabaseId) != 0 || !rf_try_sequencer_lock(store))
		return 0;

	rf_run_plan(store, &rf_tick, values, NULL, false, 1);
	if (rf_spi_int8(0, 1) == 1)
	{
		stamped = rf_spi_int8(0, 2);
		rf_refuse_tick_during_load(stamped);
		if (head != NULL)
			*head = rf_spi_int8(0, 4);
		return stamped;
	}

	rf_run_plan(store, &rf_read_state, NULL, NULL, false, 1);
	if (SPI_processed == 1)
	{
		/* Restored from another cluster: the rare path stays in SQL. */
		Oid			argtypes[2] = {NAMEOID, INT8OID};
		Datum		args[2] = {PointerGetDatum(store->schema_name), Int64GetDatum(rf_spi_int8(0, 1))};

		if (SPI_execute_with_args("SELECT rillflow._sequence_restored($1, $2)", 2, argtypes,
								  args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not sequence a restored store");
		stamped = rf_spi_int8(0, 1);
		rf_refuse_tick_during_load(stamped);
		if (head != NULL && stamped > 0)
		{
			rf_run_plan(store, &rf_read_state, NULL, NULL, false, 1);
			*head = rf_spi_int8(0, 1);
		}
		return stamped;
	}

	/* The store's first tick. */
	rf_run_plan(store, &rf_seed_state, values, NULL, false, 0);
	rf_run_plan(store, &rf_tick, values, NULL, false, 1);
	stamped = rf_spi_int8(0, 2);
	rf_refuse_tick_during_load(stamped);
	if (head != NULL)
		*head = rf_spi_int8(0, 4);
	return stamped;
}

/*
 * Whether a reader may run a tick here. Whoever ticks holds the store's
 * sequencer lock and its uncommitted positions until its transaction ends,
 * so only a single-statement (implicit) transaction may do it: inside
 * BEGIN ... COMMIT it would stall every other reader for as long as the
 * transaction lasts. The tick must also read the log's state with a snapshot
 * taken after it got the lock, which only READ COMMITTED gives.
 */
bool
rf_may_sequence_here(void)
{
	return !IsTransactionBlock() &&
		XactIsoLevel == XACT_READ_COMMITTED &&
		!XactReadOnly &&
		!RecoveryInProgress();
}

/*
 * rillflow._sequence(store name) RETURNS bigint
 */
Datum
rillflow_sequence(PG_FUNCTION_ARGS)
{
	RfStore		store;
	int64		stamped;

	if (XactIsoLevel != XACT_READ_COMMITTED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("the rillflow sequencer needs READ COMMITTED, not %s",
						XactIsoLevel == XACT_SERIALIZABLE ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errhint("Call it in its own transaction at the default isolation level.")));
	rf_store_by_schema(NameStr(*PG_GETARG_NAME(0)), &store);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	stamped = rf_sequence(&store, NULL);
	SPI_finish();
	PG_RETURN_INT64(stamped);
}

/*
 * rillflow._may_sequence() RETURNS boolean
 */
Datum
rillflow_may_sequence(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rf_may_sequence_here());
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
