/*-------------------------------------------------------------------------
 *
 * projection.h
 *	  The in-database projection runtime: applying events to a handler
 *	  (projection_apply.c) and running batches (projection_runtime.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_PROJECTION_H
#define RILLFLOW_PROJECTION_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

#include "core/plans.h"
#include "core/store.h"
#include "evolution/evolution.h"

/*
 * The element type of a batch handler's argument (rillflow.event_envelope).
 */
typedef struct RfEnvelopeArrayType
{
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
} RfEnvelopeArrayType;

/*
 * A handler as the runtime calls it: as its owner, under a time budget.
 *
 * Every call runs as `owner` in a security-restricted context (as
 * autovacuum and REFRESH MATERIALIZED VIEW run user code), and settings the
 * handler changes are rolled back when the call's run ends. The budget
 * (rillflow.batch_statement_timeout) starts at the first call after
 * rf_handler_budget_restart() and bounds every call after it: when it runs
 * out, the call in progress is cancelled, and cancelled again each time the
 * handler catches the cancel (in an EXCEPTION block), until it returns to
 * the runtime.
 */
typedef struct RfHandler
{
	FmgrInfo	flinfo;
	Oid			owner;
	bool		batch;			/* takes rillflow.event_envelope[] */
	RfEnvelopeArrayType array_type;
	int			budget_ms;		/* 0: no budget */
	int			calls;			/* calls started under the current budget */
	TimestampTz deadline;		/* set at the budget's first call */
	bool		cancel_charges; /* a cancel (not the budget) is the event's
								 * failure: in the worker; elsewhere it is
								 * re-thrown to the caller */
	RfUpcasters *upcasters;		/* the store's chains, NULL: none */
	RfTypeFilter types;			/* the projection's event types, as read */
} RfHandler;

typedef enum RfApplyOutcome
{
	RF_APPLY_DONE,				/* every call returned: the writes are kept */
	RF_APPLY_FAILED,			/* a call raised an error: nothing is kept */
	RF_APPLY_TIMED_OUT			/* the budget ran out: nothing is kept */
} RfApplyOutcome;

/*
 * Apply events[from..to) to a per-event handler in one subtransaction.
 * Each event is upcast first, in the run (a failing upcaster fails its
 * event as a handler error does), and an event whose type as read is not
 * one of the projection's is passed over.
 * DONE: every call returned, their writes are kept. Otherwise nothing of
 * events[from..to) is kept, *at is the event that was running, *error the
 * error (allocated in the caller's memory context; for a timeout, one that
 * names the budget), and *alone whether that call was the first of its
 * budget (it ran out of time on its own). A query cancel or statement
 * timeout of the caller is re-thrown (except in the worker, see
 * cancel_charges).
 */
extern RfApplyOutcome rf_apply_events(RfHandler *handler, const Datum *events, const int64 *positions,
									  int from, int to, int *at, ErrorData **error, bool *alone);

/*
 * A batch handler: one call on events[from..to), in log order, in one
 * subtransaction; the outcome as for rf_apply_events, with *at = from
 * (which event caused it is the caller's to find).
 */
extern RfApplyOutcome rf_apply_batch(RfHandler *handler, const Datum *events, const int64 *positions,
									 int from, int to, ErrorData **error, bool *alone);

/* Start a new budget: the next call is its first. */
extern void rf_handler_budget_restart(RfHandler *handler);

/* Whether a handler's calls are in progress in this backend. */
extern bool rf_in_handler_run(void);


/*
 * The projection name rule (22023) and the RF004 of a projection the store
 * lacks, for C and SQL (names.c).
 */
extern void rf_check_projection_name(const char *name);
extern void rf_projection_not_found(const RfStore *store, const char *name) pg_attribute_noreturn();

/*
 * The names of a store's running worker-kind projections, in name order:
 * what run_projections_until_idle() and the background worker run.
 */
extern const RfPlanSpec rf_running_projections_spec;

#endif							/* RILLFLOW_PROJECTION_H */
