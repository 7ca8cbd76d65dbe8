/*-------------------------------------------------------------------------
 *
 * log_page.c
 *	  A page of the whole log for read_all, at the speed of a range scan.
 *
 *	  A page's positions (position -> seq, in the log's segments) mostly
 *	  name events whose seqs rise with their positions and lie close
 *	  together: ticks stamp in commit order, which is nearly the order in
 *	  which appends drew their provisional numbers. Joining the positions to
 *	  the events one index descent at a time costs a descent per event;
 *	  instead the page is read in two statements on one snapshot:
 *	  1. the page's positions and seqs (a short range of the segments'
 *	     primary key);
 *	  2. the events whose seq lies from the lowest of them to the highest
 *	     (one range of the events primary key, in seq order), each matched to
 *	     its position by a merge walk as it comes out of the executor, and
 *	     handed on in the envelope's shape (to the function's result, or
 *	     through the upcasters first).
 *	  Where the seqs rise with the positions, each row goes on as it comes;
 *	  where they do not (concurrent appenders commit in another order than
 *	  they drew their seqs), the page's rows are kept and handed on in
 *	  position order at the end. When the seqs lie far apart (a transaction
 *	  that stayed open while many others committed: the range would hold
 *	  mostly other events), the caller reads the page with the join instead.
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
#include "utils/array.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "core/plans.h"
#include "core/store.h"
#include "events/log_page.h"
#include "events/log_segments.h"
#include "evolution/evolution.h"

/*
 * The segments that hold a page: those ending after `after`, and before
 * after + max_count + RF_SEGMENT_MAX (so the index range has an end however
 * long the log), in position order. Their seqs are unnested here in C
 * (rf_page_add_segment): in SQL, each segment's rows went through a sort to
 * come out in position order.
 */
static const RfPlanSpec rf_page_positions_plan = {
	"SELECT last_position, seqs FROM %s.log_segments"
	" WHERE last_position OPERATOR(pg_catalog.>) $1"
	" AND last_position OPERATOR(pg_catalog.<) ($1 OPERATOR(pg_catalog.+) $2 OPERATOR(pg_catalog.+) "
	RF_SEGMENT_MAX_SQL ") ORDER BY last_position",
	2, {INT8OID, INT4OID},
	CURSOR_OPT_GENERIC_PLAN,
	.positions_sql =
	"SELECT position, seq FROM %s.positions WHERE position OPERATOR(pg_catalog.>) $1 "
	"ORDER BY position LIMIT $2"
};

/*
 * The same up to a head (the projections' batches, which read up to one):
 * the positions past it are left out in C.
 */
