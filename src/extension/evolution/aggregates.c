/*-------------------------------------------------------------------------
 *
 * aggregates.c
 *	  rillflow.aggregate_load and rillflow.aggregate_commit: folding a
 *	  stream's events into an aggregate's state, in the database.
 *
 *	  A load starts from the aggregate's newest snapshot at or below the
 *	  stream's version (or its initial state) and folds the events after it,
 *	  upcast first (upcast.c) and filtered by the aggregate's event types as
 *	  upcast. The fold runs once per event, as the aggregate's owner,
 *	  security-restricted (user_code.c), whoever loads.
 *
 *	  A commit loads, checks the expected version, folds the new events onto
 *	  the state, calls the caller's validator on the new state (as the
 *	  caller, security-restricted) and only then appends, with the loaded
 *	  version as the expected one: a validator's rejection writes nothing,
 *	  and an append that came in between is a version conflict (RF001).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "core/args.h"
#include "core/errcodes.h"
#include "core/plans.h"
#include "core/store.h"
#include "events/log_segments.h"
#include "evolution/evolution.h"

PG_FUNCTION_INFO_V1(rillflow_aggregate_load);
PG_FUNCTION_INFO_V1(rillflow_aggregate_commit);

static const RfPlanSpec rf_aggregate_plan = {
	"SELECT rillflow._function_ref(fold)::pg_catalog.oid, owner::pg_catalog.oid, initial, event_types, "
	"  state_version "
	"FROM %s.aggregates WHERE name OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

static const RfPlanSpec rf_snapshot_plan = {
	"SELECT sn.version, sn.state FROM %s.snapshots sn JOIN %s.streams st "
	"  ON st.stream_id OPERATOR(pg_catalog.=) sn.stream_id "
	"WHERE sn.stream_id OPERATOR(pg_catalog.=) $1 AND sn.aggregate OPERATOR(pg_catalog.=) $2 "
	"  AND sn.state_version OPERATOR(pg_catalog.=) $3 AND sn.version OPERATOR(pg_catalog.<=) st.version",
	3, {UUIDOID, TEXTOID, INT4OID}
};

/* The envelope columns of read_stream, from a version on. */
/*
 * The position is a scalar subquery (an index probe per event) rather than a
 * join: a generic plan of the join, which cannot know how short the tail is,
 * hashes the whole log, and a load from a snapshot would pay for
 * the whole log.
 */
#define RF_TAIL_SQL(position) \
	"SELECT " position ", " \
	"  e.stream_id, e.version, e.type, e.event_version, e.body, e.headers, " \
	"  e.event_id, e.causation_id, e.correlation_id, e.created_at " \
	"FROM %s.events e " \
	"WHERE e.stream_id OPERATOR(pg_catalog.=) $1 AND e.version OPERATOR(pg_catalog.>=) $2 " \
	"ORDER BY e.version"

static const RfPlanSpec rf_tail_plan = {
	RF_TAIL_SQL(RF_POSITION_OF("%s.log_segments", "e.seq")),
	2, {UUIDOID, INT8OID},
	.positions_sql =
	RF_TAIL_SQL("(SELECT p.position FROM %s.positions p WHERE p.seq OPERATOR(pg_catalog.=) e.seq)")
};

static const RfPlanSpec rf_track_plan = {
	"INSERT INTO %s.aggregate_streams (aggregate, stream_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
	2, {TEXTOID, UUIDOID}
};

/* An aggregate as a load folds it. */
typedef struct RfAggregate
{
	const char *name;
	Oid			fold;
	Oid			owner;
	Datum		initial;
	Datum	   *types;			/* NULL: every type */
	int			ntypes;
	int32		state_version;
	FmgrInfo	flinfo;
	TupleDesc	envelope_desc;
	RfUpcasters *ups;
	/* the state, ping-ponged between two contexts */
	Datum		state;
	int64		version;
	MemoryContext statecxt[2];
	int			cur;
	MemoryContext callcxt;
} RfAggregate;

