/*-------------------------------------------------------------------------
 *
 * append.c
 *	  rillflow.append_events and rillflow.append_event: the stream version
 *	  check (optimistic concurrency), the idempotency check and the insert of
 *	  the events, in one call with no partial writes.
 *
 *	  Every statement is prepared once per backend and store (SPI_keepplan),
 *	  so an append costs its two or three executor runs and nothing else. The
 *	  checks lean on constraints, never on a read followed by a write:
 *
 *	  - the stream row is claimed by one INSERT ... ON CONFLICT or UPDATE whose
 *		condition is the expected version, so of two appenders expecting the
 *		same version the second finds the row changed after its wait and
 *		matches nothing (RF001);
 *	  - an idempotency key is the primary key of a table written in the same
 *		transaction, so two appends with one key cannot both commit (RF002);
 *	  - event ids are unique in the store (RF002 on reuse).
 *
 *	  Events get a provisional number (seq) and the appending transaction's
 *	  id (tx); their positions in the global log are given by the sequencer
 *	  after commit (sequencer.sql), which is what keeps the log gap-free.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "event_input.h"
#include "plans.h"
#include "rillflow.h"

PG_FUNCTION_INFO_V1(rillflow_append_events);
PG_FUNCTION_INFO_V1(rillflow_append_event);

typedef enum RfPlanId
{
	RF_PLAN_STREAM_ANY,
	RF_PLAN_STREAM_NEW,
	RF_PLAN_STREAM_EXISTS,
	RF_PLAN_STREAM_EXACT,
	RF_PLAN_STREAM_VERSION,
	RF_PLAN_IDEMPOTENCY_CLAIM,
	RF_PLAN_IDEMPOTENCY_ORIGINAL,
	RF_PLAN_INSERT_MANY,
	RF_PLAN_INSERT_MANY_NEW_IDS,
	RF_PLAN_INSERT_ONE,
	RF_PLAN_INSERT_ONE_NEW_ID,
	RF_PLAN_EVENT_ID_OWNER,
	RF_N_PLANS
} RfPlanId;

/*
 * The _NEW_IDS variants serve appends that bring no event ids: ids the server
 * generates cannot collide, so they skip the ON CONFLICT arbiter and its
 * speculative insertion, the costliest part of a single-event append.
 */
#define RF_INSERT_EVENTS \
	"INSERT INTO %s.events (stream_id, version, type, event_version, body, headers, event_id, " \
	"causation_id, correlation_id) "

/*
 * The rows of an append_events call, taken apart in C (event_input.c): $1
 * stream, $2 first version, $3 call headers (under each event's own), $4
 * causation, $5 correlation, $6..$10 the columns type, body, headers,
 * event_version, event_id.
 */
#define RF_SELECT_EVENTS_FROM_COLUMNS(event_id_expr) \
	"SELECT $1, $2 OPERATOR(pg_catalog.+) u.ord OPERATOR(pg_catalog.-) 1, u.type, u.event_version, u.body, " \
	"CASE WHEN $3 IS NULL THEN COALESCE(u.headers, '{}'::pg_catalog.jsonb) " \
	"ELSE $3 OPERATOR(pg_catalog.||) COALESCE(u.headers, '{}'::pg_catalog.jsonb) END, " \
	event_id_expr ", $4, $5 " \
	"FROM ROWS FROM (pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), " \
	"pg_catalog.unnest($9), pg_catalog.unnest($10)) " \
	"WITH ORDINALITY AS u(type, body, headers, event_version, event_id, ord) "

#define RF_EVENT_COLUMN_TYPES \
	{UUIDOID, INT8OID, JSONBOID, UUIDOID, UUIDOID, TEXTARRAYOID, JSONBARRAYOID, JSONBARRAYOID, \
	 INT4ARRAYOID, UUIDARRAYOID}

