/*-------------------------------------------------------------------------
 *
 * wait.c
 *	  rillflow.wait_for_projection, which blocks on the backend's latch until
 *	  a projection has passed a position.
 *
 *	  A waiter registers itself in shared memory (its PGPROC number and
 *	  database) before its first look at the checkpoint, and every commit of
 *	  projection_commit in the database sets its latch (core/shmem.c), so no
 *	  advance is missed between a look and the sleep. Each look runs with a
 *	  new snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/args.h"
#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "projections/projection.h"

PG_FUNCTION_INFO_V1(rillflow_wait_for_projection);

/* Without shared memory there is nobody to wake us: look this often. */
#define RF_WAIT_POLL_MS 50

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
	/* The checkpoint is a position: on disk before the caller acts on it (core/shmem.h). */
	if (reached)
		rf_log_make_durable();
	PG_RETURN_BOOL(reached);
}