static const RfPlanSpec rf_page_positions_upto_plan = {
	"SELECT last_position, seqs FROM %s.log_segments"
	" WHERE last_position OPERATOR(pg_catalog.>) $1"
	" AND last_position OPERATOR(pg_catalog.<) ($2 OPERATOR(pg_catalog.+) " RF_SEGMENT_MAX_SQL ")"
	" AND last_position OPERATOR(pg_catalog.<) ($1 OPERATOR(pg_catalog.+) $3 OPERATOR(pg_catalog.+) "
	RF_SEGMENT_MAX_SQL ") ORDER BY last_position",
	3, {INT8OID, INT8OID, INT4OID},
	CURSOR_OPT_GENERIC_PLAN,
	.positions_sql =
	"SELECT position, seq FROM %s.positions WHERE position OPERATOR(pg_catalog.>) $1 "
	"AND position OPERATOR(pg_catalog.<=) $2 ORDER BY position LIMIT $3"
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

/* A page's positions and seqs, and the seqs in ascending order. */
typedef struct RfPage
{
	int			n;
	int64	   *positions;		/* in position order (dense) */
	int64	   *seqs;			/* seqs[i] is the event of positions[i] */
	int		   *by_seq;			/* indexes into seqs, in ascending seq */
	bool		in_order;		/* by_seq is 0, 1, 2...: seqs rise */
} RfPage;

typedef struct RfPageReceiver
{
	DestReceiver pub;
	DestReceiver *next;			/* gets the rows in the envelope's shape */
	TupleDesc	desc;			/* the envelope's */
	TupleTableSlot *out;
	const RfPage *page;
	int			at;				/* the next of by_seq to match */
	HeapTuple  *kept;			/* rows by position index, when not in order */
} RfPageReceiver;

static const int64 *rf_sort_seqs;

static int
rf_cmp_by_seq(const void *a, const void *b)
{
	int64		x = rf_sort_seqs[*(const int *) a];
	int64		y = rf_sort_seqs[*(const int *) b];

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * The index into the page of the event `seq` arriving in ascending seq
 * order, or -1 when it is no event of the page (another page's, or not
 * stamped). A position whose event is no longer in the table (archived)
 * is passed over.
 */
static int
rf_page_match(const RfPage *page, int *at, int64 seq)
{
	while (*at < page->n && page->seqs[page->by_seq[*at]] < seq)
		(*at)++;
	if (*at >= page->n || page->seqs[page->by_seq[*at]] != seq)
		return -1;
	return page->by_seq[(*at)++];
}

static bool
rf_page_receive(TupleTableSlot *slot, DestReceiver *self)
{
	RfPageReceiver *r = (RfPageReceiver *) self;
	int			natts = r->desc->natts;
	int			i;

	slot_getallattrs(slot);
	i = rf_page_match(r->page, &r->at, DatumGetInt64(slot->tts_values[0]));
	if (i < 0)
		return true;

	ExecClearTuple(r->out);
	memcpy(r->out->tts_values, slot->tts_values, sizeof(Datum) * natts);
	memcpy(r->out->tts_isnull, slot->tts_isnull, sizeof(bool) * natts);
	r->out->tts_values[0] = Int64GetDatum(r->page->positions[i]);
	r->out->tts_isnull[0] = false;
	ExecStoreVirtualTuple(r->out);
	if (r->kept != NULL)
	{
		r->kept[i] = ExecCopySlotHeapTuple(r->out);
		return true;
	}
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

/* The rows kept out of order go on in position order. */
static void
rf_page_shutdown(DestReceiver *self)
{
	RfPageReceiver *r = (RfPageReceiver *) self;

	if (r->kept != NULL)
	{
		TupleTableSlot *heap = MakeSingleTupleTableSlot(r->desc, &TTSOpsHeapTuple);

		for (int i = 0; i < r->page->n; i++)
			if (r->kept[i] != NULL)
			{
				ExecStoreHeapTuple(r->kept[i], heap, true);
				(void) r->next->receiveSlot(heap, r->next);
				ExecClearTuple(heap);
				r->kept[i] = NULL;
			}
		ExecDropSingleTupleTableSlot(heap);
	}
	r->next->rShutdown(r->next);
}

static void
rf_page_destroy(DestReceiver *self)
{
	RfPageReceiver *r = (RfPageReceiver *) self;

	ExecDropSingleTupleTableSlot(r->out);
	pfree(r);
}

/*
 * Add to the page the positions of one segment (its last position and seqs)
 * after `after`, up to `head` (< 0: no bound) and max_count in all.
 */
static void
rf_page_add_segment(const RfStore *store, RfPage *page, int64 last_position, Datum seqs_datum,
					int64 after, int64 head, int32 max_count)
{
	ArrayType  *seqs = DatumGetArrayTypeP(seqs_datum);
	const int64 *seq;
	int			n;
	int64		first;

	/*
	 * The table's CHECK constraint (rillflow._segment_shaped) keeps such a
	 * segment out; only a store whose constraint was dropped can hold one,
	 * and its seqs are not read as int64s unless they are.
	 */
	if (ARR_NDIM(seqs) != 1 || ARR_HASNULL(seqs) || ARR_ELEMTYPE(seqs) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the log segment of store \"%s\" ending at position %lld is not a one-dimensional array of seqs without NULLs",
						store->schema_name, (long long) last_position),
				 errhint("Restore the store's log_segments from a dump of the store (docs/global-log.md, \"Backups and restores\").")));
	seq = (const int64 *) ARR_DATA_PTR(seqs);
	n = ARR_DIMS(seqs)[0];
	first = last_position - n + 1;
	for (int k = 0; k < n && page->n < max_count; k++)
	{
		int64		position = first + k;

		if (position <= after)
			continue;
		if (head >= 0 && position > head)
			break;
		page->positions[page->n] = position;
		page->seqs[page->n] = seq[k];
		page->n++;
	}
}

/*
 * Read the page's positions (head < 0: no upper bound); false when the page
 * must be read with the join (its seqs lie far apart). SPI connected, on the
 * caller's pushed snapshot.
 */
static bool
rf_page_positions(const RfStore *store, int64 after, int64 head, int32 max_count, RfPage *page)
{
	Datum		values[3];
	int			n;
	int			cap;
	bool		isnull;
	bool		segments;

	/* no log reaches so far, and the statement's bound would overflow */
	if (after > PG_INT64_MAX - (int64) max_count - RF_SEGMENT_MAX)
	{
		memset(page, 0, sizeof(*page));
		page->in_order = true;
		return true;
	}
	values[0] = Int64GetDatum(after);
	if (head < 0)
	{
		values[1] = Int32GetDatum(max_count);
		rf_run_plan(store, &rf_page_positions_plan, values, NULL, true, 0);
	}
	else
	{
		values[1] = Int64GetDatum(head);
		values[2] = Int32GetDatum(max_count);
		rf_run_plan(store, &rf_page_positions_upto_plan, values, NULL, true, 0);
	}
	/* a row per segment, or (a store before step 12) a row per position */
	segments = TupleDescAttr(SPI_tuptable->tupdesc, 1)->atttypid == INT8ARRAYOID;
	cap = (int) Min((uint64) max_count, SPI_processed * (segments ? RF_SEGMENT_MAX : 1));
	page->n = 0;
	page->positions = palloc(sizeof(int64) * (cap + 1));
	page->seqs = palloc(sizeof(int64) * (cap + 1));
	page->by_seq = palloc(sizeof(int) * (cap + 1));
	page->in_order = true;
	for (uint64 row = 0; row < SPI_processed && page->n < cap; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		int64		first = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull));
		Datum		second = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &isnull);

		if (segments)
			rf_page_add_segment(store, page, first, second, after, head, cap);
		else
		{
			page->positions[page->n] = first;
			page->seqs[page->n] = DatumGetInt64(second);
			page->n++;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	n = page->n;
	for (int i = 0; i < n; i++)
	{
		page->by_seq[i] = i;
		if (i > 0 && page->seqs[i] <= page->seqs[i - 1])
			page->in_order = false;
	}
	if (!page->in_order)
	{
		rf_sort_seqs = page->seqs;
		qsort(page->by_seq, n, sizeof(int), rf_cmp_by_seq);
	}
	return n == 0 ||
		page->seqs[page->by_seq[n - 1]] - page->seqs[page->by_seq[0]] < RF_PAGE_SPREAD(n);
}

