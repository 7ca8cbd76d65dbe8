/*-------------------------------------------------------------------------
 *
 * projection_runtime.c
 *	  rillflow.run_projection and rillflow.run_projections_until_idle: the
 *	  batch loop of in-database (worker) projections.
 *
 *	  A batch, in the caller's transaction: lock the projection's row
 *	  (FOR UPDATE SKIP LOCKED: a second ticker gets nothing and returns at
 *	  once), read the events after the checkpoint from the gap-free log,
 *	  apply them (projection_apply.c), and write the new checkpoint and the
 *	  counters. The read-model writes and the checkpoint commit together, so
 *	  each event's effect is kept exactly once whatever crashes.
 *
 *	  A batch handler (taking rillflow.event_envelope[]) is called once per
 *	  run of events; when the call fails, bisection finds the first failing
 *	  event (rf_apply_batch_calls), and from there on it is as for a
 *	  per-event handler (rf_apply_per_event).
 *
 *	  A handler error counts an attempt at that event
 *	  (rillflow._projection_record_failure, in SQL: it is the rare path):
 *	  the batch stops before the event and retries it after a backoff, or,
 *	  after max_attempts, dead-letters it and goes on. A call that runs out
 *	  of the batch's time budget is charged only when it ran out on its own;
 *	  otherwise the events before it are kept and it is called again alone.
 *	  So every event read is applied, dead-lettered, or left for a later
 *	  batch: none is passed over.
 *
 *	  Before any call, the projection is checked (rf_check_runnable): its
 *	  handler's signature, its owner's existence and rights. The calls run
 *	  as the owner (projection_apply.c); the runtime's own statements run as
 *	  the caller. The store is copied at the start: a handler can change
 *	  rillflow.tenant, and the run must stay in its store.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "core/args.h"
#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/compat.h"
#include "events/log_page.h"
#include "events/log_segments.h"
#include "events/log_sync.h"
#include "projections/projection.h"
#include "worker/worker.h"

PG_FUNCTION_INFO_V1(rillflow_run_projection);
PG_FUNCTION_INFO_V1(rillflow_run_projections_until_idle);
PG_FUNCTION_INFO_V1(rillflow_note_checkpoint_advance);
PG_FUNCTION_INFO_V1(rillflow_wake_worker);

static Oid	rf_envelope_type(void);

#define RF_ENVELOPE_ROW \
	"ROW(p.position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers, " \
	"e.event_id, e.causation_id, e.correlation_id, e.created_at)::rillflow.event_envelope "

/* The row, if no other batch holds it; $1 name. */
static const RfPlanSpec rf_lock_plan = {
	"SELECT kind, rillflow._function_ref(handler)::pg_catalog.oid, event_types, batch_size, status, checkpoint, "
	"  (lease_owner IS NOT NULL AND lease_expires_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()), "
	"  (retry_at IS NOT NULL AND retry_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()), "
	"  owner::pg_catalog.oid "
	"FROM %s.projections WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE SKIP LOCKED",
	1, {TEXTOID}
};

