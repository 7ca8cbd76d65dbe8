/*-------------------------------------------------------------------------
 *
 * log_page.c
 *	  A page of the whole log for read_all, at the speed of a range scan.
 *
 *	  A page's positions (position -> seq, in the positions table) mostly
 *	  name events whose seqs rise with their positions and lie close
 *	  together: ticks stamp in commit order, which is nearly the order in
 *	  which appends drew their provisional numbers. Joining the positions to
 *	  the events one index descent at a time costs a descent per event;
 *	  instead the page is read in two statements on one snapshot:
 *	  1. the page's positions and seqs (a short range of the positions
 *	     primary key);
 *	  2. the events whose seq lies from the lowest of them to the highest
 *	     (one range of the events primary key, in seq order), each matched to
 *	     its position by a merge walk as it comes out of the executor, and
 *	     handed on in the envelope's shape (to the function's result, or
 *	     through the upcasters first).
 *	  When the seqs do not rise with the positions (a transaction that stayed
 *	  open while later ones committed), or lie far apart (the range would
 *	  hold mostly other events), the caller reads the page with the join
 *	  instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "executor/tuptable.h"
#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "core/plans.h"
#include "core/store.h"
#include "events/log_page.h"
#include "evolution/evolution.h"

static const RfPlanSpec rf_page_positions_plan = {
	"SELECT position, seq FROM %s.positions WHERE position OPERATOR(pg_catalog.>) $1 "
	"ORDER BY position LIMIT $2",
	2, {INT8OID, INT4OID},
	CURSOR_OPT_GENERIC_PLAN
};

/* The same up to a head (the projections' batches, which read up to one). */
static const RfPlanSpec rf_page_positions_upto_plan = {
	"SELECT position, seq FROM %s.positions WHERE position OPERATOR(pg_catalog.>) $1 "
	"AND position OPERATOR(pg_catalog.<=) $2 ORDER BY position LIMIT $3",
	3, {INT8OID, INT8OID, INT4OID},
	CURSOR_OPT_GENERIC_PLAN
};

/* The envelope's columns, with the seq where the position goes. */
static const RfPlanSpec rf_page_events_plan = {
	"SELECT e.seq, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers, "
	"e.event_id, e.causation_id, e.correlation_id, e.created_at "
	"FROM %s.events e WHERE e.seq OPERATOR(pg_catalog.>=) $1 AND e.seq OPERATOR(pg_catalog.<=) $2 "
	"ORDER BY e.seq",
	2, {INT8OID, INT8OID},
	CURSOR_OPT_GENERIC_PLAN
};

/* A page whose seqs spread wider than this reads each event by its seq. */
#define RF_PAGE_SPREAD(n) (4 * (int64) (n) + 64)

typedef struct RfPageReceiver
{
	DestReceiver pub;
	DestReceiver *next;			/* gets the rows in the envelope's shape */
	TupleDesc	desc;			/* the envelope's */
	TupleTableSlot *out;
	const int64 *positions;
	const int64 *seqs;
	int			n;
	int			at;				/* the next position to match */
} RfPageReceiver;

static bool
rf_page_receive(TupleTableSlot *slot, DestReceiver *self)
{
	RfPageReceiver *r = (RfPageReceiver *) self;
	int64		seq;
	int			natts = r->desc->natts;

	slot_getallattrs(slot);
	seq = DatumGetInt64(slot->tts_values[0]);
	/* A position whose event is not in the table any more (archived) passes. */
	while (r->at < r->n && r->seqs[r->at] < seq)
		r->at++;
	/* An event of no position of this page (another page's, or unstamped). */
	if (r->at >= r->n || r->seqs[r->at] != seq)
		return true;

	ExecClearTuple(r->out);
	memcpy(r->out->tts_values, slot->tts_values, sizeof(Datum) * natts);
	memcpy(r->out->tts_isnull, slot->tts_isnull, sizeof(bool) * natts);
	r->out->tts_values[0] = Int64GetDatum(r->positions[r->at]);
	r->out->tts_isnull[0] = false;
	ExecStoreVirtualTuple(r->out);
	r->at++;
	return r->next->receiveSlot(r->out, r->next);
}

static void
rf_page_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	RfPageReceiver *r = (RfPageReceiver *) self;

	if (typeinfo->natts != r->desc->natts)
		elog(ERROR, "rillflow log page: %d columns where the envelope has %d",
			 typeinfo->natts, r->desc->natts);
	r->next->rStartup(r->next, operation, r->desc);
}

static void
rf_page_shutdown(DestReceiver *self)
{
	RfPageReceiver *r = (RfPageReceiver *) self;

	r->next->rShutdown(r->next);
}

static void
rf_page_destroy(DestReceiver *self)
{
	RfPageReceiver *r = (RfPageReceiver *) self;

	ExecDropSingleTupleTableSlot(r->out);
	pfree(r);
}