static TupleDesc
rf_envelope_tupdesc(void)
{
	Oid			nsp = get_namespace_oid("rillflow", false);
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("event_envelope"),
										ObjectIdGetDatum(nsp));

	return lookup_rowtype_tupdesc_copy(typid, -1);
}

/* Look an aggregate up, or RF004; SPI is connected. */
static void
rf_aggregate_open(const RfStore *store, const char *name, RfAggregate *agg)
{
	Datum		arg = CStringGetTextDatum(name);
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		types;

	memset(agg, 0, sizeof(*agg));
	agg->name = name;
	rf_run_plan(store, &rf_aggregate_plan, &arg, NULL, true, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RF_NOT_FOUND),
				 errmsg("aggregate \"%s\" does not exist", name),
				 errhint("Create it with rillflow.create_aggregate().")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	agg->fold = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	agg->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
	agg->initial = SPI_getbinval(tup, desc, 3, &isnull);
	agg->initial = datumCopy(agg->initial, false, -1);
	types = SPI_getbinval(tup, desc, 4, &isnull);
	if (!isnull)
		deconstruct_array(DatumGetArrayTypePCopy(types), TEXTOID, -1, false, TYPALIGN_INT,
						  &agg->types, NULL, &agg->ntypes);
	agg->state_version = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	SPI_freetuptable(SPI_tuptable);

	rf_check_user_function(agg->fold, agg->owner, "fold");
	fmgr_info(agg->fold, &agg->flinfo);
	agg->envelope_desc = rf_envelope_tupdesc();
	agg->ups = rf_upcasters_acquire(store);
	agg->statecxt[0] = AllocSetContextCreate(CurrentMemoryContext, "rillflow aggregate state", ALLOCSET_DEFAULT_SIZES);
	agg->statecxt[1] = AllocSetContextCreate(CurrentMemoryContext, "rillflow aggregate state", ALLOCSET_DEFAULT_SIZES);
	agg->callcxt = AllocSetContextCreate(CurrentMemoryContext, "rillflow fold call", ALLOCSET_DEFAULT_SIZES);
}

static bool
rf_type_wanted(RfAggregate *agg, Datum type)
{
	if (agg->types == NULL)
		return true;
	for (int i = 0; i < agg->ntypes; i++)
		if (DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, type, agg->types[i])))
			return true;
	return false;
}

/*
 * Fold one event (its envelope fields, as stored) onto the state: upcast,
 * filtered, then the fold as the aggregate's owner. The version moves on
 * whatever the type.
 */
static void
rf_fold_event(RfAggregate *agg, Datum *values, bool *isnull)
{
	MemoryContext old = MemoryContextSwitchTo(agg->callcxt);
	volatile Datum result = (Datum) 0;
	volatile bool result_null = false;
	RfUserCall	call;

	agg->version = DatumGetInt64(values[RF_ENV_VERSION]);
	(void) rf_upcast_fields(agg->ups, values, isnull);
	if (!rf_type_wanted(agg, values[RF_ENV_TYPE]))
	{
		MemoryContextSwitchTo(old);
		MemoryContextReset(agg->callcxt);
		return;
	}
	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 2);
		Datum		envelope = HeapTupleGetDatum(heap_form_tuple(agg->envelope_desc, values, isnull));

		rf_user_call_enter(&call, agg->owner);
		InitFunctionCallInfoData(*fcinfo, &agg->flinfo, 2, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = agg->state;
		fcinfo->args[0].isnull = false;
		fcinfo->args[1].value = envelope;
		fcinfo->args[1].isnull = false;
		result = FunctionCallInvoke(fcinfo);
		result_null = fcinfo->isnull;
		rf_user_call_leave(&call);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(agg->callcxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->message = psprintf("fold %s of aggregate \"%s\" failed on stream %s version " INT64_FORMAT
								  " (type %s): %s",
								  format_procedure(agg->fold), agg->name,
								  DatumGetCString(DirectFunctionCall1(uuid_out, values[RF_ENV_STREAM_ID])),
								  agg->version, TextDatumGetCString(values[RF_ENV_TYPE]), edata->message);
		ReThrowError(edata);
	}
	PG_END_TRY();
	if (result_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("fold %s of aggregate \"%s\" returned NULL on stream %s version " INT64_FORMAT,
						format_procedure(agg->fold), agg->name,
						DatumGetCString(DirectFunctionCall1(uuid_out, values[RF_ENV_STREAM_ID])), agg->version),
				 errhint("A fold returns the new state, never NULL.")));
	/* The new state into the other state context; the old one goes. */
	agg->cur = 1 - agg->cur;
	MemoryContextReset(agg->statecxt[agg->cur]);
	MemoryContextSwitchTo(agg->statecxt[agg->cur]);
	agg->state = datumCopy(result, false, -1);
	MemoryContextSwitchTo(old);
	MemoryContextReset(agg->callcxt);
}