static const RfPlanSpec rf_kind_plan = {
	"SELECT kind FROM %s.projections WHERE name OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

static const RfPlanSpec rf_head_plan = {
	"SELECT " RF_SEGMENTS_HEAD("%s.log_segments"),
	0, {InvalidOid},
	.positions_sql = "SELECT COALESCE(pg_catalog.max(position), 0) FROM %s.positions"
};

/*
 * $1 after, $2 head, $3 limit [, $4 types]. The segments' range drives a
 * nested loop into events by primary key (the LIMIT keeps the planner from
 * flattening it into a hash join over the whole events table, which it
 * picks for a generic plan on fresh statistics): a batch costs its own rows
 * only, however long the log. LIMIT 1, since a seq is in the hot table or
 * in the archive (its child), never both: a hot event's lookup stops before
 * the archive's index (events_lookup in docs/performance.md).
 */
#define RF_EVENTS_SQL(filter) \
	"SELECT p.position, " RF_ENVELOPE_ROW \
	"FROM " RF_SEGMENT_TABLE("%s.log_segments", \
							 RF_SEGMENTS_AFTER("$1") " AND s.last_position OPERATOR(pg_catalog.<) ($2 " \
							 "OPERATOR(pg_catalog.+) " RF_SEGMENT_MAX_SQL ")", \
							 RF_POSITIONS_AFTER("$1") " AND " RF_SEGMENT_POSITION " OPERATOR(pg_catalog.<=) $2") \
	" p CROSS JOIN LATERAL (" \
	"  SELECT * FROM %s.events e1 WHERE e1.seq OPERATOR(pg_catalog.=) p.seq LIMIT 1) e " \
	"WHERE true " filter \
	"ORDER BY p.segment, p.o LIMIT $3"

#define RF_EVENTS_POSITIONS_SQL(filter) \
	"SELECT p.position, " RF_ENVELOPE_ROW \
	"FROM %s.positions p CROSS JOIN LATERAL (" \
	"  SELECT * FROM %s.events e1 WHERE e1.seq OPERATOR(pg_catalog.=) p.seq LIMIT 1) e " \
	"WHERE p.position OPERATOR(pg_catalog.>) $1 AND p.position OPERATOR(pg_catalog.<=) $2 " filter \
	"ORDER BY p.position LIMIT $3"

#define RF_EVENTS_TYPES_FILTER "  AND e.type OPERATOR(pg_catalog.=) ANY ($4) "

static const RfPlanSpec rf_events_plan = {
	RF_EVENTS_SQL(""),
	3, {INT8OID, INT8OID, INT4OID},
	.positions_sql = RF_EVENTS_POSITIONS_SQL("")
};

static const RfPlanSpec rf_events_types_plan = {
	RF_EVENTS_SQL(RF_EVENTS_TYPES_FILTER),
	4, {INT8OID, INT8OID, INT4OID, TEXTARRAYOID},
	.positions_sql = RF_EVENTS_POSITIONS_SQL(RF_EVENTS_TYPES_FILTER)
};

/* Dead letters an admin requeued; re-read from the log, which keeps them. */
static const RfPlanSpec rf_requeued_plan = {
	"SELECT d.id, d.position, " RF_ENVELOPE_ROW
	"FROM %s.projection_dlq d CROSS JOIN LATERAL ("
	"  SELECT d.position, x.seq FROM " RF_SEQ_AT("%s.log_segments", "d.position") " x) p "
	"  JOIN %s.events e ON e.seq OPERATOR(pg_catalog.=) p.seq "
	"WHERE d.projection OPERATOR(pg_catalog.=) $1 AND d.requeued_at IS NOT NULL ORDER BY d.id",
	1, {TEXTOID},
	.positions_sql =
	"SELECT d.id, p.position, " RF_ENVELOPE_ROW
	"FROM %s.projection_dlq d JOIN %s.positions p ON p.position OPERATOR(pg_catalog.=) d.position "
	"  JOIN %s.events e ON e.seq OPERATOR(pg_catalog.=) p.seq "
	"WHERE d.projection OPERATOR(pg_catalog.=) $1 AND d.requeued_at IS NOT NULL ORDER BY d.id"
};

static const RfPlanSpec rf_dlq_done_plan = {
	"DELETE FROM %s.projection_dlq WHERE id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}
};

static const RfPlanSpec rf_dlq_refailed_plan = {
	"UPDATE %s.projection_dlq SET requeued_at = NULL, attempts = attempts OPERATOR(pg_catalog.+) 1, "
	"  sqlstate = $2, message = $3, detail = $4, context = $5, failed_at = pg_catalog.now() "
	"WHERE id OPERATOR(pg_catalog.=) $1",
	5, {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}
};

/*
 * The end of a batch: $2 the new checkpoint, $3 events applied, $4 its time
 * in ms. A retry whose event the checkpoint has passed is over.
 */
static const RfPlanSpec rf_finish_plan = {
	"UPDATE %s.projections SET checkpoint = $2, "
	"  events_processed = events_processed OPERATOR(pg_catalog.+) $3, "
	"  batches = batches OPERATOR(pg_catalog.+) 1, busy_ms = busy_ms OPERATOR(pg_catalog.+) $4, "
	"  last_batch_events = $3, last_batch_ms = $4, last_run_at = pg_catalog.now(), updated_at = pg_catalog.now(), "
	"  retry_attempts = CASE WHEN retry_position OPERATOR(pg_catalog.<=) $2 THEN 0 ELSE retry_attempts END, "
	"  retry_at = CASE WHEN retry_position OPERATOR(pg_catalog.<=) $2 THEN NULL ELSE retry_at END, "
	"  retry_position = CASE WHEN retry_position OPERATOR(pg_catalog.<=) $2 THEN NULL ELSE retry_position END "
	"WHERE name OPERATOR(pg_catalog.=) $1",
	4, {TEXTOID, INT8OID, INT4OID, FLOAT8OID}
};

/* The store's running worker-kind projections (projection.h). */
const RfPlanSpec rf_running_projections_spec = {
	"SELECT name FROM %s.projections "
	"WHERE kind OPERATOR(pg_catalog.=) 'worker' AND status OPERATOR(pg_catalog.=) 'running' ORDER BY name",
	0, {InvalidOid}
};

/* A worker projection's row, as locked for a run. */
typedef struct RfProjection
{
	const char *name;
	Datum		name_datum;
	Oid			handler_oid;
	Datum		event_types;	/* 0 for every type */
	int			batch_size;
	int64		checkpoint;
	RfHandler	handler;
} RfProjection;

/*
 * Wake the sessions waiting for a checkpoint (wait_for_projection) when this
 * transaction commits.
 */
static void
rf_checkpoint_advanced(void)
{
	rf_note_checkpoint_advance();
}

/* rillflow._note_checkpoint_advance() RETURNS void, for projection_commit. */
Datum
rillflow_note_checkpoint_advance(PG_FUNCTION_ARGS)
{
	rf_checkpoint_advanced();
	PG_RETURN_VOID();
}

/*
 * rillflow._wake_worker() RETURNS void: at commit, wake the database's
 * worker (as an append does), so that a projection just created starts at
 * once rather than after the worker's naptime.
 */
Datum
rillflow_wake_worker(PG_FUNCTION_ARGS)
{
	rf_note_append();
	PG_RETURN_VOID();
}

/* Run an ad hoc statement of the rare paths; SPI is connected. */
static void
rf_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (ret < 0)
		elog(ERROR, "rillflow projection statement failed: %s", SPI_result_code_string(ret));
}

