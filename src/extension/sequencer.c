/*-------------------------------------------------------------------------
 *
 * sequencer.c
 *	  The C helpers of the sequencer (sql/20_sequencer.sql): whether this
 *	  session may run a tick, and the cluster's identity.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "fmgr.h"

#include "rillflow.h"

PG_FUNCTION_INFO_V1(rillflow_may_sequence);
PG_FUNCTION_INFO_V1(rillflow_system_identifier);

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
