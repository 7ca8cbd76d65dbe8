/*-------------------------------------------------------------------------
 *
 * wait.c
 *	  rillflow.wait_for_projection, which blocks on the backend's latch until
 *	  a projection has passed a position, and the SQL views of the worker's
 *	  shared state.
 *
 *	  A waiter registers itself in shared memory (its PGPROC number and
 *	  database) before its first look at the checkpoint, and every commit of
 *	  projection_commit in the database sets its latch (shmem.c), so no
 *	  advance is missed between a look and the sleep. Each look runs with a
 *	  new snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "projections/projection.h"
#include "worker/worker.h"

PG_FUNCTION_INFO_V1(rillflow_wait_for_projection);
PG_FUNCTION_INFO_V1(rillflow_worker_slots);
PG_FUNCTION_INFO_V1(rillflow_worker_extension_created);

/* Without shared memory there is nobody to wake us: look this often. */
#define RF_WAIT_POLL_MS 50

static void
rf_set_waiting(Oid dboid)
{
	if (rf_shared == NULL)
		return;
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	rf_waiters[MyProc->pgprocno] = dboid;
	LWLockRelease(rf_shared->lock);
}

static const RfPlanSpec rf_checkpoint_plan = {
	"SELECT checkpoint FROM %s.projections WHERE name OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

/*
 * The projection's checkpoint in the current store, read with a new
 * snapshot (a read-write SPI execution takes one); RF004 when the store has
 * no such projection.
 */
static int64
rf_read_checkpoint(const RfStore *store, const char *name, Datum name_datum)
{
	rf_run_plan(store, &rf_checkpoint_plan, &name_datum, NULL, false, 1);
	if (SPI_processed != 1)
		rf_projection_not_found(store, name);
	return rf_spi_int8(0, 1);
}

/* An interval as milliseconds; months count 30 days, as interval_cmp does. */
static int64
rf_interval_ms(const Interval *span)
{
	int64		us = span->time;

	us += (int64) span->day * USECS_PER_DAY;
	us += (int64) span->month * DAYS_PER_MONTH * USECS_PER_DAY;
	return us / 1000;
}

/*
 * rillflow.wait_for_projection(name text, position bigint, timeout interval)
 *     RETURNS boolean
 *
 * True as soon as the projection's checkpoint is at least position; false
 * when the timeout passes first.
 */
Datum
rillflow_wait_for_projection(PG_FUNCTION_ARGS)
{
	char	   *name;
	Datum		name_datum;
	int64		position;
	int64		timeout_ms;
	TimestampTz deadline;
	const RfStore *store;
	bool		reached = false;

	rf_require_arg(fcinfo, 0, "name", NULL);
	rf_require_arg(fcinfo, 1, "position", NULL);
	rf_require_arg(fcinfo, 2, "timeout", "Pass an interval such as '5 seconds'.");
	name_datum = PG_GETARG_DATUM(0);
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	position = PG_GETARG_INT64(1);
	timeout_ms = rf_interval_ms(PG_GETARG_INTERVAL_P(2));
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative"),
				 errhint("Pass '0' to look once without waiting.")));
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("wait_for_projection needs READ COMMITTED"),
				 errdetail("At %s the transaction's snapshot never shows the projection advancing.",
						   XactIsoLevel == XACT_SERIALIZABLE ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errhint("Call it outside the transaction, or at the default isolation level.")));

	store = rf_current_store();
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Min(timeout_ms, INT_MAX));

	/* A nudge, in case an append committed without waking the worker. */
	rf_wake_db_worker(MyDatabaseId);
	rf_set_waiting(MyDatabaseId);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		for (;;)
		{
			long		remaining;

			if (rf_read_checkpoint(store, name, name_datum) >= position)
			{
				reached = true;
				break;
			}
			remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (remaining <= 0)
				break;
			if (rf_shared == NULL)
				remaining = Min(remaining, RF_WAIT_POLL_MS);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 remaining, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		rf_set_waiting(InvalidOid);
	}
	PG_END_TRY();
	PG_RETURN_BOOL(reached);
}

static const char *
rf_slot_state_name(RfSlotState state)
{
	switch (state)
	{
		case RF_SLOT_FREE:
			return "stopping";
		case RF_SLOT_REGISTERED:
			return "starting";
		case RF_SLOT_RUNNING:
			return "running";
		case RF_SLOT_NO_EXTENSION:
			return "no extension";
		case RF_SLOT_DISABLED:
			return "disabled";
	}
	return "unknown";
}

/*
 * rillflow._worker_slots() RETURNS TABLE(process text, datid oid, pid int,
 *     state text, started_at timestamptz, last_pass_at timestamptz,
 *     passes bigint, events_sequenced bigint, events_projected bigint,
 *     errors bigint)
 *
 * The launcher and every database worker slot in use.
 */
Datum
rillflow_worker_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[10];
	bool		nulls[10];

	InitMaterializedSRF(fcinfo, 0);
	if (rf_shared == NULL)
		PG_RETURN_VOID();

	LWLockAcquire(rf_shared->lock, LW_SHARED);
	if (rf_shared->launcher_pid != 0)
	{
		memset(nulls, true, sizeof(nulls));
		values[0] = CStringGetTextDatum("launcher");
		nulls[0] = false;
		values[2] = Int32GetDatum(rf_shared->launcher_pid);
		nulls[2] = false;
		values[3] = CStringGetTextDatum(rf_worker_enabled ? "running" : "disabled");
		nulls[3] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		RfDbSlot   *slot = &rf_shared->slots[i];

		if (slot->dboid == InvalidOid)
			continue;
		memset(nulls, false, sizeof(nulls));
		values[0] = CStringGetTextDatum("worker");
		values[1] = ObjectIdGetDatum(slot->dboid);
		values[2] = Int32GetDatum(slot->pid);
		nulls[2] = slot->pid == 0;
		values[3] = CStringGetTextDatum(rf_slot_state_name(slot->state));
		values[4] = TimestampTzGetDatum(slot->started_at);
		nulls[4] = slot->started_at == 0;
		values[5] = TimestampTzGetDatum(slot->last_pass_at);
		nulls[5] = slot->last_pass_at == 0;
		values[6] = Int64GetDatum(slot->passes);
		values[7] = Int64GetDatum(slot->events_sequenced);
		values[8] = Int64GetDatum(slot->events_projected);
		values[9] = Int64GetDatum(slot->errors);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(rf_shared->lock);
	PG_RETURN_VOID();
}

/*
 * rillflow._worker_extension_created() RETURNS void
 *
 * Run by the install script: at commit, the launcher looks at the databases
 * it had found without the extension again, so a worker starts here within
 * a naptime.
 */
Datum
rillflow_worker_extension_created(PG_FUNCTION_ARGS)
{
	rf_note_extension_created();
	PG_RETURN_VOID();
}