static const RfPlanSpec rf_plan_specs[RF_N_PLANS] = {
	[RF_PLAN_STREAM_ANY] = {
		"INSERT INTO %s.streams AS s (stream_id, version) VALUES ($1, $2) "
		"ON CONFLICT (stream_id) DO UPDATE "
		"SET version = s.version OPERATOR(pg_catalog.+) excluded.version, updated_at = pg_catalog.now() "
		"RETURNING version",
		2, {UUIDOID, INT8OID}
	},
	[RF_PLAN_STREAM_NEW] = {
		"INSERT INTO %s.streams (stream_id, version) VALUES ($1, $2) "
		"ON CONFLICT (stream_id) DO NOTHING RETURNING version",
		2, {UUIDOID, INT8OID}
	},
	[RF_PLAN_STREAM_EXISTS] = {
		"UPDATE %s.streams SET version = version OPERATOR(pg_catalog.+) $2, updated_at = pg_catalog.now() "
		"WHERE stream_id OPERATOR(pg_catalog.=) $1 RETURNING version",
		2, {UUIDOID, INT8OID}
	},
	[RF_PLAN_STREAM_EXACT] = {
		"UPDATE %s.streams SET version = version OPERATOR(pg_catalog.+) $2, updated_at = pg_catalog.now() "
		"WHERE stream_id OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $3 RETURNING version",
		3, {UUIDOID, INT8OID, INT8OID}
	},
	[RF_PLAN_STREAM_VERSION] = {
		"SELECT version FROM %s.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
		1, {UUIDOID}
	},
	[RF_PLAN_IDEMPOTENCY_CLAIM] = {
		"INSERT INTO %s.idempotency_keys (key, stream_id, first_version, last_version) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
		4, {TEXTOID, UUIDOID, INT8OID, INT8OID}
	},
	[RF_PLAN_IDEMPOTENCY_ORIGINAL] = {
		"SELECT stream_id::pg_catalog.text, first_version, last_version "
		"FROM %s.idempotency_keys WHERE key OPERATOR(pg_catalog.=) $1",
		1, {TEXTOID}
	},
	[RF_PLAN_INSERT_MANY] = {
		RF_INSERT_EVENTS
		RF_SELECT_EVENTS_FROM_COLUMNS("COALESCE(u.event_id, pg_catalog.gen_random_uuid())")
		"ON CONFLICT (event_id) DO NOTHING",
		10, RF_EVENT_COLUMN_TYPES
	},
	[RF_PLAN_INSERT_MANY_NEW_IDS] = {
		RF_INSERT_EVENTS
		RF_SELECT_EVENTS_FROM_COLUMNS("pg_catalog.gen_random_uuid()"),
		10, RF_EVENT_COLUMN_TYPES
	},
	[RF_PLAN_INSERT_ONE] = {
		RF_INSERT_EVENTS
		"VALUES ($1, $2, $3, $4, $5, COALESCE($6, '{}'::pg_catalog.jsonb), "
		"COALESCE($7, pg_catalog.gen_random_uuid()), $8, $9) "
		"ON CONFLICT (event_id) DO NOTHING",
		9, {UUIDOID, INT8OID, TEXTOID, INT4OID, JSONBOID, JSONBOID, UUIDOID, UUIDOID, UUIDOID}
	},
	[RF_PLAN_INSERT_ONE_NEW_ID] = {
		RF_INSERT_EVENTS
		"VALUES ($1, $2, $3, $4, $5, COALESCE($6, '{}'::pg_catalog.jsonb), "
		"pg_catalog.gen_random_uuid(), $7, $8)",
		8, {UUIDOID, INT8OID, TEXTOID, INT4OID, JSONBOID, JSONBOID, UUIDOID, UUIDOID}
	},
	[RF_PLAN_EVENT_ID_OWNER] = {
		"SELECT e.event_id::pg_catalog.text, e.stream_id::pg_catalog.text, e.version "
		"FROM %s.events e WHERE e.event_id OPERATOR(pg_catalog.=) ANY ($1) "
		"ORDER BY e.seq LIMIT 1",
		1, {UUIDARRAYOID}
	},
};

static int
rf_execute(const RfStore *store, RfPlanId id, Datum *values, const char *nulls, long limit)
{
	return rf_run_plan(store, &rf_plan_specs[id], values, nulls, false, limit);
}

