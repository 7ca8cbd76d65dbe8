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
 *	  A batch handler takes rillflow.event_envelope[] and is called once per
 *	  run of events (rf_apply_batch), so it can write the whole run with one
 *	  set-based statement. When the call fails, the runtime finds the failing
 *	  event by bisection (projection_runtime.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "projections/projection.h"

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

/*
 * The end of a handler call that raised an error: the error copied out, the
 * subtransaction rolled back, the call's memory freed. A cancel or a statement
 * timeout stops the whole run (the caller, the worker or a user, asked for
 * it, and must see it), noting `position` for the worker's report; any other
 * error is returned.
 */
static ErrorData *
rf_end_failed_call(MemoryContext oldcxt, ResourceOwner oldowner, MemoryContext callcxt,
				   int64 position)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(oldcxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	MemoryContextDelete(callcxt);
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
	{
		rf_interrupted_position = position;
		ReThrowError(edata);
	}
	return edata;
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
		*error = rf_end_failed_call(oldcxt, oldowner, eventcxt, positions[i]);
		return i;
	}
	PG_END_TRY();

	MemoryContextDelete(eventcxt);
	return -1;
}

bool
rf_apply_batch(FmgrInfo *handler, const RfEnvelopeArrayType *type, const Datum *events,
			   const int64 *positions, int from, int to, ErrorData **error)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	MemoryContext callcxt;

	Assert(to > from);
	/* The array and whatever the call leaves in its memory context go with the call. */
	callcxt = AllocSetContextCreate(oldcxt, "rillflow projection batch", ALLOCSET_DEFAULT_SIZES);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		ArrayType  *array;
		Datum	   *elems;

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(callcxt);

		/*
		 * construct_array detoasts into its argument: give it a copy, so that
		 * events[] never points into this call's memory.
		 */
		elems = palloc(sizeof(Datum) * (to - from));
		memcpy(elems, events + from, sizeof(Datum) * (to - from));
		array = construct_array(elems, to - from, type->elemtype,
								type->typlen, type->typbyval, type->typalign);
		InitFunctionCallInfoData(*fcinfo, handler, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = PointerGetDatum(array);
		fcinfo->args[0].isnull = false;
		(void) FunctionCallInvoke(fcinfo);
		MemoryContextSwitchTo(oldcxt);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		*error = rf_end_failed_call(oldcxt, oldowner, callcxt, positions[from]);
		return false;
	}
	PG_END_TRY();

	MemoryContextDelete(callcxt);
	return true;
}
