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
 *	  event (rf_apply_run_batch), and from there on it is as for a per-event
 *	  handler.
 *
 *	  A handler error counts an attempt at that event
 *	  (rillflow._projection_record_failure, in SQL: it is the rare path):
 *	  the batch stops before the event and retries it after a backoff, or,
 *	  after max_attempts, dead-letters it and goes on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "core/args.h"
#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/log_sync.h"
#include "projections/projection.h"

PG_FUNCTION_INFO_V1(rillflow_run_projection);
PG_FUNCTION_INFO_V1(rillflow_run_projections_until_idle);
PG_FUNCTION_INFO_V1(rillflow_note_checkpoint_advance);

#define RF_ENVELOPE_ROW \
	"ROW(p.position, e.stream_id, e.version, e.type, e.event_version, e.body, e.headers, " \
	"e.event_id, e.causation_id, e.correlation_id, e.created_at)::rillflow.event_envelope "

/* The row, if no other batch holds it; $1 name. */
static const RfPlanSpec rf_lock_plan = {
	"SELECT kind, handler::pg_catalog.oid, event_types, batch_size, status, checkpoint, "
	"  (lease_owner IS NOT NULL AND lease_expires_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()), "
	"  (retry_at IS NOT NULL AND retry_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()) "
	"FROM %s.projections WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE SKIP LOCKED",
	1, {TEXTOID}
};

static const RfPlanSpec rf_kind_plan = {
	"SELECT kind FROM %s.projections WHERE name OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

static const RfPlanSpec rf_head_plan = {
	"SELECT COALESCE(pg_catalog.max(position), 0) FROM %s.positions",
	0, {InvalidOid}
};

/*
 * $1 after, $2 head, $3 limit [, $4 types]. The positions range drives a
 * nested loop into events by primary key (OFFSET 0 keeps the planner from
 * flattening it into a hash join over the whole events table, which it
 * picks for a generic plan on fresh statistics): a batch costs its own rows
 * only, however long the log.
 */
static const RfPlanSpec rf_events_plan = {
	"SELECT p.position, " RF_ENVELOPE_ROW
	"FROM %s.positions p CROSS JOIN LATERAL ("
	"  SELECT * FROM %s.events e1 WHERE e1.seq OPERATOR(pg_catalog.=) p.seq OFFSET 0) e "
	"WHERE p.position OPERATOR(pg_catalog.>) $1 AND p.position OPERATOR(pg_catalog.<=) $2 "
	"ORDER BY p.position LIMIT $3",
	3, {INT8OID, INT8OID, INT4OID}
};

static const RfPlanSpec rf_events_types_plan = {
	"SELECT p.position, " RF_ENVELOPE_ROW
	"FROM %s.positions p CROSS JOIN LATERAL ("
	"  SELECT * FROM %s.events e1 WHERE e1.seq OPERATOR(pg_catalog.=) p.seq OFFSET 0) e "
	"WHERE p.position OPERATOR(pg_catalog.>) $1 AND p.position OPERATOR(pg_catalog.<=) $2 "
	"  AND e.type OPERATOR(pg_catalog.=) ANY ($4) "
	"ORDER BY p.position LIMIT $3",
	4, {INT8OID, INT8OID, INT4OID, TEXTARRAYOID}
};

/* Dead letters an admin requeued; re-read from the log, which keeps them. */
static const RfPlanSpec rf_requeued_plan = {
	"SELECT d.id, p.position, " RF_ENVELOPE_ROW
	"FROM %s.projection_dlq d JOIN %s.positions p ON p.position OPERATOR(pg_catalog.=) d.position "
	"  JOIN %s.events e ON e.seq OPERATOR(pg_catalog.=) p.seq "
	"WHERE d.projection OPERATOR(pg_catalog.=) $1 AND d.requeued_at IS NOT NULL ORDER BY d.id",
	1, {TEXTOID}
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
	Oid			handler;
	Datum		event_types;	/* 0 for every type */
	int			batch_size;
	int64		checkpoint;
	FmgrInfo	flinfo;
	bool		batch;			/* the handler takes rillflow.event_envelope[] */
	RfEnvelopeArrayType array_type;
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
 * Stop a projection whose handler is gone or was never runnable: status
 * failed, the reason in last_error. The run returns 0 with a warning; the
 * worker goes on with the other projections.
 */
static void
rf_mark_failed(const RfStore *store, const char *name, const char *message)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(store->quoted_schema), CStringGetTextDatum(name),
	CStringGetTextDatum(message)};
	char	   *sql = psprintf("UPDATE %s.projections SET status = 'failed', updated_at = pg_catalog.now(), "
						   "last_error = pg_catalog.jsonb_build_object('message', $3::pg_catalog.text, "
						   "'sqlstate', '55000', 'at', pg_catalog.clock_timestamp()) "
						   "WHERE name OPERATOR(pg_catalog.=) $2 AND $1 IS NOT NULL",
						   store->quoted_schema);

	rf_exec(sql, 3, types, values, NULL);
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("projection \"%s\" failed: %s", name, message),
			 errhint("Fix the handler, then call rillflow.resume_projection('%s').", name)));
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
 * call. Returns -1 on success, else the index of the failing event for a
 * per-event handler, and from for a batch handler (it is not known which).
 */