/* The int8 in column 1 of the first result row. */
static int64
rf_result_int8(void)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static char *
rf_uuid_text(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/* What one append asks for; the parts both append functions share. */
typedef struct RfAppendRequest
{
	pg_uuid_t  *stream_id;
	int64		count;			/* number of events */
	bool		has_expected;
	int64		expected;
	char	   *idempotency_key;	/* NULL for none */
	bool		has_event_ids;	/* the caller named some event ids */
	Jsonb	   *events;			/* append_events: the events argument */
	Datum		event_id;		/* append_event: the event_id argument */
} RfAppendRequest;

/* The event ids the caller named, as a uuid[]. */
static Datum
rf_named_event_ids(const RfAppendRequest *req)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		args[1];
	bool		isnull;
	Datum		ids;

	if (req->events == NULL)
		return PointerGetDatum(construct_array((Datum *) &req->event_id, 1, UUIDOID,
											   UUID_LEN, false, TYPALIGN_CHAR));
	args[0] = JsonbPGetDatum(req->events);
	if (SPI_execute_with_args("SELECT pg_catalog.array_agg((x OPERATOR(pg_catalog.->>) 'event_id')::pg_catalog.uuid) "
							  "FROM pg_catalog.jsonb_array_elements($1) x "
							  "WHERE x OPERATOR(pg_catalog.?) 'event_id'",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not list the event ids of an append");
	ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "an append without event ids has no event id conflict");
	return ids;
}

/*
 * Raise RF002 if the request's idempotency key or one of its event ids
 * belongs to an append that is already in the store; return otherwise.
 *
 * Called when the key or an event id conflicted, and also when the version
 * check failed: a client that retries an append it had sent before (the
 * reply was lost) must hear that its append is already there, not that
 * someone else moved the stream on, even though the version check runs first.
 */
static void
rf_raise_if_already_appended(const RfStore *store, const RfAppendRequest *req)
{
	if (req->idempotency_key != NULL)
	{
		Datum		values[1] = {CStringGetTextDatum(req->idempotency_key)};

		rf_execute(store, RF_PLAN_IDEMPOTENCY_ORIGINAL, values, NULL, 1);
		if (SPI_processed == 1)
			ereport(ERROR,
					(errcode(ERRCODE_RF_IDEMPOTENCY_CONFLICT),
					 errmsg("idempotency key \"%s\" was already used", req->idempotency_key),
					 errdetail("The original append wrote versions %s to %s of stream %s.",
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
					 errhint("Nothing was appended. Read that stream for the original events.")));
	}
	if (req->has_event_ids)
	{
		Datum		values[1] = {rf_named_event_ids(req)};

		rf_execute(store, RF_PLAN_EVENT_ID_OWNER, values, NULL, 1);
		if (SPI_processed == 1)
			ereport(ERROR,
					(errcode(ERRCODE_RF_IDEMPOTENCY_CONFLICT),
					 errmsg("event id %s was already appended",
							SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
					 errdetail("It is version %s of stream %s.",
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3),
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
					 errhint("Nothing was appended. Give each event a new event_id, or none.")));
	}
}

static void
rf_raise_version_conflict(const RfStore *store, const RfAppendRequest *req)
{
	Datum		values[1] = {UUIDPGetDatum(req->stream_id)};
	bool		exists;
	int64		current = 0;
	char	   *stream = rf_uuid_text(req->stream_id);

	rf_raise_if_already_appended(store, req);

	rf_execute(store, RF_PLAN_STREAM_VERSION, values, NULL, 1);
	exists = SPI_processed == 1;
	if (exists)
		current = rf_result_int8();

	if (req->expected == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RF_VERSION_CONFLICT),
				 errmsg("stream %s already exists", stream),
				 errdetail("expected_version 0 requires a new stream, but the stream is at version " INT64_FORMAT ".",
						   current),
				 errhint("Pass the stream's current version, or NULL to append whatever its state.")));
	if (req->expected == -1)
		ereport(ERROR,
				(errcode(ERRCODE_RF_VERSION_CONFLICT),
				 errmsg("stream %s does not exist", stream),
				 errdetail("expected_version -1 requires an existing stream."),
				 errhint("Pass 0 to start a new stream, or NULL to append whatever its state.")));
	ereport(ERROR,
			(errcode(ERRCODE_RF_VERSION_CONFLICT),
			 errmsg("version conflict on stream %s", stream),
			 exists
			 ? errdetail("Expected version " INT64_FORMAT ", but the stream is at version " INT64_FORMAT ".",
						 req->expected, current)
			 : errdetail("Expected version " INT64_FORMAT ", but the stream does not exist.",
						 req->expected),
			 errhint("Read the stream to catch up, then retry with its current version.")));
}

/*
 * Claim versions for the events on the stream row, honouring the expected
 * version, and record the idempotency key. Returns the stream's new version;
 * the events get versions new_version - count + 1 .. new_version.
 */
static int64
rf_claim_versions(const RfStore *store, const RfAppendRequest *req)
{
	Datum		values[4];
	RfPlanId	plan;
	int64		new_version;

	if (rf_stream_advisory_locks)
		DirectFunctionCall2(pg_advisory_xact_lock_int4,
							Int32GetDatum((int32) store->schema_oid),
							Int32GetDatum((int32) hash_bytes(req->stream_id->data, UUID_LEN)));

	values[0] = UUIDPGetDatum(req->stream_id);
	values[1] = Int64GetDatum(req->count);
	values[2] = Int64GetDatum(req->expected);
	if (!req->has_expected)
		plan = RF_PLAN_STREAM_ANY;
	else if (req->expected == 0)
		plan = RF_PLAN_STREAM_NEW;
	else if (req->expected == -1)
		plan = RF_PLAN_STREAM_EXISTS;
	else
		plan = RF_PLAN_STREAM_EXACT;
	rf_execute(store, plan, values, NULL, 0);
	if (SPI_processed != 1)
		rf_raise_version_conflict(store, req);
	new_version = rf_result_int8();

	if (req->idempotency_key != NULL)
	{
		values[0] = CStringGetTextDatum(req->idempotency_key);
		values[1] = UUIDPGetDatum(req->stream_id);
		values[2] = Int64GetDatum(new_version - req->count + 1);
		values[3] = Int64GetDatum(new_version);
		rf_execute(store, RF_PLAN_IDEMPOTENCY_CLAIM, values, NULL, 0);
		if (SPI_processed != 1)
		{
			rf_raise_if_already_appended(store, req);
			elog(ERROR, "idempotency key conflict without a conflicting row");
		}
	}
	return new_version;
}

static void
rf_require_arg(FunctionCallInfo fcinfo, int argno, const char *name, const char *hint)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name),
				 hint ? errhint("%s", hint) : 0));
}