static Datum
rf_text_or_null(const char *s, char *null)
{
	*null = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Stop a projection that cannot run as it is: its handler is gone or is not
 * a handler, its owner is gone or may not run it. Status failed, the reason
 * and its SQLSTATE in last_error; nothing is called and nobody else's
 * rights are tried. The run returns 0 with a warning; the worker goes on
 * with the other projections.
 */
static void
rf_mark_failed(const RfStore *store, const char *name, int sqlstate, const char *message,
			   const char *hint)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4] = {CStringGetTextDatum(store->quoted_schema), CStringGetTextDatum(name),
		CStringGetTextDatum(message), CStringGetTextDatum(unpack_sql_state(sqlstate))};
	char	   *sql = psprintf("UPDATE %s.projections SET status = 'failed', updated_at = pg_catalog.now(), "
						   "last_error = pg_catalog.jsonb_build_object('message', $3::pg_catalog.text, "
						   "'sqlstate', $4::pg_catalog.text, 'at', pg_catalog.clock_timestamp()) "
						   "WHERE name OPERATOR(pg_catalog.=) $2 AND $1 IS NOT NULL",
						   store->quoted_schema);

	rf_exec(sql, 4, types, values, NULL);
	ereport(WARNING,
			(errcode(sqlstate),
			 errmsg("projection \"%s\" failed: %s", name, message),
			 errhint("%s", hint)));
}

/*
 * Count a failed attempt at an event; returns true when the event was
 * dead-lettered (the batch goes on), false when it will be retried.
 */
