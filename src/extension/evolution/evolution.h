/*-------------------------------------------------------------------------
 *
 * evolution.h
 *	  Event evolution: upcasting stored events to their newest version
 *	  (upcast.c), calling user code as the role that registered it
 *	  (user_code.c), aggregates and snapshots (aggregates.c).
 *
 *	  The one upcasting entry point every read path calls is
 *	  rf_upcast_fields(): it takes an event's envelope fields (the columns
 *	  of rillflow.event_envelope, in order) and rewrites type, event_version
 *	  and body in place when a chain applies. read_all, read_stream, the
 *	  projection runtime and aggregate loads go through it; so should any
 *	  new read path (subscription polls).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_EVOLUTION_H
#define RILLFLOW_EVOLUTION_H

#include "postgres.h"

#include "fmgr.h"
#include "tcop/dest.h"

#include "core/plans.h"
#include "core/store.h"

/* The columns of rillflow.event_envelope, 0-based. */
typedef enum RfEnvelopeColumn
{
	RF_ENV_POSITION = 0,
	RF_ENV_STREAM_ID,
	RF_ENV_VERSION,
	RF_ENV_TYPE,
	RF_ENV_EVENT_VERSION,
	RF_ENV_BODY,
	RF_ENV_HEADERS,
	RF_ENV_EVENT_ID,
	RF_ENV_CAUSATION_ID,
	RF_ENV_CORRELATION_ID,
	RF_ENV_CREATED_AT,
	RF_ENV_NATTS
} RfEnvelopeColumn;

/* A store's upcasting chains, as loaded for a read (upcast.c). */
typedef struct RfUpcasters RfUpcasters;

/*
 * The store's chains, loaded from its registry once per backend and kept
 * until the registry (or a function or role) changes; NULL when the store
 * has no upcaster, so a read can skip upcasting altogether. SPI must be
 * connected. The result stays valid until rf_upcasters_release().
 */
extern RfUpcasters *rf_upcasters_acquire(const RfStore *store);
extern void rf_upcasters_release(RfUpcasters *ups);

/*
 * Upcast one event: values/isnull are its envelope fields (RF_ENV_*).
 * When a chain starts at its (type, event_version), each step's function
 * is called, as the role that registered it, security-restricted; type,
 * event_version and body are replaced (allocated in the current memory
 * context) and true returned. False: the event is at its newest. A failing
 * step raises an error naming the event's position, stream version, type,
 * event_version and the step, with the step's SQLSTATE.
 */
extern bool rf_upcast_fields(RfUpcasters *ups, Datum *values, bool *isnull);

/* A filter on the types as read (upcast): NULL types for none. */
typedef struct RfTypeFilter
{
	Datum	   *types;
	int			ntypes;
} RfTypeFilter;

extern void rf_type_filter_init(RfTypeFilter *filter, Datum types);
extern bool rf_type_filter_match(const RfTypeFilter *filter, Datum type);

/*
 * The same for an envelope Datum: a new one when upcast, else the same;
 * *wanted says whether its type as read passes `filter` (NULL: every type).
 */
extern Datum rf_upcast_envelope(RfUpcasters *ups, Datum envelope, const RfTypeFilter *filter,
								bool *wanted);

/*
 * The stored types to read when a caller filters on `types` (a text[]):
 * `types` and every type whose chain ends in one of them. The reader then
 * keeps the rows whose upcast type is among `types` (rf_upcast_receiver).
 * (Datum) 0 in, (Datum) 0 out.
 */
extern Datum rf_upcast_source_types(RfUpcasters *ups, Datum types);

/*
 * A receiver that upcasts each envelope row (whose first RF_ENV_NATTS
 * columns are rillflow.event_envelope's) and passes it on to `inner`; with
 * `types` (a text[] Datum, or 0), rows whose upcast type is not among them
 * are dropped.
 */
extern DestReceiver *rf_upcast_receiver(RfUpcasters *ups, DestReceiver *inner, Datum types);

/*
 * rf_run_plan_into, with each row upcast by rf_upcast_receiver: what
 * read_all and read_stream run.
 */
extern void rf_upcast_run_plan_into(RfUpcasters *ups, const RfStore *store, const RfPlanSpec *spec,
									Datum *values, const char *nulls, bool read_only, Datum types,
									Tuplestorestate *result, TupleDesc result_desc);

/*
 * Calling user code (user_code.c): as `owner`, with
 * SECURITY_RESTRICTED_OPERATION, in a GUC nest level; restored on return.
 * On error nothing is restored by hand: the (sub)transaction's abort does it.
 */
typedef struct RfUserCall
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			nestlevel;
} RfUserCall;

extern void rf_user_call_enter(RfUserCall *call, Oid owner);
extern void rf_user_call_leave(RfUserCall *call);

/*
 * Check that a role may run a function as user code: the role exists and
 * has EXECUTE on it. `what` names it in the error ("upcaster", "fold").
 */
extern void rf_check_user_function(Oid fn, Oid owner, const char *what);

#endif							/* RILLFLOW_EVOLUTION_H */