static int
rf_apply_range(RfProjection *proj, Datum *events, int64 *positions, int from, int to,
			   ErrorData **error)
{
	if (!proj->batch)
		return rf_apply_events(&proj->flinfo, events, positions, from, to, error);
	return rf_apply_batch(&proj->flinfo, &proj->array_type, events, positions, from, to, error)
		? -1 : from;
}

/*
 * rf_apply_run for a batch handler. One call for events[from..n); when it
 * fails, bisection: the invariant is that calling the handler on [lo, hi)
 * after what is applied so far fails with *edata. Call it on the first half:
 * a failure narrows to it; a success is kept, and the second half is called
 * to learn its error (or kept too, when it succeeds on its own: a handler
 * whose failure came from two events together, or one that is not
 * deterministic, then goes on from hi). At most about 2 log2(n) calls find
 * the first failing event k, with events[from..k) applied, each exactly once.
 */
static int
rf_apply_run_batch(const RfStore *store, RfProjection *proj, Datum *events, int64 *positions,
				   int from, int n, int *failed, bool *dead)
{
	int			pos = from;

	*failed = -1;
	*dead = false;
	while (pos < n)
	{
		ErrorData  *edata = NULL;
		int			lo = pos,
					hi = n;

		if (rf_apply_range(proj, events, positions, pos, n, &edata) < 0)
			return n - from;
		while (hi - lo > 1)
		{
			int			mid = lo + (hi - lo) / 2;
			ErrorData  *again = NULL;

			CHECK_FOR_INTERRUPTS();
			if (rf_apply_range(proj, events, positions, lo, mid, &again) >= 0)
			{
				hi = mid;
				FreeErrorData(edata);
				edata = again;
				continue;
			}
			lo = mid;
			if (rf_apply_range(proj, events, positions, lo, hi, &again) < 0)
			{
				lo = hi;		/* the rest of the range went through on its own */
				break;
			}
			FreeErrorData(edata);
			edata = again;
		}
		if (lo < hi)
		{
			*failed = lo;
			*dead = rf_record_failure(store, proj, positions[lo], edata);
			return lo - from;
		}
		FreeErrorData(edata);
		pos = hi;
	}
	return n - from;
}

/*
 * Apply events[from..n): on a failure, apply the events before it again
 * (their run was rolled back with it) and count the failure. Returns the
 * number of events applied; *next is where to go on (n when done), *failed
 * the index of the failing event or -1, *dead whether it was dead-lettered.
 */
static int
rf_apply_run(const RfStore *store, RfProjection *proj, Datum *events, int64 *positions,
			 int from, int n, int *failed, bool *dead)
{
	ErrorData  *edata = NULL;
	int			k;

	if (proj->batch)
		return rf_apply_run_batch(store, proj, events, positions, from, n, failed, dead);
	k = rf_apply_events(&proj->flinfo, events, positions, from, n, &edata);
	*failed = -1;
	*dead = false;
	if (k < 0)
		return n - from;

	/* Keep what came before the failing event. */
	while (k > from)
	{
		ErrorData  *again = NULL;
		int			j = rf_apply_events(&proj->flinfo, events, positions, from, k, &again);

		if (j < 0)
			break;
		/* The handler is not deterministic: blame the event that failed now. */
		k = j;
		edata = again;
	}
	*failed = k;
	*dead = rf_record_failure(store, proj, positions[k], edata);
	return k - from;
}

/*
 * Requeued dead letters go first, one at a time: a success removes the
 * dead letter, a failure puts it back with the new error.
 */
