/*-------------------------------------------------------------------------
 *
 * projection_apply.c
 *	  Calling a projection's handler on events, in a subtransaction, as the
 *	  projection's owner, under a time budget.
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
 *	  Who runs it. Whoever runs the batch (the worker, as its role, or a user
 *	  calling run_projection), the calls run as the projection's owner with
 *	  SECURITY_RESTRICTED_OPERATION, as autovacuum and REFRESH MATERIALIZED
 *	  VIEW run index expressions and view queries (matview.c): the handler
 *	  cannot SET ROLE back to the caller, create temporary objects that would
 *	  outlive it, or queue deferred triggers to fire as the caller. Settings
 *	  it changes (SET, SET LOCAL, set_config) are rolled back when the run
 *	  ends, through a GUC nest level, as for a function with SET clauses.
 *	  Both are restored on every exit: by hand when the run succeeds, by the
 *	  subtransaction's abort otherwise (it restores the user id and pops the
 *	  nest levels opened inside it).
 *
 *	  The budget. rillflow.batch_statement_timeout is armed as a timeout of
 *	  our own (not statement_timeout, which belongs to the caller) at the
 *	  budget's deadline while a run's calls are in progress. When it fires,
 *	  the call is cancelled like a query cancel; a handler that catches
 *	  query_canceled is cancelled again at its next statement: every
 *	  subtransaction it aborts inside the run (as an EXCEPTION block does
 *	  when it catches) sets the cancel again, so the cancel leaves the
 *	  handler as soon as it runs any statement, whatever it catches.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timeout.h"

#include "projections/projection.h"

/* The budget's timeout (registered on first use) and its state. */
static TimeoutId rf_budget_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t rf_budget_fired = false;

/* The subtransaction of the run in progress, invalid outside one. */
static SubTransactionId rf_run_subid = InvalidSubTransactionId;

/* What a run changes and gives back on its way out. */
typedef struct RfRunState
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;
} RfRunState;

/* The budget ran out: cancel what runs (called in a signal handler). */
static void
rf_budget_expired(void)
{
	rf_budget_fired = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * A subtransaction inside a run aborted after the budget ran out: the
 * handler caught the cancel (an EXCEPTION block). Cancel again, so the
 * cancel reaches the run at the handler's next statement.
 */
static void
rf_subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
					void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && rf_budget_fired &&
		rf_run_subid != InvalidSubTransactionId && mySubid > rf_run_subid)
	{
		QueryCancelPending = true;
		InterruptPending = true;
	}
}

/* A transaction that aborts takes any run with it: disarm. */
static void
rf_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		if (rf_budget_timeout < MAX_TIMEOUTS)
			disable_timeout(rf_budget_timeout, false);
		rf_budget_fired = false;
		rf_run_subid = InvalidSubTransactionId;
	}
}

static void
rf_budget_init(void)
{
	if (rf_budget_timeout < MAX_TIMEOUTS)
		return;
	rf_budget_timeout = RegisterTimeout(USER_TIMEOUT, rf_budget_expired);
	RegisterSubXactCallback(rf_subxact_callback, NULL);
	RegisterXactCallback(rf_xact_callback, NULL);
}

bool
rf_in_handler_run(void)
{
	return rf_run_subid != InvalidSubTransactionId;
}

void
rf_handler_budget_restart(RfHandler *handler)
{
	handler->calls = 0;
}

/*
 * Enter a run, just after its subtransaction began: the owner's identity,
 * restricted; a GUC nest level; the budget armed.
 */
static void
rf_run_enter(RfHandler *handler, RfRunState *state)
{
	rf_budget_init();
	rf_run_subid = GetCurrentSubTransactionId();
	rf_budget_fired = false;
	GetUserIdAndSecContext(&state->userid, &state->sec_context);
	SetUserIdAndSecContext(handler->owner, state->sec_context | SECURITY_RESTRICTED_OPERATION);
	state->nestlevel = NewGUCNestLevel();
}

/* Start a call: the first of a budget sets its deadline and arms it. */
static bool
rf_call_begin(RfHandler *handler)
{
	bool		first = handler->calls == 0;

	handler->calls++;
	if (handler->budget_ms > 0)
	{
		if (first)
		{
			handler->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), handler->budget_ms);
			enable_timeout_at(rf_budget_timeout, handler->deadline);
		}
		else if (!get_timeout_active(rf_budget_timeout))
			enable_timeout_at(rf_budget_timeout, handler->deadline);
	}
	return first;
}

static void
rf_budget_disarm(void)
{
	disable_timeout(rf_budget_timeout, false);
}

/*
 * Leave a run whose calls all returned: settings back, the caller's
 * identity back, the budget disarmed. A cancel the budget set after the last
 * call returned is dropped: the run is complete.
 */
static void
rf_run_leave(RfRunState *state)
{
	rf_budget_disarm();
	if (rf_budget_fired)
		QueryCancelPending = false;
	AtEOXact_GUC(false, state->nestlevel);
	SetUserIdAndSecContext(state->userid, state->sec_context);
	rf_run_subid = InvalidSubTransactionId;
}

/*
 * The end of a run that raised an error: the error copied out, the
 * subtransaction rolled back (which restores the caller's identity and
 * settings), the run's memory freed, and the outcome told apart:
 * - the budget ran out during the run: TIMED_OUT, with an error naming the
 *	 budget (whatever the handler made of the cancel);
 * - a cancel or statement timeout of the caller: re-thrown (the caller, a
 *	 user, asked for it and must see it), or in the worker, which has no
 *	 caller to tell, the failure of the event;
 * - any other error: FAILED.
 */