static bool
rf_record_failure(const RfStore *store, RfProjection *proj, int64 position, ErrorData *edata)
{
	Oid			types[7] = {NAMEOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[8] = "       ";
	NameData	schema;
	bool		isnull;
	char	   *result;

	namestrcpy(&schema, store->schema_name);
	values[0] = NameGetDatum(&schema);
	values[1] = proj->name_datum;
	values[2] = Int64GetDatum(position);
	values[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	values[4] = rf_text_or_null(edata->message, &nulls[4]);
	values[5] = rf_text_or_null(edata->detail, &nulls[5]);
	values[6] = rf_text_or_null(edata->context, &nulls[6]);
	rf_exec("SELECT rillflow._projection_record_failure($1, $2, $3, $4, $5, $6, $7)",
			7, types, values, nulls);
	result = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return strcmp(result, "dead_lettered") == 0;
}

/*
 * Apply events[from..to) in one subtransaction, per event or in one batch
 * call; for a batch handler, *at is from.
 */
static RfApplyOutcome
rf_apply_range(RfProjection *proj, Datum *events, int64 *positions, int from, int to,
			   int *at, ErrorData **error, bool *alone)
{
	if (!proj->handler.batch)
		return rf_apply_events(&proj->handler, events, positions, from, to, at, error, alone);
	*at = from;
	return rf_apply_batch(&proj->handler, events, positions, from, to, error, alone);
}

/*
 * What a batch's events came to: *done events are passed (applied or
 * dead-lettered: the checkpoint goes past them), *stopped when a retry is
 * pending at the next one. Returns the events applied.
 *
 * The batch's calls share one budget (rillflow.batch_statement_timeout).
 * When it runs out during the call of event k after other calls, k is not
 * to blame: the events before it are kept (applied again, as after a handler
 * error, since their run was rolled back with k's), k is called again alone
 * with a budget of its own, and the batch ends with it. Only an event whose
 * call runs out of time on its own is charged (SQLSTATE 57014), as a
 * handler error is: retried after a backoff, dead-lettered at max_attempts.
 * Every event is either applied or dead-lettered; none is passed over.
 *
 * Per-event handlers: a run is called on events[pos..to); on a problem at
 * k, the events before k are applied again in a new run, then k is dealt
 * with. The state: `blamed` is an event to charge once everything before it
 * is applied (a handler error, or out of time on its own), `alone` one to
 * call alone with a fresh budget once everything before it is applied. Each
 * turn of the loop applies a run, or moves `blamed`, `alone` or `end` to an
 * earlier event, or charges: it ends.
 */
static int
rf_apply_per_event(const RfStore *store, RfProjection *proj, Datum *events, int64 *positions,
				   int n, int *done, bool *stopped)
{
	int			pos = 0;
	int			end = n;
	int			blamed = -1;
	bool		blamed_timed_out = false;
	ErrorData  *blame = NULL;
	int			alone = -1;
	int			applied = 0;

	*stopped = false;
	while (pos < end)
	{
		int			to = end;
		int			at;
		bool		first;
		ErrorData  *error = NULL;
		RfApplyOutcome outcome;

		CHECK_FOR_INTERRUPTS();
		if (blamed == pos)
		{
			bool		dead = rf_record_failure(store, proj, positions[pos], blame);

			FreeErrorData(blame);
			blame = NULL;
			blamed = -1;
			if (!dead)
			{
				*stopped = true;
				break;
			}
			pos++;
			if (blamed_timed_out)
				end = pos;		/* its budget is spent: the batch ends */
			continue;
		}
		if (pos == alone)
		{
			rf_handler_budget_restart(&proj->handler);
			to = pos + 1;
		}
		else
		{
			if (blamed > pos)
				to = blamed;
			if (alone > pos && alone < to)
				to = alone;
		}

		outcome = rf_apply_events(&proj->handler, events, positions, pos, to, &at, &error, &first);
		if (outcome == RF_APPLY_DONE)
		{
			applied += to - pos;
			pos = to;
			continue;
		}
		if (outcome == RF_APPLY_FAILED || first)
		{
			/* at is to blame: apply what comes before it first */
			if (blame != NULL)
				FreeErrorData(blame);
			blamed = at;
			blame = error;
			blamed_timed_out = outcome == RF_APPLY_TIMED_OUT;
			continue;
		}
		/* Out of time after other calls: at goes alone, and the batch ends with it. */
		FreeErrorData(error);
		if (blame != NULL)
			FreeErrorData(blame);
		blame = NULL;
		blamed = -1;
		alone = at;
		end = at + 1;
		rf_handler_budget_restart(&proj->handler);
	}
	*done = pos;
	return applied;
}

/*
 * rf_apply_per_event for a batch handler: one call for events[pos..end).
 * When it fails, bisection: the invariant is that calling the handler on
 * [lo, hi) after what is applied so far fails with *edata. Call it on the
 * first half: a failure narrows to it; a success is kept, and the second
 * half is called to learn its error (or kept too, when it succeeds on its
 * own: a handler whose failure came from two events together, or one that
 * is not deterministic, then goes on from hi). At most about 2 log2(n) calls
 * find the first failing event k, with events[pos..k) applied, each exactly
 * once; k is charged as a handler error is.
 *
 * A call that runs out of time on events[a..b) (all before a applied): with
 * more than one event, the batch is cut to its first half, called with a
 * fresh budget; with one event, it is charged when it was the budget's
 * first call, else called again alone with a fresh budget; the batch ends
 * with it either way.
 */
static int
rf_apply_batch_calls(const RfStore *store, RfProjection *proj, Datum *events, int64 *positions,
					 int n, int *done, bool *stopped)
{
	int			pos = 0;
	int			end = n;
	int			applied = 0;

	*stopped = false;
	while (pos < end)
	{
		ErrorData  *edata = NULL;
		int			lo = pos,
					hi = end;
		int			at;
		bool		first;
		RfApplyOutcome outcome;

		CHECK_FOR_INTERRUPTS();
		outcome = rf_apply_range(proj, events, positions, lo, hi, &at, &edata, &first);
		while (outcome == RF_APPLY_FAILED && hi - lo > 1)
		{
			int			mid = lo + (hi - lo) / 2;
			ErrorData  *again = NULL;

			CHECK_FOR_INTERRUPTS();
			outcome = rf_apply_range(proj, events, positions, lo, mid, &at, &again, &first);
			if (outcome == RF_APPLY_FAILED)
			{
				hi = mid;
				FreeErrorData(edata);
				edata = again;
				continue;
			}
			if (outcome == RF_APPLY_TIMED_OUT)
			{
				FreeErrorData(edata);
				edata = again;
				hi = mid;
				break;
			}
			applied += mid - lo;
			pos = lo = mid;
			outcome = rf_apply_range(proj, events, positions, lo, hi, &at, &again, &first);
			FreeErrorData(edata);
			edata = again;
		}

		if (outcome == RF_APPLY_DONE)
		{
			/* the whole range, or the rest of it on its own */
			applied += hi - lo;
			pos = hi;
			continue;
		}
		if (outcome == RF_APPLY_TIMED_OUT)
		{
			if (hi - lo > 1)
			{
				end = lo + (hi - lo) / 2;
				FreeErrorData(edata);
				rf_handler_budget_restart(&proj->handler);
				continue;
			}
			end = lo + 1;
			if (!first)
			{
				FreeErrorData(edata);
				rf_handler_budget_restart(&proj->handler);
				continue;
			}
		}
		/* lo alone failed, or ran out of time alone: charge it */
		if (!rf_record_failure(store, proj, positions[lo], edata))
		{
			*stopped = true;
			FreeErrorData(edata);
			break;
		}
		FreeErrorData(edata);
		pos = lo + 1;
	}
	*done = pos;
	return applied;
}

/*
 * Requeued dead letters go first, one at a time: a success removes the
 * dead letter, a failure puts it back with the new error. A call that runs
 * out of time after others is called again alone with a fresh budget; once
 * one has run out of time, the budget is spent and *spent says so (the
 * batch reads no new events).
 */
static int64
rf_apply_requeued(const RfStore *store, RfProjection *proj, bool *spent)
{
	SPITupleTable *tab;
	uint64		n;
	int64		applied = 0;

	*spent = false;
	rf_run_plan(store, &rf_requeued_plan, &proj->name_datum, NULL, false, 0);
	tab = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n && !*spent; i++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(tab->vals[i], tab->tupdesc, 1, &isnull);
		int64		position = DatumGetInt64(SPI_getbinval(tab->vals[i], tab->tupdesc, 2, &isnull));
		Datum		event = SPI_getbinval(tab->vals[i], tab->tupdesc, 3, &isnull);
		ErrorData  *edata = NULL;
		int			at;
		bool		first;
		RfApplyOutcome outcome;

		outcome = rf_apply_range(proj, &event, &position, 0, 1, &at, &edata, &first);
		if (outcome == RF_APPLY_TIMED_OUT && !first)
		{
			FreeErrorData(edata);
			edata = NULL;
			rf_handler_budget_restart(&proj->handler);
			outcome = rf_apply_range(proj, &event, &position, 0, 1, &at, &edata, &first);
			*spent = true;
		}
		if (outcome == RF_APPLY_TIMED_OUT)
			*spent = true;
		if (outcome == RF_APPLY_DONE)
		{
			rf_run_plan(store, &rf_dlq_done_plan, &id, NULL, false, 0);
			applied++;
		}
		else
		{
			Datum		values[5];
			char		nulls[6] = "     ";

			values[0] = id;
			values[1] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
			values[2] = rf_text_or_null(edata->message, &nulls[2]);
			values[3] = rf_text_or_null(edata->detail, &nulls[3]);
			values[4] = rf_text_or_null(edata->context, &nulls[4]);
			rf_run_plan(store, &rf_dlq_refailed_plan, values, nulls, false, 0);
			FreeErrorData(edata);
		}
	}
	SPI_freetuptable(tab);
	return applied;
}

/*
 * One batch. Returns the events applied; *progress says whether the
 * checkpoint moved or anything was applied (false: nothing to do now, or a
 * retry is pending).
 */
static int64
rf_run_batch(const RfStore *store, RfProjection *proj, bool first, bool *progress)
{
	SPITupleTable *tab = NULL;
	uint64		n = 0;
	int64		head = 0;
	int64		checkpoint = proj->checkpoint;
	int64		applied = 0;
	bool		stopped = false;
	bool		spent = false;
	int			done = 0;
	Datum	   *events = NULL;
	int64	   *positions = NULL;
	int			page_size;
	int			nread = 0;
	Datum		values[4];
	instr_time	start,
				duration;

	INSTR_TIME_SET_CURRENT(start);
	rf_handler_budget_restart(&proj->handler);
	if (first)
		applied += rf_apply_requeued(store, proj, &spent);

	if (!spent)
	{
		/*
		 * Everything up to head is visible to the read below: positions are
		 * given in order by one ticker at a time, and this statement's
		 * snapshot is older than the read's.
		 */
		rf_run_plan(store, &rf_head_plan, NULL, NULL, false, 1);
		head = rf_spi_int8(0, 1);

		/*
		 * Upcasting (evolution/upcast.c): the handler gets each event upcast,
		 * and the types it wants are types as read, so the statement reads
		 * the stored types that can become one of them.
		 */
		proj->handler.upcasters = rf_upcasters_acquire(store);
		values[0] = Int64GetDatum(proj->checkpoint);
		values[1] = Int64GetDatum(head);
		values[2] = Int32GetDatum(proj->batch_size);
		values[3] = rf_upcast_source_types(proj->handler.upcasters, proj->event_types);

		/*
		 * The whole log after the checkpoint: by one range scan of the
		 * events where the page allows (events/log_page.c), unless some of
		 * its events are no longer in the table (then the join reads on past
		 * them, as it always did).
		 */
		if (proj->event_types == (Datum) 0 &&
			(page_size = rf_read_log_page_rows(store, proj->checkpoint, head, proj->batch_size,
											   rf_envelope_type(),
											   &positions, &events, &nread)) >= 0 &&
			nread == page_size)
			n = (uint64) nread;
		else
		{
			events = NULL;
			positions = NULL;
			rf_run_plan(store, proj->event_types ? &rf_events_types_plan : &rf_events_plan,
						values, NULL, false, 0);
			tab = SPI_tuptable;
			n = SPI_processed;
			page_size = (int) n;
		}
	}
	if (tab != NULL || events == NULL)
	{
		events = palloc(sizeof(Datum) * (n + 1));
		positions = palloc(sizeof(int64) * (n + 1));
	}
	/* Positions handed to handlers are on disk (core/shmem.h). */
	if (n > 0)
		rf_log_make_durable();
	for (uint64 i = 0; tab != NULL && i < n; i++)
	{
		bool		isnull;

		positions[i] = DatumGetInt64(SPI_getbinval(tab->vals[i], tab->tupdesc, 1, &isnull));
		events[i] = SPI_getbinval(tab->vals[i], tab->tupdesc, 2, &isnull);
	}

	if (n > 0)
		applied += proj->handler.batch
			? rf_apply_batch_calls(store, proj, events, positions, (int) n, &done, &stopped)
			: rf_apply_per_event(store, proj, events, positions, (int) n, &done, &stopped);
	if (done > 0)
		checkpoint = positions[done - 1];
	/* A short batch read all there is: the types it skipped are passed too. */
	if (!spent && !stopped && done == (int) n && n < (uint64) proj->batch_size && head > checkpoint)
		checkpoint = head;

	/*
	 * The worker catching up (a full batch read, more events behind it)
	 * commits without waiting for its WAL flush: read-model writes and
	 * checkpoint still commit together, so a crash can only take back whole
	 * batches, which it applies again. The batch that catches up waits for
	 * its flush, and with it every batch before it is on disk; so does
	 * every batch that leaves nothing behind, and wait_for_projection
	 * flushes before it says a checkpoint was reached (wait.c). A catch-up
	 * pays one WAL flush instead of one per batch.
	 */
	if (IsBackgroundWorker && !stopped && n == (uint64) proj->batch_size && done == (int) n &&
		head > checkpoint && synchronous_commit > SYNCHRONOUS_COMMIT_OFF)
		(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);

	/* An idle batch writes nothing (the worker runs one per projection per tick). */
	*progress = (checkpoint > proj->checkpoint || applied > 0) && !stopped;
	if (checkpoint == proj->checkpoint && applied == 0 && !stopped)
	{
		if (tab != NULL)
			SPI_freetuptable(tab);
		return 0;
	}

	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	{
		Datum		fin[4];

		fin[0] = proj->name_datum;
		fin[1] = Int64GetDatum(checkpoint);
		fin[2] = Int32GetDatum((int32) applied);
		fin[3] = Float8GetDatum(INSTR_TIME_GET_MILLISEC(duration));
		rf_run_plan(store, &rf_finish_plan, fin, NULL, false, 0);
	}
	if (checkpoint > proj->checkpoint)
		rf_checkpoint_advanced();
	proj->checkpoint = checkpoint;
	if (tab != NULL)
		SPI_freetuptable(tab);
	pfree(events);
	pfree(positions);
	return applied;
}

/* The OID of rillflow.event_envelope, the type every handler takes. */
static Oid
rf_envelope_type(void)
{
	Oid			nsp = get_namespace_oid("rillflow", false);

	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("event_envelope"),
						   ObjectIdGetDatum(nsp));
}