/* Fill the shared part of the request from the arguments at the given places. */
static void
rf_read_common_args(FunctionCallInfo fcinfo, RfAppendRequest *req, int expected_arg,
					int key_arg, int headers_arg)
{
	req->stream_id = PG_GETARG_UUID_P(0);
	req->has_expected = !PG_ARGISNULL(expected_arg);
	req->expected = req->has_expected ? PG_GETARG_INT64(expected_arg) : 0;
	if (req->has_expected)
		rf_validate_expected_version(req->expected);
	req->idempotency_key = PG_ARGISNULL(key_arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(key_arg));
	if (req->idempotency_key != NULL)
		rf_validate_idempotency_key(req->idempotency_key);
	if (!PG_ARGISNULL(headers_arg))
		rf_validate_headers_arg(PG_GETARG_JSONB_P(headers_arg));
}

static Datum
rf_arg_or_null(FunctionCallInfo fcinfo, int argno, char *nulls, int slot)
{
	if (PG_ARGISNULL(argno))
	{
		nulls[slot] = 'n';
		return (Datum) 0;
	}
	nulls[slot] = ' ';
	return PG_GETARG_DATUM(argno);
}

/* A one-dimensional array of the given column of an append_events call. */
static Datum
rf_column_array(Datum *elems, bool *nulls, int count, Oid elemtype)
{
	int			dims[1] = {count};
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, elemtype,
											  typlen, typbyval, typalign));
}

/*
 * rillflow.append_events(stream_id uuid, events jsonb, expected_version bigint,
 *     idempotency_key text, headers jsonb, causation_id uuid, correlation_id uuid)
 *     RETURNS bigint
 *
 * Appends the events to the stream and returns the stream's new version.
 */