/*
 * Load an aggregate's state of a stream into agg->state/version: the
 * newest snapshot, then the tail. A stream that does not exist is the
 * initial state at version 0. SPI is connected.
 */
static void
rf_aggregate_fold_stream(const RfStore *store, RfAggregate *agg, Datum stream_id)
{
	Datum		args[3];
	SPITupleTable *tab;
	uint64		n;
	int64		from = 1;

	agg->state = agg->initial;
	agg->version = 0;
	args[0] = stream_id;
	args[1] = CStringGetTextDatum(agg->name);
	args[2] = Int32GetDatum(agg->state_version);
	rf_run_plan(store, &rf_snapshot_plan, args, NULL, true, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(agg->statecxt[agg->cur]);

		agg->version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		agg->state = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull), false, -1);
		MemoryContextSwitchTo(old);
		from = agg->version + 1;
	}
	SPI_freetuptable(SPI_tuptable);

	args[1] = Int64GetDatum(from);
	rf_run_plan(store, &rf_tail_plan, args, NULL, true, 0);
	tab = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		Datum		values[RF_ENV_NATTS];
		bool		isnull[RF_ENV_NATTS];

		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tab->vals[i], tab->tupdesc, values, isnull);
		rf_fold_event(agg, values, isnull);
	}
	SPI_freetuptable(tab);
}

static RfStore *
rf_store_copy(void)
{
	RfStore    *store = palloc(sizeof(RfStore));

	*store = *rf_current_store();
	store->quoted_schema = pstrdup(store->quoted_schema);
	return store;
}

static void
rf_return_state(FunctionCallInfo fcinfo, RfAggregate *agg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[2] = {agg->state, Int64GetDatum(agg->version)};
	bool		nulls[2] = {false, false};

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static char *
rf_aggregate_name_arg(FunctionCallInfo fcinfo)
{
	rf_require_arg(fcinfo, 0, "aggregate name", NULL);
	rf_require_arg(fcinfo, 1, "stream_id", "Use rillflow.resolve_stream_alias() to get an id for a name.");
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

/*
 * rillflow.aggregate_load(name text, stream_id uuid)
 *     RETURNS TABLE(state jsonb, version bigint)
 */
Datum
rillflow_aggregate_load(PG_FUNCTION_ARGS)
{
	char	   *name = rf_aggregate_name_arg(fcinfo);
	RfStore    *store;
	RfAggregate agg;

	InitMaterializedSRF(fcinfo, 0);
	store = rf_store_copy();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rf_aggregate_open(store, name, &agg);
	rf_aggregate_fold_stream(store, &agg, PG_GETARG_DATUM(1));
	rf_return_state(fcinfo, &agg);
	SPI_finish();
	return (Datum) 0;
}

/* A validator takes one jsonb and returns boolean or void (42883, 22023, 42501). */
static void
rf_check_validator(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc p;
	bool		ok;
	AclResult	aclresult;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("validator function with OID %u does not exist", fn)));
	p = (Form_pg_proc) GETSTRUCT(tup);
	ok = p->prokind == PROKIND_FUNCTION && p->pronargs == 1 && !p->proretset &&
		p->proargtypes.values[0] == JSONBOID && (p->prorettype == BOOLOID || p->prorettype == VOIDOID);
	ReleaseSysCache(tup);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("validator %s must be a function taking one jsonb and returning boolean or void",
						format_procedure(fn)),
				 errhint("It gets the state after the new events; it rejects them by raising an error or returning false.")));
	aclresult = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(fn));
}