/*
 * Whether the projection can run, checked before any call: its handler is
 * a plain function taking one rillflow.event_envelope or one
 * rillflow.event_envelope[] (the registry checks it too, but the row can
 * have been changed since), its owner exists and may execute it and use the
 * store. Otherwise the projection is failed (rf_mark_failed) and false
 * returned: it is never run as anyone else.
 */
static bool
rf_check_runnable(const RfStore *store, RfProjection *proj, Oid owner)
{
	HeapTuple	tuple;
	Form_pg_proc procform;
	Oid			envelope = rf_envelope_type();
	Oid			argtype;
	bool		ok;
	char	   *signature;
	char	   *owner_name;
	AclResult	aclresult;

	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(proj->handler_oid));
	if (!HeapTupleIsValid(tuple))
	{
		rf_mark_failed(store, proj->name, ERRCODE_UNDEFINED_FUNCTION,
					   "its handler function no longer exists",
					   psprintf("Fix the handler, then call rillflow.resume_projection('%s').", proj->name));
		return false;
	}
	procform = (Form_pg_proc) GETSTRUCT(tuple);
	argtype = procform->pronargs == 1 ? procform->proargtypes.values[0] : InvalidOid;
	ok = procform->prokind == PROKIND_FUNCTION && !procform->proretset && OidIsValid(argtype) &&
		(argtype == envelope || get_element_type(argtype) == envelope);
	ReleaseSysCache(tuple);
	signature = format_procedure(proj->handler_oid);
	if (!ok)
	{
		rf_mark_failed(store, proj->name, ERRCODE_DATATYPE_MISMATCH,
					   psprintf("its handler %s does not take one rillflow.event_envelope or one rillflow.event_envelope[]",
								signature),
					   "Register the projection again with a handler of that signature.");
		return false;
	}

	owner_name = GetUserNameFromId(owner, true);
	if (owner_name == NULL)
	{
		rf_mark_failed(store, proj->name, ERRCODE_UNDEFINED_OBJECT,
					   "its owner role no longer exists",
					   "A projection runs only as the role that registered it: register it again as an existing role.");
		return false;
	}
	proj->handler.owner = owner;
	aclresult = pg_proc_aclcheck(proj->handler_oid, proj->handler.owner, ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
	{
		rf_mark_failed(store, proj->name, ERRCODE_INSUFFICIENT_PRIVILEGE,
					   psprintf("its owner %s may not execute its handler %s",
								quote_identifier(owner_name), signature),
					   psprintf("Grant EXECUTE on the handler to %s, then call rillflow.resume_projection('%s').",
								quote_identifier(owner_name), proj->name));
		return false;
	}
	aclresult = pg_namespace_aclcheck(store->schema_oid, proj->handler.owner, ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
	{
		rf_mark_failed(store, proj->name, ERRCODE_INSUFFICIENT_PRIVILEGE,
					   psprintf("its owner %s may not use store \"%s\"",
								quote_identifier(owner_name), store->schema_name),
					   psprintf("Give %s access to the store again, then call rillflow.resume_projection('%s').",
								quote_identifier(owner_name), proj->name));
		return false;
	}
	proj->handler.batch = argtype != envelope;
	return true;
}

/*
 * Whether this backend is the rillflow worker: a cancel there is no
 * caller's to see (worker_db.c), and charges the event it interrupted.
 */
static bool
rf_in_worker(void)
{
	return MyBgworkerEntry != NULL && strcmp(MyBgworkerEntry->bgw_type, RF_WORKER_TYPE) == 0;
}

/*
 * Lock and load a projection for a run. Returns false when there is nothing
 * to do now: another batch holds it, it is paused or failed, a daemon holds
 * a lease on it, or a retry is not yet due; or it cannot run
 * (rf_check_runnable).
 */
static bool
rf_load_projection(const RfStore *store, const char *name, RfProjection *proj)
{
	SPITupleTable *tab;
	bool		isnull;
	char	   *kind;
	char	   *status;
	Oid			owner;

	proj->name = name;
	proj->name_datum = CStringGetTextDatum(name);
	rf_run_plan(store, &rf_lock_plan, &proj->name_datum, NULL, false, 1);
	if (SPI_processed == 0)
	{
		rf_run_plan(store, &rf_kind_plan, &proj->name_datum, NULL, true, 1);
		if (SPI_processed == 0)
			rf_projection_not_found(store, name);
		kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (strcmp(kind, "worker") != 0)
			goto external;
		return false;			/* a batch holds the row right now */
	}
	tab = SPI_tuptable;
	kind = SPI_getvalue(tab->vals[0], tab->tupdesc, 1);
	if (strcmp(kind, "worker") != 0)
		goto external;
	status = SPI_getvalue(tab->vals[0], tab->tupdesc, 5);
	if (strcmp(status, "running") != 0 ||
		DatumGetBool(SPI_getbinval(tab->vals[0], tab->tupdesc, 7, &isnull)) ||
		DatumGetBool(SPI_getbinval(tab->vals[0], tab->tupdesc, 8, &isnull)))
		return false;

	/* the stored signature, resolved (function_refs.c); NULL: no such function */
	proj->handler_oid = DatumGetObjectId(SPI_getbinval(tab->vals[0], tab->tupdesc, 2, &isnull));
	if (isnull)
		proj->handler_oid = InvalidOid;
	proj->event_types = SPI_getbinval(tab->vals[0], tab->tupdesc, 3, &isnull);
	if (isnull)
		proj->event_types = (Datum) 0;
	else
		proj->event_types = PointerGetDatum(DatumGetArrayTypePCopy(proj->event_types));
	proj->batch_size = DatumGetInt32(SPI_getbinval(tab->vals[0], tab->tupdesc, 4, &isnull));
	proj->checkpoint = DatumGetInt64(SPI_getbinval(tab->vals[0], tab->tupdesc, 6, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(tab->vals[0], tab->tupdesc, 9, &isnull));

	if (!rf_check_runnable(store, proj, owner))
		return false;
	proj->handler.cancel_charges = rf_in_worker();

	/*
	 * A role that calls run_projection causes the handler's calls (as its
	 * owner): it needs EXECUTE on the handler itself, as for calling it. The
	 * worker runs every projection by design.
	 */
	if (!proj->handler.cancel_charges)
	{
		AclResult	aclresult = pg_proc_aclcheck(proj->handler_oid, GetUserId(), ACL_EXECUTE);

		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(proj->handler_oid));
	}
	InvokeFunctionExecuteHook(proj->handler_oid);
	fmgr_info(proj->handler_oid, &proj->handler.flinfo);
	if (proj->handler.batch)
	{
		proj->handler.array_type.elemtype = rf_envelope_type();
		get_typlenbyvalalign(proj->handler.array_type.elemtype, &proj->handler.array_type.typlen,
							 &proj->handler.array_type.typbyval, &proj->handler.array_type.typalign);
	}
	proj->handler.budget_ms = rf_batch_statement_timeout_ms;
	rf_type_filter_init(&proj->handler.types, proj->event_types);
	proj->handler.upcasters = rf_upcasters_acquire(store);
	return true;

external:
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("projection \"%s\" is external: it is run by a daemon, not by the database", name),
			 errhint("Run it with the rillflow projection daemon, which uses rillflow.projection_acquire().")));
	return false;
}