static int64
rf_apply_requeued(const RfStore *store, RfProjection *proj)
{
	SPITupleTable *tab;
	uint64		n;
	int64		applied = 0;

	rf_run_plan(store, &rf_requeued_plan, &proj->name_datum, NULL, false, 0);
	tab = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(tab->vals[i], tab->tupdesc, 1, &isnull);
		int64		position = DatumGetInt64(SPI_getbinval(tab->vals[i], tab->tupdesc, 2, &isnull));
		Datum		event = SPI_getbinval(tab->vals[i], tab->tupdesc, 3, &isnull);
		ErrorData  *edata = NULL;

		if (rf_apply_range(proj, &event, &position, 0, 1, &edata) < 0)
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
	SPITupleTable *tab;
	uint64		n;
	int64		head;
	int64		checkpoint = proj->checkpoint;
	int64		applied = 0;
	bool		stopped = false;
	Datum	   *events;
	int64	   *positions;
	Datum		values[4];
	instr_time	start,
				duration;

	INSTR_TIME_SET_CURRENT(start);
	if (first)
		applied += rf_apply_requeued(store, proj);

	/*
	 * Everything up to head is visible to the read below: positions are
	 * given in order by one ticker at a time, and this statement's snapshot
	 * is older than the read's.
	 */
	rf_run_plan(store, &rf_head_plan, NULL, NULL, false, 1);
	head = rf_spi_int8(0, 1);

	values[0] = Int64GetDatum(proj->checkpoint);
	values[1] = Int64GetDatum(head);
	values[2] = Int32GetDatum(proj->batch_size);
	values[3] = proj->event_types;
	rf_run_plan(store, proj->event_types ? &rf_events_types_plan : &rf_events_plan,
				values, NULL, false, 0);
	tab = SPI_tuptable;
	n = SPI_processed;
	events = palloc(sizeof(Datum) * (n + 1));
	positions = palloc(sizeof(int64) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		positions[i] = DatumGetInt64(SPI_getbinval(tab->vals[i], tab->tupdesc, 1, &isnull));
		events[i] = SPI_getbinval(tab->vals[i], tab->tupdesc, 2, &isnull);
	}

	for (int i = 0; i < (int) n;)
	{
		int			failed;
		bool		dead;

		applied += rf_apply_run(store, proj, events, positions, i, (int) n, &failed, &dead);
		if (failed < 0)
		{
			checkpoint = positions[n - 1];
			break;
		}
		if (failed > i)
			checkpoint = positions[failed - 1];
		if (!dead)
		{
			stopped = true;		/* retried after the backoff */
			break;
		}
		checkpoint = positions[failed];
		i = failed + 1;
	}
	/* A short batch read all there is: the types it skipped are passed too. */
	if (!stopped && n < (uint64) proj->batch_size && head > checkpoint)
		checkpoint = head;

	/* An idle batch writes nothing (the worker runs one per projection per tick). */
	*progress = (checkpoint > proj->checkpoint || applied > 0) && !stopped;
	if (checkpoint == proj->checkpoint && applied == 0 && !stopped)
	{
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
	SPI_freetuptable(tab);
	pfree(events);
	pfree(positions);
	return applied;
}

/*
 * Lock and load a projection for a run. Returns false when there is nothing
 * to do now: another batch holds it, it is paused or failed, a daemon holds
 * a lease on it, or a retry is not yet due.
 */
static bool
rf_load_projection(const RfStore *store, const char *name, RfProjection *proj)
{
	SPITupleTable *tab;
	bool		isnull;
	char	   *kind;
	char	   *status;
	AclResult	aclresult;

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

	proj->handler = DatumGetObjectId(SPI_getbinval(tab->vals[0], tab->tupdesc, 2, &isnull));
	proj->event_types = SPI_getbinval(tab->vals[0], tab->tupdesc, 3, &isnull);
	if (isnull)
		proj->event_types = (Datum) 0;
	else
		proj->event_types = PointerGetDatum(DatumGetArrayTypePCopy(proj->event_types));
	proj->batch_size = DatumGetInt32(SPI_getbinval(tab->vals[0], tab->tupdesc, 4, &isnull));
	proj->checkpoint = DatumGetInt64(SPI_getbinval(tab->vals[0], tab->tupdesc, 6, &isnull));

	if (!SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(proj->handler)))
	{
		rf_mark_failed(store, name, "its handler function no longer exists");
		return false;
	}
	aclresult = pg_proc_aclcheck(proj->handler, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(proj->handler));
	InvokeFunctionExecuteHook(proj->handler);
	fmgr_info(proj->handler, &proj->flinfo);

	/* The registry admits one argument: the envelope, or an array of them. */
	{
		Oid		   *argtypes;
		int			nargs;

		(void) get_func_signature(proj->handler, &argtypes, &nargs);
		proj->array_type.elemtype = nargs == 1 ? get_element_type(argtypes[0]) : InvalidOid;
		proj->batch = OidIsValid(proj->array_type.elemtype);
		if (proj->batch)
			get_typlenbyvalalign(proj->array_type.elemtype, &proj->array_type.typlen,
								 &proj->array_type.typbyval, &proj->array_type.typalign);
	}
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

static void
rf_begin_run(const RfStore *store)
{
	rf_projection_set_interrupted(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * The batch reads what was committed before the call, as read_all does;
	 * when the log cannot catch up in time, it goes on with what is there.
	 */
	(void) rf_log_sync(store, true, NULL);
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

	store = rf_current_store();
	rf_begin_run(store);
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
	store = rf_current_store();
	rf_begin_run(store);
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