static RfApplyOutcome
rf_end_failed_run(RfHandler *handler, MemoryContext oldcxt, ResourceOwner oldowner,
				  MemoryContext callcxt, ErrorData **error)
{
	ErrorData  *edata;
	bool		fired;

	rf_budget_disarm();
	fired = rf_budget_fired;
	MemoryContextSwitchTo(oldcxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	MemoryContextDelete(callcxt);
	rf_run_subid = InvalidSubTransactionId;
	rf_budget_fired = false;
	/* A cancel set again after the last catch is not for anyone. */
	if (fired)
		QueryCancelPending = false;

	if (fired)
	{
		char	   *context = edata->context ? pstrdup(edata->context) : NULL;

		FreeErrorData(edata);
		edata = palloc0(sizeof(ErrorData));
		edata->elevel = ERROR;
		edata->sqlerrcode = ERRCODE_QUERY_CANCELED;
		edata->message = pstrdup("canceling projection handler due to rillflow.batch_statement_timeout");
		edata->detail = psprintf("The handler's calls ran past the batch's budget of %d ms.", handler->budget_ms);
		edata->context = context;
		*error = edata;
		return RF_APPLY_TIMED_OUT;
	}
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !handler->cancel_charges)
		ReThrowError(edata);
	*error = edata;
	return RF_APPLY_FAILED;
}

RfApplyOutcome
rf_apply_events(RfHandler *handler, const Datum *events, const int64 *positions,
				int from, int to, int *at, ErrorData **error, bool *alone)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	MemoryContext eventcxt;
	RfRunState	state;
	volatile int i = from;
	volatile bool first = false;

	/* Whatever one call leaves in its memory context goes with the call. */
	eventcxt = AllocSetContextCreate(oldcxt, "rillflow projection event", ALLOCSET_DEFAULT_SIZES);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	rf_run_enter(handler, &state);

	PG_TRY();
	{
		for (; i < to; i++)
		{
			LOCAL_FCINFO(fcinfo, 1);
			Datum		event;
			bool		wanted;

			first = false;
			CHECK_FOR_INTERRUPTS();
			first = rf_call_begin(handler);
			MemoryContextSwitchTo(eventcxt);
			event = rf_upcast_envelope(handler->upcasters, events[i], &handler->types, &wanted);
			if (!wanted)
			{
				MemoryContextSwitchTo(oldcxt);
				MemoryContextReset(eventcxt);
				continue;
			}
			InitFunctionCallInfoData(*fcinfo, &handler->flinfo, 1, InvalidOid, NULL, NULL);
			fcinfo->args[0].value = event;
			fcinfo->args[0].isnull = false;
			(void) FunctionCallInvoke(fcinfo);
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(eventcxt);
		}
		rf_run_leave(&state);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		RfApplyOutcome outcome = rf_end_failed_run(handler, oldcxt, oldowner, eventcxt, error);

		*at = i;
		*alone = first;
		return outcome;
	}
	PG_END_TRY();

	MemoryContextDelete(eventcxt);
	return RF_APPLY_DONE;
}

RfApplyOutcome
rf_apply_batch(RfHandler *handler, const Datum *events, const int64 *positions,
			   int from, int to, ErrorData **error, bool *alone)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	MemoryContext callcxt;
	RfRunState	state;
	volatile bool first = false;

	Assert(to > from);
	/* The array and whatever the call leaves in its memory context go with the call. */
	callcxt = AllocSetContextCreate(oldcxt, "rillflow projection batch", ALLOCSET_DEFAULT_SIZES);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	rf_run_enter(handler, &state);

	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		const RfEnvelopeArrayType *type = &handler->array_type;
		ArrayType  *array;
		Datum	   *elems;
		int			nelems = 0;

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(callcxt);

		/*
		 * construct_array detoasts into its argument: give it a copy, so that
		 * events[] never points into this call's memory. Each event is
		 * upcast on the way (a failure fails the call, and bisection finds
		 * the event); those whose type as read is not the projection's stay
		 * out.
		 */
		first = rf_call_begin(handler);
		elems = palloc(sizeof(Datum) * (to - from));
		for (int k = from; k < to; k++)
		{
			bool		wanted;
			Datum		event = rf_upcast_envelope(handler->upcasters, events[k], &handler->types, &wanted);

			if (wanted)
				elems[nelems++] = event;
		}
		if (nelems > 0)
		{
			array = construct_array(elems, nelems, type->elemtype,
									type->typlen, type->typbyval, type->typalign);
			InitFunctionCallInfoData(*fcinfo, &handler->flinfo, 1, InvalidOid, NULL, NULL);
			fcinfo->args[0].value = PointerGetDatum(array);
			fcinfo->args[0].isnull = false;
			(void) FunctionCallInvoke(fcinfo);
		}
		MemoryContextSwitchTo(oldcxt);
		rf_run_leave(&state);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		RfApplyOutcome outcome = rf_end_failed_run(handler, oldcxt, oldowner, callcxt, error);

		*alone = first;
		return outcome;
	}
	PG_END_TRY();

	MemoryContextDelete(callcxt);
	return RF_APPLY_DONE;
}