/* Up to max_batches batches of one projection; SPI is connected. */
static int64
rf_run_one(const RfStore *store, const char *name, int64 max_batches, bool *progress_out)
{
	RfProjection proj;
	int64		applied = 0;

	*progress_out = false;
	memset(&proj, 0, sizeof(proj));
	if (!rf_load_projection(store, name, &proj))
		return 0;
	for (int64 b = 0; b < max_batches; b++)
	{
		bool		progress;

		CHECK_FOR_INTERRUPTS();
		applied += rf_run_batch(store, &proj, b == 0, &progress);
		if (!progress)
			break;
		*progress_out = true;
	}
	return applied;
}

/*
 * The current store, copied: a handler can change rillflow.tenant and look
 * the store up again, which rewrites the cached one (store.c), and the run
 * must go on in the store it began in.
 */
static RfStore *
rf_begin_run(void)
{
	RfStore    *store;

	rf_require_current_extension();

	/*
	 * A run inside a handler's call would switch to another owner and arm
	 * the one budget timer over the outer run's: refused.
	 */
	if (rf_in_handler_run())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a projection handler cannot run projections"),
				 errdetail("run_projection and run_projections_until_idle were called from a handler's call.")));
	store = palloc(sizeof(RfStore));
	*store = *rf_current_store();
	store->quoted_schema = pstrdup(store->quoted_schema);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * The batch reads what was committed before the call, as read_all does;
	 * when the log cannot catch up in time, it goes on with what is there.
	 */
	(void) rf_log_sync(store, true, NULL);
	return store;
}