/* The page's events, in seq order, into `dest` (NULL: SPI_tuptable). */
static void
rf_page_events(const RfStore *store, const RfPage *page, DestReceiver *dest)
{
	SPIExecuteOptions options;
	ParamListInfo params = makeParamList(2);
	int			ret;

	params->params[0].value = Int64GetDatum(page->seqs[page->by_seq[0]]);
	params->params[1].value = Int64GetDatum(page->seqs[page->by_seq[page->n - 1]]);
	for (int i = 0; i < 2; i++)
	{
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = INT8OID;
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;
	ret = SPI_execute_plan_extended(rf_store_plan(store, &rf_page_events_plan), &options);
	if (ret < 0)
		elog(ERROR, "rillflow statement failed: %s", SPI_result_code_string(ret));
}

bool
rf_read_log_page(const RfStore *store, int64 after, int32 max_count, RfUpcasters *ups,
				 Tuplestorestate *result, TupleDesc result_desc)
{
	RfPage		page;
	RfPageReceiver *r;
	DestReceiver *next;

	/* One snapshot for both statements: the events of every position it shows. */
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!rf_page_positions(store, after, -1, max_count, &page))
	{
		PopActiveSnapshot();
		return false;
	}
	if (page.n == 0)
	{
		PopActiveSnapshot();
		return true;
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
	r->page = &page;
	if (!page.in_order)
		r->kept = palloc0(sizeof(HeapTuple) * page.n);

	rf_page_events(store, &page, (DestReceiver *) r);
	next->rDestroy(next);
	r->pub.rDestroy((DestReceiver *) r);
	PopActiveSnapshot();
	return true;
}

int
rf_read_log_page_rows(const RfStore *store, int64 after, int64 head, int32 max_count,
					  Oid envelope_type, int64 **positions_out, Datum **events_out, int *nevents)
{
	RfPage		page;
	int			at = 0;
	int			found = 0;
	TupleDesc	desc;
	Datum	   *by_position;
	Datum	   *events;
	int64	   *matched;

	*nevents = 0;
	*positions_out = NULL;
	*events_out = NULL;
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!rf_page_positions(store, after, head, max_count, &page))
	{
		PopActiveSnapshot();
		return -1;
	}
	if (page.n == 0)
	{
		PopActiveSnapshot();
		return 0;
	}
	rf_page_events(store, &page, NULL);
	PopActiveSnapshot();

	desc = lookup_rowtype_tupdesc_copy(envelope_type, -1);
	by_position = palloc0(sizeof(Datum) * page.n);
	for (uint64 k = 0; k < SPI_processed; k++)
	{
		Datum		cols[32];
		bool		nulls[32];
		int			i;

		if (SPI_tuptable->tupdesc->natts != desc->natts || desc->natts > lengthof(cols))
			elog(ERROR, "rillflow log page: %d columns where the envelope has %d",
				 SPI_tuptable->tupdesc->natts, desc->natts);
		heap_deform_tuple(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, cols, nulls);
		i = rf_page_match(&page, &at, DatumGetInt64(cols[0]));
		if (i < 0)
			continue;
		cols[0] = Int64GetDatum(page.positions[i]);
		by_position[i] = HeapTupleGetDatum(heap_form_tuple(desc, cols, nulls));
	}
	events = palloc(sizeof(Datum) * (page.n + 1));
	matched = palloc(sizeof(int64) * (page.n + 1));
	for (int i = 0; i < page.n; i++)
		if (by_position[i] != (Datum) 0)
		{
			matched[found] = page.positions[i];
			events[found++] = by_position[i];
		}
	*positions_out = matched;
	*events_out = events;
	*nevents = found;
	return page.n;
}