Datum
rillflow_append_events(PG_FUNCTION_ARGS)
{
	RfAppendRequest req;
	const RfStore *store;
	Jsonb	   *events;
	RfEventColumns columns;
	int64		new_version;
	Datum		values[10];
	char		nulls[11];

	rf_require_arg(fcinfo, 0, "stream_id", "Use rillflow.resolve_stream_alias() to get an id for a name.");
	rf_require_arg(fcinfo, 1, "events", "Pass a JSON array of {\"type\": ..., \"body\": ...} objects.");
	events = PG_GETARG_JSONB_P(1);
	rf_read_events(events, &columns);
	req.count = columns.count;
	req.has_event_ids = columns.has_event_ids;
	req.events = events;
	rf_read_common_args(fcinfo, &req, 2, 3, 4);
	store = rf_current_store();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	new_version = rf_claim_versions(store, &req);

	values[0] = UUIDPGetDatum(req.stream_id);
	values[1] = Int64GetDatum(new_version - req.count + 1);
	nulls[0] = nulls[1] = ' ';
	values[2] = rf_arg_or_null(fcinfo, 4, nulls, 2);
	values[3] = rf_arg_or_null(fcinfo, 5, nulls, 3);
	values[4] = rf_arg_or_null(fcinfo, 6, nulls, 4);
	values[5] = rf_column_array(columns.types, NULL, columns.count, TEXTOID);
	values[6] = rf_column_array(columns.bodies, NULL, columns.count, JSONBOID);
	values[7] = rf_column_array(columns.headers, columns.headers_null, columns.count, JSONBOID);
	values[8] = rf_column_array(columns.event_versions, NULL, columns.count, INT4OID);
	values[9] = rf_column_array(columns.event_ids, columns.event_ids_null, columns.count, UUIDOID);
	memset(nulls + 5, ' ', 5);
	nulls[10] = '\0';
	rf_execute(store, req.has_event_ids ? RF_PLAN_INSERT_MANY : RF_PLAN_INSERT_MANY_NEW_IDS,
			   values, nulls, 0);
	if ((int64) SPI_processed != req.count)
	{
		rf_raise_if_already_appended(store, &req);
		elog(ERROR, "event id conflict without a conflicting row");
	}
	SPI_finish();
	PG_RETURN_INT64(new_version);
}

/*
 * rillflow.append_event(stream_id uuid, type text, body jsonb,
 *     expected_version bigint, idempotency_key text, headers jsonb,
 *     causation_id uuid, correlation_id uuid, event_version integer,
 *     event_id uuid) RETURNS bigint
 *
 * Appends one event; the same rules as append_events, without building and
 * unpacking a JSON array.
 */
Datum
rillflow_append_event(PG_FUNCTION_ARGS)
{
	RfAppendRequest req;
	const RfStore *store;
	text	   *type;
	int64		new_version;
	Datum		values[9];
	char		nulls[10];

	rf_require_arg(fcinfo, 0, "stream_id", "Use rillflow.resolve_stream_alias() to get an id for a name.");
	rf_require_arg(fcinfo, 1, "type", NULL);
	rf_require_arg(fcinfo, 2, "body", "Pass 'null'::jsonb or '{}' for an event without a body.");
	type = PG_GETARG_TEXT_PP(1);
	rf_validate_event_type(VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type), "type");
	if (!PG_ARGISNULL(8) && PG_GETARG_INT32(8) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event_version must be at least 1, not %d", PG_GETARG_INT32(8))));
	req.count = 1;
	req.events = NULL;
	req.has_event_ids = !PG_ARGISNULL(9);
	req.event_id = req.has_event_ids ? PG_GETARG_DATUM(9) : (Datum) 0;
	rf_read_common_args(fcinfo, &req, 3, 4, 5);
	store = rf_current_store();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	new_version = rf_claim_versions(store, &req);

	memset(nulls, ' ', sizeof(nulls));
	nulls[9] = '\0';
	values[0] = UUIDPGetDatum(req.stream_id);
	values[1] = Int64GetDatum(new_version);
	values[2] = PointerGetDatum(type);
	values[3] = PG_ARGISNULL(8) ? Int32GetDatum(1) : PG_GETARG_DATUM(8);
	values[4] = PG_GETARG_DATUM(2);
	values[5] = rf_arg_or_null(fcinfo, 5, nulls, 5);
	if (PG_ARGISNULL(9))
	{
		values[6] = rf_arg_or_null(fcinfo, 6, nulls, 6);
		values[7] = rf_arg_or_null(fcinfo, 7, nulls, 7);
		nulls[8] = '\0';
		rf_execute(store, RF_PLAN_INSERT_ONE_NEW_ID, values, nulls, 0);
		SPI_finish();
		PG_RETURN_INT64(new_version);
	}
	values[6] = PG_GETARG_DATUM(9);
	values[7] = rf_arg_or_null(fcinfo, 6, nulls, 7);
	values[8] = rf_arg_or_null(fcinfo, 7, nulls, 8);
	rf_execute(store, RF_PLAN_INSERT_ONE, values, nulls, 0);
	if (SPI_processed != 1)
	{
		rf_raise_if_already_appended(store, &req);
		elog(ERROR, "event id conflict without a conflicting row");
	}
	SPI_finish();
	PG_RETURN_INT64(new_version);
}
