/*-------------------------------------------------------------------------
 *
 * projection_apply.c
 *	  Calling a projection's handler on events, in a subtransaction.
 *
 *	  The handler is called through the function manager with a cached
 *	  FmgrInfo and the envelope as a composite Datum: no SQL statement is
 *	  planned per event, and a handler in any language works.
 *
 *	  A run of events shares one subtransaction rather than one each: a
 *	  subtransaction per event would give each writing event its own
 *	  subtransaction id (past 64 per transaction, every snapshot in the
 *	  cluster overflows into pg_subtrans) and would make an SQL-language
 *	  handler replan on every call. The effect is the same as one per event:
 *	  when event k fails, the caller rolls the run back and applies the events
 *	  before k again (runtime: rf_apply_events is called with the shorter
 *	  range), so each event's writes are kept or dropped as a whole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "projection.h"

static int64 rf_interrupted_position = 0;

int64
rf_projection_interrupted_position(void)
{
	return rf_interrupted_position;
}

void
rf_projection_set_interrupted(int64 position)
{
	rf_interrupted_position = position;
}

int
rf_apply_events(FmgrInfo *handler, const Datum *events, const int64 *positions,
				int from, int to, ErrorData **error)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	MemoryContext eventcxt;
	volatile int i = from;

	/* Whatever one call leaves in its memory context goes with the call. */
	eventcxt = AllocSetContextCreate(oldcxt, "rillflow projection event", ALLOCSET_DEFAULT_SIZES);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		for (; i < to; i++)
		{
			LOCAL_FCINFO(fcinfo, 1);

			CHECK_FOR_INTERRUPTS();
			MemoryContextSwitchTo(eventcxt);
			InitFunctionCallInfoData(*fcinfo, handler, 1, InvalidOid, NULL, NULL);
			fcinfo->args[0].value = events[i];
			fcinfo->args[0].isnull = false;
			(void) FunctionCallInvoke(fcinfo);
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(eventcxt);
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		MemoryContextDelete(eventcxt);

		/*
		 * A cancel or a statement timeout stops the whole run: the caller
		 * (the worker, or a user) asked for it, and must see it.
		 */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		{
			rf_interrupted_position = positions[i];
			ReThrowError(edata);
		}
		*error = edata;
		return i;
	}
	PG_END_TRY();

	MemoryContextDelete(eventcxt);
	return -1;
}