bool
rf_read_log_page(const RfStore *store, int64 after, int32 max_count, RfUpcasters *ups,
				 Tuplestorestate *result, TupleDesc result_desc)
{
	Datum		values[2];
	int64	   *positions;
	int64	   *seqs;
	int			n;
	bool		isnull;
	RfPageReceiver *r;
	DestReceiver *next;
	SPIExecuteOptions options;
	ParamListInfo params;
	int			ret;

	/* One snapshot for both statements: the events of every position it shows. */
	PushActiveSnapshot(GetTransactionSnapshot());

	values[0] = Int64GetDatum(after);
	values[1] = Int32GetDatum(max_count);
	rf_run_plan(store, &rf_page_positions_plan, values, NULL, true, 0);
	n = (int) SPI_processed;
	if (n == 0)
	{
		PopActiveSnapshot();
		return true;
	}
	positions = palloc(sizeof(int64) * n);
	seqs = palloc(sizeof(int64) * n);
	for (int i = 0; i < n; i++)
	{
		positions[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		seqs[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		if (i > 0 && seqs[i] <= seqs[i - 1])
		{
			PopActiveSnapshot();
			return false;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	if (seqs[n - 1] - seqs[0] >= RF_PAGE_SPREAD(n))
	{
		PopActiveSnapshot();
		return false;
	}

	next = CreateTuplestoreDestReceiver();
	SetTuplestoreDestReceiverParams(next, result, CurrentMemoryContext, false,
									result_desc, "rillflow log page does not match the envelope");
	if (ups != NULL)
		next = rf_upcast_receiver(ups, next, (Datum) 0);

	r = palloc0(sizeof(RfPageReceiver));
	r->pub.receiveSlot = rf_page_receive;
	r->pub.rStartup = rf_page_startup;
	r->pub.rShutdown = rf_page_shutdown;
	r->pub.rDestroy = rf_page_destroy;
	r->pub.mydest = DestNone;
	r->next = next;
	r->desc = result_desc;
	r->out = MakeSingleTupleTableSlot(result_desc, &TTSOpsVirtual);
	r->positions = positions;
	r->seqs = seqs;
	r->n = n;

	params = makeParamList(2);
	params->params[0].value = Int64GetDatum(seqs[0]);
	params->params[1].value = Int64GetDatum(seqs[n - 1]);
	for (int i = 0; i < 2; i++)
	{
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = INT8OID;
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = (DestReceiver *) r;
	ret = SPI_execute_plan_extended(rf_store_plan(store, &rf_page_events_plan), &options);
	next->rDestroy(next);
	r->pub.rDestroy((DestReceiver *) r);
	PopActiveSnapshot();
	if (ret < 0)
		elog(ERROR, "rillflow statement failed: %s", SPI_result_code_string(ret));
	return true;
}

/*
 * The page's positions, in *positions and *seqs (palloc'd); -1 when the page
 * must be read with a join instead (see the file header), else its size.
 * head < 0: no upper bound.
 */
static int
rf_page_positions(const RfStore *store, int64 after, int64 head, int32 max_count,
				  int64 **positions_out, int64 **seqs_out)
{
	Datum		values[3];
	int64	   *positions;
	int64	   *seqs;
	int			n;
	bool		isnull;

	values[0] = Int64GetDatum(after);
	values[1] = Int64GetDatum(head);
	values[2] = Int32GetDatum(max_count);
	rf_run_plan(store, &rf_page_positions_upto_plan, values, NULL, true, 0);
	n = (int) SPI_processed;
	positions = palloc(sizeof(int64) * (n + 1));
	seqs = palloc(sizeof(int64) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		positions[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		seqs[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		if (i > 0 && seqs[i] <= seqs[i - 1])
			return -1;
	}
	SPI_freetuptable(SPI_tuptable);
	if (n > 0 && seqs[n - 1] - seqs[0] >= RF_PAGE_SPREAD(n))
		return -1;
	*positions_out = positions;
	*seqs_out = seqs;
	return n;
}

int
rf_read_log_page_rows(const RfStore *store, int64 after, int64 head, int32 max_count,
					  Oid envelope_type, int64 **positions_out, Datum **events_out, int *nevents)
{
	int64	   *positions;
	int64	   *seqs;
	int			n;
	int			at = 0;
	int			found = 0;
	Datum		values[2];
	TupleDesc	desc;
	Datum	   *events;
	int64	   *matched;

	PushActiveSnapshot(GetTransactionSnapshot());
	n = rf_page_positions(store, after, head, max_count, &positions, &seqs);
	if (n <= 0)
	{
		PopActiveSnapshot();
		*nevents = 0;
		*positions_out = NULL;
		*events_out = NULL;
		return n;
	}
	values[0] = Int64GetDatum(seqs[0]);
	values[1] = Int64GetDatum(seqs[n - 1]);
	rf_run_plan(store, &rf_page_events_plan, values, NULL, true, 0);
	PopActiveSnapshot();

	desc = lookup_rowtype_tupdesc_copy(envelope_type, -1);
	events = palloc(sizeof(Datum) * (n + 1));
	matched = palloc(sizeof(int64) * (n + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		Datum		cols[RF_PLAN_MAX_ARGS + 16];
		bool		nulls[RF_PLAN_MAX_ARGS + 16];
		int64		seq;

		if (SPI_tuptable->tupdesc->natts != desc->natts || desc->natts > lengthof(cols))
			elog(ERROR, "rillflow log page: %d columns where the envelope has %d",
				 SPI_tuptable->tupdesc->natts, desc->natts);
		heap_deform_tuple(row, SPI_tuptable->tupdesc, cols, nulls);
		seq = DatumGetInt64(cols[0]);
		while (at < n && seqs[at] < seq)
			at++;			/* its event is not in the table any more (archived) */
		if (at >= n || seqs[at] != seq)
			continue;		/* another page's event, or not stamped */
		cols[0] = Int64GetDatum(positions[at]);
		matched[found] = positions[at];
		events[found] = HeapTupleGetDatum(heap_form_tuple(desc, cols, nulls));
		found++;
		at++;
	}
	*positions_out = matched;
	*events_out = events;
	*nevents = found;
	return n;
}