/*
 * rillflow.run_projection(name text, max_batches integer) RETURNS bigint
 */
Datum
rillflow_run_projection(PG_FUNCTION_ARGS)
{
	const RfStore *store;
	char	   *name;
	int32		max_batches;
	int64		applied;
	bool		progress;

	rf_require_arg(fcinfo, 0, "projection name", NULL);
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rf_check_projection_name(name);
	if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 PG_ARGISNULL(1)
				 ? errmsg("max_batches must be at least 1, not NULL")
				 : errmsg("max_batches must be at least 1, not %d", PG_GETARG_INT32(1)),
				 errhint("Use rillflow.run_projections_until_idle() to run until there is nothing left.")));
	max_batches = PG_GETARG_INT32(1);

	store = rf_begin_run();
	applied = rf_run_one(store, name, max_batches, &progress);
	SPI_finish();
	PG_RETURN_INT64(applied);
}

/*
 * rillflow.run_projections_until_idle(name text DEFAULT NULL) RETURNS bigint
 *
 * Runs batches until a batch finds nothing to do (or stops at a retry);
 * with no name, every running worker projection of the store in turn. All of
 * it is one transaction: for a long catch-up, prefer the background worker
 * or run_projection in a loop (see docs/projections.md).
 */
Datum
rillflow_run_projections_until_idle(PG_FUNCTION_ARGS)
{
	const RfStore *store;
	int64		applied = 0;
	bool		progress;

	if (!PG_ARGISNULL(0))
		rf_check_projection_name(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	store = rf_begin_run();
	if (!PG_ARGISNULL(0))
		applied = rf_run_one(store, text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_INT64_MAX, &progress);
	else
	{
		SPITupleTable *tab;
		uint64		n;

		rf_run_plan(store, &rf_running_projections_spec, NULL, NULL, false, 0);
		tab = SPI_tuptable;
		n = SPI_processed;
		for (uint64 i = 0; i < n; i++)
			applied += rf_run_one(store, SPI_getvalue(tab->vals[i], tab->tupdesc, 1),
								  PG_INT64_MAX, &progress);
	}
	SPI_finish();
	PG_RETURN_INT64(applied);
}