/*
 * Call the validator on the new state, as the caller, security-restricted.
 * Its error goes out as it is, with its SQLSTATE; false is 23514.
 */
static void
rf_validate(Oid fn, RfAggregate *agg, Datum stream_id)
{
	FmgrInfo	flinfo;
	RfUserCall	call;
	Datum		result;
	bool		rejected;
	LOCAL_FCINFO(fcinfo, 1);

	rf_check_validator(fn);
	fmgr_info(fn, &flinfo);
	rf_user_call_enter(&call, GetUserId());
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = agg->state;
	fcinfo->args[0].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	rejected = get_func_rettype(fn) == BOOLOID && (fcinfo->isnull || !DatumGetBool(result));
	rf_user_call_leave(&call);
	if (rejected)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("validator %s rejected the new state of aggregate \"%s\" on stream %s",
						format_procedure(fn), agg->name,
						DatumGetCString(DirectFunctionCall1(uuid_out, stream_id))),
				 errdetail("Nothing was appended.")));
}

/* The expected-version rule of append_events, checked against the load (RF001). */
static void
rf_check_expected(Datum stream_id, int64 expected, int64 actual)
{
	bool		ok = expected == -1 ? actual > 0 : expected == actual;

	if (expected < -1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected_version must be -1, 0, a version or NULL, not " INT64_FORMAT, expected)));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_RF_VERSION_CONFLICT),
				 errmsg("version conflict on stream %s: expected %s, but it is at " INT64_FORMAT,
						DatumGetCString(DirectFunctionCall1(uuid_out, stream_id)),
						expected == -1 ? "an existing stream" :
						expected == 0 ? "no stream" : psprintf("version " INT64_FORMAT, expected),
						actual),
				 errhint("Load the aggregate again and retry the command.")));
}

static const char *rf_new_events_sql =
"SELECT i::pg_catalog.int4, pg_catalog.jsonb_typeof(e), e OPERATOR(pg_catalog.->>) 'type', "
"  e OPERATOR(pg_catalog.->) 'event_version', e OPERATOR(pg_catalog.->) 'body', "
"  e OPERATOR(pg_catalog.->) 'headers', e OPERATOR(pg_catalog.->>) 'event_id' "
"FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS x(e, i) ORDER BY i";

/*
 * Fold the new events of a commit onto the state. Their shape is checked
 * here as far as the fold needs it (an object with a type and a body); the
 * append checks the rest, before anything is written either way.
 */
