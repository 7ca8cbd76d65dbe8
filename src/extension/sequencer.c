/*-------------------------------------------------------------------------
 *
 * sequencer.c
 *	  The C helpers of the sequencer (sql/20_sequencer.sql): its lock,
 *	  whether this session may run a tick, and the cluster's identity.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "rillflow.h"

PG_FUNCTION_INFO_V1(rillflow_try_sequencer_lock);
PG_FUNCTION_INFO_V1(rillflow_may_sequence);
PG_FUNCTION_INFO_V1(rillflow_system_identifier);

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
 * rillflow._try_sequencer_lock(store name) RETURNS boolean
 *
 * Take the store's sequencer lock for the rest of the transaction if it is
 * free: a transaction-scoped advisory lock on (RFLG, low 32 bits of the
 * store schema's OID), so stores never wait on each other.
 */
Datum
rillflow_try_sequencer_lock(PG_FUNCTION_ARGS)
{
	Oid			store = get_namespace_oid(NameStr(*PG_GETARG_NAME(0)), false);
	bool		locked;

	locked = DatumGetBool(DirectFunctionCall2(pg_try_advisory_xact_lock_int4,
											  Int32GetDatum(RF_SEQUENCER_LOCK_CLASS),
											  Int32GetDatum((int32) store)));
	if (locked)
	{
		if (!rf_xact_callback_registered)
		{
			RegisterXactCallback(rf_sequencer_xact_callback, NULL);
			rf_xact_callback_registered = true;
		}
		rf_xact_holds_sequencer = true;
	}
	PG_RETURN_BOOL(locked);
}

/*
 * rillflow._may_sequence() RETURNS boolean
 *
 * Whether a reader may run a tick here. Whoever ticks holds the store's
 * sequencer lock and its uncommitted positions until its transaction ends,
 * so only a single-statement (implicit) transaction may do it: inside
 * BEGIN ... COMMIT it would stall every other reader for as long as the
 * transaction lasts. The tick must also read the log's state with a snapshot
 * taken after it got the lock, which only READ COMMITTED gives.
 */
Datum
rillflow_may_sequence(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!IsTransactionBlock() &&
				   XactIsoLevel == XACT_READ_COMMITTED &&
				   !XactReadOnly &&
				   !RecoveryInProgress());
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
