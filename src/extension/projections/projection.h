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

#include "core/plans.h"
#include "core/store.h"

/*
 * Apply events[from..to) to the handler in one subtransaction. Returns -1
 * when every call succeeded (their writes are kept), or the index of the
 * event whose call raised an error: then nothing of events[from..to) is kept
 * and *error holds the error (allocated in the caller's memory context).
 * A query cancel or statement timeout is not a handler failure: it is
 * re-thrown, after noting the event it interrupted (see below).
 */
extern int	rf_apply_events(FmgrInfo *handler, const Datum *events, const int64 *positions,
							int from, int to, ErrorData **error);

/*
 * A batch handler (one taking rillflow.event_envelope[]): call it once on
 * events[from..to), in log order, in one subtransaction. Returns true when
 * the call succeeded (its writes are kept); false when it raised an error:
 * then nothing of the call is kept and *error holds the error. Which event
 * caused it is the caller's to find (the runtime bisects). A cancel or
 * statement timeout is re-thrown, noting the batch's first event.
 */
typedef struct RfEnvelopeArrayType
{
	Oid			elemtype;		/* rillflow.event_envelope */
	int16		typlen;
	bool		typbyval;
	char		typalign;
} RfEnvelopeArrayType;

extern bool rf_apply_batch(FmgrInfo *handler, const RfEnvelopeArrayType *type, const Datum *events,
						   const int64 *positions, int from, int to, ErrorData **error);

/*
 * The position of the event whose handler call was cancelled (query cancel
 * or statement_timeout) in this backend's last run, 0 when no call was
 * interrupted. The background worker reads it after catching the cancel, to
 * report the failure with rillflow.projection_fail(name, NULL, position, ...)
 * in a new transaction.
 */
extern int64 rf_projection_interrupted_position(void);
extern void rf_projection_set_interrupted(int64 position);

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