static void
rf_fold_new_events(RfAggregate *agg, Datum stream_id, Jsonb *events)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		args[1] = {JsonbPGetDatum(events)};
	SPITupleTable *tab;
	uint64		n;
	int64		base = agg->version;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events must be a JSON array of events"),
				 errhint("Pass [{\"type\": ..., \"body\": ...}, ...].")));
	if (JB_ROOT_COUNT(events) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events must not be empty")));
	if (SPI_execute_with_args(rf_new_events_sql, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the events of a commit");
	tab = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = tab->vals[i];
		Datum		values[RF_ENV_NATTS];
		bool		isnull[RF_ENV_NATTS];
		bool		null;
		char	   *kind = SPI_getvalue(tup, tab->tupdesc, 2);
		Datum		ev;

		if (strcmp(kind, "object") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d] must be an object, not %s", (int) i, kind)));
		memset(isnull, true, sizeof(isnull));
		values[RF_ENV_STREAM_ID] = stream_id;
		isnull[RF_ENV_STREAM_ID] = false;
		values[RF_ENV_VERSION] = Int64GetDatum(base + (int64) i + 1);
		isnull[RF_ENV_VERSION] = false;
		values[RF_ENV_TYPE] = SPI_getbinval(tup, tab->tupdesc, 3, &isnull[RF_ENV_TYPE]);
		if (isnull[RF_ENV_TYPE])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d] has no type", (int) i)));
		ev = SPI_getbinval(tup, tab->tupdesc, 4, &null);
		values[RF_ENV_EVENT_VERSION] = Int32GetDatum(1);
		if (!null)
		{
			char	   *s = JsonbToCString(NULL, &DatumGetJsonbP(ev)->root, 16);

			values[RF_ENV_EVENT_VERSION] = DirectFunctionCall1(int4in, CStringGetDatum(s));
		}
		isnull[RF_ENV_EVENT_VERSION] = false;
		values[RF_ENV_BODY] = SPI_getbinval(tup, tab->tupdesc, 5, &isnull[RF_ENV_BODY]);
		if (isnull[RF_ENV_BODY])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("events[%d] has no body", (int) i)));
		values[RF_ENV_HEADERS] = SPI_getbinval(tup, tab->tupdesc, 6, &isnull[RF_ENV_HEADERS]);
		if (isnull[RF_ENV_HEADERS])
		{
			values[RF_ENV_HEADERS] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
			isnull[RF_ENV_HEADERS] = false;
		}
		ev = SPI_getbinval(tup, tab->tupdesc, 7, &null);
		if (!null)
		{
			values[RF_ENV_EVENT_ID] = DirectFunctionCall1(uuid_in, CStringGetDatum(TextDatumGetCString(ev)));
			isnull[RF_ENV_EVENT_ID] = false;
		}
		values[RF_ENV_CREATED_AT] = TimestampTzGetDatum(now);
		isnull[RF_ENV_CREATED_AT] = false;
		rf_fold_event(agg, values, isnull);
	}
	SPI_freetuptable(tab);
}

/*
 * rillflow.aggregate_commit(name text, stream_id uuid, events jsonb,
 *     expected_version bigint, validator regprocedure)
 *     RETURNS TABLE(state jsonb, version bigint)
 */
Datum
rillflow_aggregate_commit(PG_FUNCTION_ARGS)
{
	char	   *name = rf_aggregate_name_arg(fcinfo);
	Datum		stream_id = PG_GETARG_DATUM(1);
	RfStore    *store;
	RfAggregate agg;
	int64		loaded;
	Oid			argtypes[3] = {UUIDOID, JSONBOID, INT8OID};
	Datum		args[3];
	bool		isnull;
	int64		new_version;

	rf_require_arg(fcinfo, 2, "events", "Pass a JSON array of events.");
	InitMaterializedSRF(fcinfo, 0);
	store = rf_store_copy();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rf_aggregate_open(store, name, &agg);
	rf_aggregate_fold_stream(store, &agg, stream_id);
	loaded = agg.version;
	if (!PG_ARGISNULL(3))
		rf_check_expected(stream_id, PG_GETARG_INT64(3), loaded);
	rf_fold_new_events(&agg, stream_id, PG_GETARG_JSONB_P(2));
	if (!PG_ARGISNULL(4))
		rf_validate(PG_GETARG_OID(4), &agg, stream_id);

	/* Nothing is written before this point. */
	args[0] = stream_id;
	args[1] = PG_GETARG_DATUM(2);
	args[2] = Int64GetDatum(loaded);
	if (SPI_execute_with_args("SELECT rillflow.append_events($1, $2, $3)", 3, argtypes, args, NULL,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not append the events of a commit");
	new_version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	args[0] = CStringGetTextDatum(name);
	args[1] = stream_id;
	rf_run_plan(store, &rf_track_plan, args, NULL, false, 0);
	agg.version = new_version;
	rf_return_state(fcinfo, &agg);
	SPI_finish();
	return (Datum) 0;
}
