/*-------------------------------------------------------------------------
 *
 * append.c
 *	  rillflow.append_events and rillflow.append_event: the stream version
 *	  check (optimistic concurrency), the idempotency check and the insert of
 *	  the events, in one call with no partial writes.
 *
 *	  The version check and the insert are one statement, prepared once per
 *	  backend and store (plans.c), so an append with no idempotency key costs
 *	  one executor run. The checks lean on constraints, never on a read
 *	  followed by a write:
 *
 *	  - the stream row is claimed by an INSERT ... ON CONFLICT or an UPDATE
 *		whose condition is the expected version, in a CTE the insert of the
 *		events reads from; of two appenders expecting the same version, the
 *		second finds the row changed after its wait, matches nothing and so
 *		inserts nothing (RF001);
 *	  - an idempotency key is the primary key of a table written in the same
 *		transaction, so two appends with one key cannot both commit (RF002);
 *	  - event ids are unique in the store (RF002 on reuse).
 *
 *	  Events get a provisional number (seq) and the appending transaction's
 *	  id (tx); their positions in the global log are given by the sequencer
 *	  after commit (sequencer.c), which is what keeps the log gap-free.
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

#include "archive/archive.h"
#include "core/args.h"
#include "core/errcodes.h"
#include "core/plans.h"
#include "core/settings.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/event_ids.h"
#include "events/event_input.h"
#include "subscriptions/subscriptions.h"

PG_FUNCTION_INFO_V1(rillflow_append_events);
PG_FUNCTION_INFO_V1(rillflow_append_event);

/*
 * How the stream row is claimed, by expected version. Each is a CTE "s"
 * yielding the stream's new version, or no row when the expectation fails.
 * Parameters: $1 stream, $2 number of events, $3 expected version.
 */
typedef enum RfStreamMode
{
	RF_STREAM_ANY,				/* NULL: create or move on */
	RF_STREAM_NEW,				/* 0: create */
	RF_STREAM_EXISTS,			/* -1: move on */
	RF_STREAM_EXACT,			/* n: move on from n */
	RF_N_STREAM_MODES
} RfStreamMode;

/*
 * In a store with an archive (step 0011) the stream row is claimed only
 * while the stream is hot (archived_at NULL): an append to an archived
 * stream claims nothing, inserts nothing, and is then told apart from a
 * version conflict (rf_reactivate_if_archived).
 */
#define RF_STREAM_ANY_CTE(hot) \
	"WITH s AS (INSERT INTO %s.streams AS t (stream_id, version) VALUES ($1, $2) " \
	"ON CONFLICT (stream_id) DO UPDATE " \
	"SET version = t.version OPERATOR(pg_catalog.+) excluded.version, updated_at = pg_catalog.now() " \
	hot "RETURNING version) "
#define RF_STREAM_NEW_CTE \
	"WITH s AS (INSERT INTO %s.streams (stream_id, version) VALUES ($1, $2) " \
	"ON CONFLICT (stream_id) DO NOTHING RETURNING version) "
#define RF_STREAM_EXISTS_CTE(hot) \
	"WITH s AS (UPDATE %s.streams SET version = version OPERATOR(pg_catalog.+) $2, " \
	"updated_at = pg_catalog.now() " \
	"WHERE stream_id OPERATOR(pg_catalog.=) $1 " hot "RETURNING version) "
#define RF_STREAM_EXACT_CTE(hot) \
	"WITH s AS (UPDATE %s.streams SET version = version OPERATOR(pg_catalog.+) $2, " \
	"updated_at = pg_catalog.now() " \
	"WHERE stream_id OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $3 " hot \
	"RETURNING version) "

/* By whether the store has an archive, then by mode. */
static const char *const rf_stream_ctes[2][RF_N_STREAM_MODES] = {
	{
		[RF_STREAM_ANY] = RF_STREAM_ANY_CTE(""),
		[RF_STREAM_NEW] = RF_STREAM_NEW_CTE,
		[RF_STREAM_EXISTS] = RF_STREAM_EXISTS_CTE(""),
		[RF_STREAM_EXACT] = RF_STREAM_EXACT_CTE(""),
	},
	{
		[RF_STREAM_ANY] = RF_STREAM_ANY_CTE("WHERE t.archived_at IS NULL "),
		[RF_STREAM_NEW] = RF_STREAM_NEW_CTE,
		[RF_STREAM_EXISTS] = RF_STREAM_EXISTS_CTE("AND archived_at IS NULL "),
		[RF_STREAM_EXACT] = RF_STREAM_EXACT_CTE("AND archived_at IS NULL "),
	},
};

/*
 * What is inserted. Every event comes with its id: the caller's, or one
 * given here (events/event_ids.c). The _NEW_IDS shapes serve appends that
 * bring no event ids: ids the store gives cannot collide, so they skip the
 * ON CONFLICT arbiter and its speculative insertion, a large part of a
 * single append. Every shape returns the inserted events' versions.
 */
typedef enum RfInsertShape
{
	RF_INSERT_ONE,
	RF_INSERT_ONE_NEW_ID,
	RF_INSERT_MANY,
	RF_INSERT_MANY_NEW_IDS,
	RF_N_INSERT_SHAPES
} RfInsertShape;

#define RF_INSERT_EVENTS \
	"INSERT INTO %s.events (stream_id, version, type, event_version, body, headers, event_id, " \
	"causation_id, correlation_id) "

/*
 * One event: $4 type, $5 event_version, $6 body, $7 headers, $8 event_id,
 * $9 causation, $10 correlation.
 */
#define RF_ONE_EVENT(event_id_expr) \
	RF_INSERT_EVENTS \
	"SELECT $1, s.version, $4, $5, $6, COALESCE($7, '{}'::pg_catalog.jsonb), " \
	event_id_expr ", $9, $10 FROM s "

/*
 * Many events, taken apart in C (event_input.c): $4 call headers (under each
 * event's own), $5 causation, $6 correlation, $7..$11 the columns type, body,
 * headers, event_version, event_id.
 */
#define RF_MANY_EVENTS(event_id_expr) \
	RF_INSERT_EVENTS \
	"SELECT $1, s.version OPERATOR(pg_catalog.-) $2 OPERATOR(pg_catalog.+) u.ord, u.type, " \
	"u.event_version, u.body, " \
	"CASE WHEN $4 IS NULL THEN COALESCE(u.headers, '{}'::pg_catalog.jsonb) " \
	"ELSE $4 OPERATOR(pg_catalog.||) COALESCE(u.headers, '{}'::pg_catalog.jsonb) END, " \
	event_id_expr ", $5, $6 " \
	"FROM s, ROWS FROM (pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), " \
	"pg_catalog.unnest($10), pg_catalog.unnest($11)) " \
	"WITH ORDINALITY AS u(type, body, headers, event_version, event_id, ord) "

/*
 * An event id the caller names must not be taken in events_archive either
 * (archive/archive.c): unique constraints hold per table, so a taken id
 * inserts nothing and reads as RF002 like one taken in the hot table. Added
 * before ON CONFLICT to the shapes with named ids, in stores that have an
 * archive (a store still on 0.1.0's steps has none). No target on ON
 * CONFLICT: on the partitioned backend events is partitioned by
 * retention_class, and its partitions' unique indexes are the arbiters.
 */
static const char *const rf_not_archived[RF_N_INSERT_SHAPES] = {
	[RF_INSERT_ONE] =
	"WHERE NOT EXISTS (SELECT FROM %s.events_archive a WHERE a.event_id OPERATOR(pg_catalog.=) $8) ",
	[RF_INSERT_MANY] =
	"WHERE NOT EXISTS (SELECT FROM %s.events_archive a WHERE a.event_id OPERATOR(pg_catalog.=) u.event_id) ",
};

/* The parameters of each shape, bounded at compile time. */
#define RF_ONE_EVENT_NARGS 10
#define RF_MANY_EVENTS_NARGS 11
StaticAssertDecl(RF_ONE_EVENT_NARGS <= RF_PLAN_MAX_ARGS && RF_MANY_EVENTS_NARGS <= RF_PLAN_MAX_ARGS,
				 "an insert shape has more parameters than RfPlanSpec holds");

/* The insert of each shape; completed by its stream CTE (rf_append_spec). */
static const RfPlanSpec rf_inserts[RF_N_INSERT_SHAPES] = {
	[RF_INSERT_ONE] = {
		RF_ONE_EVENT("$8")
		"ON CONFLICT DO NOTHING RETURNING version",
		RF_ONE_EVENT_NARGS, {UUIDOID, INT8OID, INT8OID, TEXTOID, INT4OID, JSONBOID, JSONBOID, UUIDOID, UUIDOID, UUIDOID}
	},
	[RF_INSERT_ONE_NEW_ID] = {
		RF_ONE_EVENT("$8")
		"RETURNING version",
		RF_ONE_EVENT_NARGS, {UUIDOID, INT8OID, INT8OID, TEXTOID, INT4OID, JSONBOID, JSONBOID, UUIDOID, UUIDOID, UUIDOID}
	},
	[RF_INSERT_MANY] = {
		RF_MANY_EVENTS("u.event_id")
		"ON CONFLICT DO NOTHING RETURNING version",
		RF_MANY_EVENTS_NARGS, {UUIDOID, INT8OID, INT8OID, JSONBOID, UUIDOID, UUIDOID, TEXTARRAYOID, JSONBARRAYOID,
		JSONBARRAYOID, INT4ARRAYOID, UUIDARRAYOID}
	},
	[RF_INSERT_MANY_NEW_IDS] = {
		RF_MANY_EVENTS("u.event_id")
		"RETURNING version",
		RF_MANY_EVENTS_NARGS, {UUIDOID, INT8OID, INT8OID, JSONBOID, UUIDOID, UUIDOID, TEXTARRAYOID, JSONBARRAYOID,
		JSONBARRAYOID, INT4ARRAYOID, UUIDARRAYOID}
	},
};

/* The append statements: every stream mode with every insert shape. */
static RfPlanSpec rf_append_specs[2][RF_N_STREAM_MODES][RF_N_INSERT_SHAPES];

/* Whether the store has an archive (a store still on 0.1.0's steps has none). */
static bool
rf_store_has_archive(const RfStore *store)
{
	return OidIsValid(get_relname_relid("events_archive", store->schema_oid));
}

static const RfPlanSpec *
rf_append_spec(const RfStore *store, bool archive, RfStreamMode mode, RfInsertShape shape)
{
	RfPlanSpec *spec = &rf_append_specs[archive][mode][shape];

	if (spec->sql == NULL)
	{
		const RfPlanSpec *insert = &rf_inserts[shape];
		const char *conflict = strstr(insert->sql, "ON CONFLICT");
		const char *ctes = rf_stream_ctes[archive][mode];

		spec->sql = MemoryContextStrdup(TopMemoryContext,
										archive && rf_not_archived[shape] != NULL
										? psprintf("%s%.*s%s%s", ctes,
												   (int) (conflict - insert->sql), insert->sql,
												   rf_not_archived[shape], conflict)
										: psprintf("%s%s", ctes, insert->sql));
		spec->nargs = insert->nargs;
		memcpy(spec->argtypes, insert->argtypes, sizeof(spec->argtypes));
	}
	return spec;
}

static const RfPlanSpec rf_stream_version_spec = {
	"SELECT version FROM %s.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID}
};

/* The stream, when it is archived; locked for the reactivation. */
static const RfPlanSpec rf_archived_stream_spec = {
	"SELECT version FROM %s.streams WHERE stream_id OPERATOR(pg_catalog.=) $1 "
	"AND archived_at IS NOT NULL FOR UPDATE",
	1, {UUIDOID}
};

static const RfPlanSpec rf_idempotency_claim_spec = {
	"INSERT INTO %s.idempotency_keys (key, stream_id, first_version, last_version) "
	"VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
	4, {TEXTOID, UUIDOID, INT8OID, INT8OID}
};

static const RfPlanSpec rf_idempotency_original_spec = {
	"SELECT stream_id::pg_catalog.text, first_version, last_version "
	"FROM %s.idempotency_keys WHERE key OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

static const RfPlanSpec rf_event_id_owner_spec = {
	"SELECT e.event_id::pg_catalog.text, e.stream_id::pg_catalog.text, e.version "
	"FROM %s.events e WHERE e.event_id OPERATOR(pg_catalog.=) ANY ($1) "
	"ORDER BY e.seq LIMIT 1",
	1, {UUIDARRAYOID}
};

/* What one append asks for; the parts both append functions share. */
typedef struct RfAppendRequest
{
	pg_uuid_t  *stream_id;
	int64		count;			/* number of events */
	bool		has_expected;
	int64		expected;
	char	   *idempotency_key;	/* NULL for none */
	Datum	   *event_ids;		/* per event: its id, when the caller named one */
	bool	   *event_ids_null;
	bool		has_event_ids;	/* the caller named some event id */
} RfAppendRequest;

static char *
rf_uuid_text(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * The element types of the arrays an append builds, with their storage
 * properties spelled out: the append path looks nothing up in the catalog.
 */
typedef struct RfElementType
{
	Oid			oid;
	int16		len;
	bool		byval;
	char		align;
} RfElementType;

static const RfElementType rf_text_elem = {TEXTOID, -1, false, TYPALIGN_INT};
static const RfElementType rf_jsonb_elem = {JSONBOID, -1, false, TYPALIGN_INT};
static const RfElementType rf_int4_elem = {INT4OID, sizeof(int32), true, TYPALIGN_INT};
static const RfElementType rf_uuid_elem = {UUIDOID, UUID_LEN, false, TYPALIGN_CHAR};

/* A one-dimensional array of count elements. */
static Datum
rf_array(Datum *elems, bool *nulls, int count, const RfElementType *type)
{
	int			dims[1] = {count};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type->oid,
											  type->len, type->byval, type->align));
}

/* The event ids the caller named, as a uuid[]. */
static Datum
rf_named_event_ids(const RfAppendRequest *req)
{
	Datum	   *ids = palloc(sizeof(Datum) * req->count);
	int			n = 0;

	for (int i = 0; i < req->count; i++)
	{
		if (!req->event_ids_null[i])
			ids[n++] = req->event_ids[i];
	}
	return rf_array(ids, NULL, n, &rf_uuid_elem);
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

		rf_run_plan(store, &rf_idempotency_original_spec, values, NULL, false, 1);
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

		rf_run_plan(store, &rf_event_id_owner_spec, values, NULL, false, 1);
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

/* Raise RF001 for an append whose expected version did not hold. */
static void
rf_raise_version_conflict(const RfStore *store, const RfAppendRequest *req)
{
	Datum		values[1] = {UUIDPGetDatum(req->stream_id)};
	bool		exists;
	int64		current = 0;
	char	   *stream = rf_uuid_text(req->stream_id);

	rf_run_plan(store, &rf_stream_version_spec, values, NULL, false, 1);
	exists = SPI_processed == 1;
	if (exists)
		current = rf_spi_int8(0, 1);

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

/* The events' ids: the caller's where named, new ones elsewhere. */
static Datum
rf_event_ids_or_new(const RfAppendRequest *req)
{
	Datum	   *ids = palloc(sizeof(Datum) * req->count);
	pg_uuid_t  *new_ids = palloc(sizeof(pg_uuid_t) * req->count);
	int			missing = 0;

	for (int64 i = 0; i < req->count; i++)
		missing += req->event_ids_null[i] ? 1 : 0;
	if (missing > 0)
		rf_new_event_ids(new_ids, missing);
	missing = 0;
	for (int64 i = 0; i < req->count; i++)
		ids[i] = req->event_ids_null[i] ? UUIDPGetDatum(&new_ids[missing++]) : req->event_ids[i];
	return rf_array(ids, NULL, (int) req->count, &rf_uuid_elem);
}

/*
 * After an append that claimed no stream row in a store with an archive:
 * when the stream is archived and at the version the append expects,
 * reactivate it (or raise RF008: archive/archive.c) and return true, for
 * the append to run again. False when the stream is not archived, or the
 * expectation fails anyway (a version conflict, as on a hot stream). Either
 * way SPI_tuptable is no longer the append's.
 */
static bool
rf_reactivate_if_archived(const RfStore *store, const RfAppendRequest *req, RfStreamMode mode)
{
	Datum		values[1] = {UUIDPGetDatum(req->stream_id)};

	if (mode == RF_STREAM_NEW)
		return false;
	rf_run_plan(store, &rf_archived_stream_spec, values, NULL, false, 1);
	if (SPI_processed != 1 || (mode == RF_STREAM_EXACT && rf_spi_int8(0, 1) != req->expected))
		return false;
	rf_archive_reactivate_for_append(store, values[0]);
	return true;
}

/*
 * Run the append statement and record the idempotency key. values[0..2]
 * are filled here; the caller has filled the rest for the insert shape.
 * Returns the stream's new version.
 */
static int64
rf_append(const RfStore *store, const RfAppendRequest *req, RfInsertShape shape,
		  Datum *values, char *nulls)
{
	RfStreamMode mode;
	bool		archive;
	const RfPlanSpec *spec;
	uint64		inserted;
	int64		new_version = 0;

	if (!req->has_expected)
		mode = RF_STREAM_ANY;
	else if (req->expected == 0)
		mode = RF_STREAM_NEW;
	else if (req->expected == -1)
		mode = RF_STREAM_EXISTS;
	else
		mode = RF_STREAM_EXACT;

	if (rf_stream_advisory_locks)
		DirectFunctionCall2(pg_advisory_xact_lock_int4,
							Int32GetDatum((int32) store->schema_oid),
							Int32GetDatum((int32) hash_bytes(req->stream_id->data, UUID_LEN)));

	values[0] = UUIDPGetDatum(req->stream_id);
	values[1] = Int64GetDatum(req->count);
	values[2] = Int64GetDatum(req->expected);
	nulls[0] = nulls[1] = nulls[2] = ' ';
	archive = rf_store_has_archive(store);
	spec = rf_append_spec(store, archive, mode, shape);
	rf_run_plan(store, spec, values, nulls, false, 0);
	inserted = SPI_processed;
	if (inserted == 0 && archive && rf_reactivate_if_archived(store, req, mode))
	{
		rf_run_plan(store, spec, values, nulls, false, 0);
		inserted = SPI_processed;
	}
	if ((int64) inserted != req->count)
	{
		/*
		 * Fewer events than asked were inserted: an event id is taken (the
		 * ON CONFLICT arbiter waited for its owner to commit, so the owner is
		 * visible now), or none was and the expected version did not hold.
		 */
		rf_raise_if_already_appended(store, req);
		rf_raise_version_conflict(store, req);
	}
	for (uint64 i = 0; i < inserted; i++)
		new_version = Max(new_version, rf_spi_int8(i, 1));

	/* At commit, wake this database's worker to sequence the events. */
	rf_note_append();

	if (req->idempotency_key != NULL)
	{
		Datum		key_values[4];

		key_values[0] = CStringGetTextDatum(req->idempotency_key);
		key_values[1] = UUIDPGetDatum(req->stream_id);
		key_values[2] = Int64GetDatum(new_version - req->count + 1);
		key_values[3] = Int64GetDatum(new_version);
		rf_run_plan(store, &rf_idempotency_claim_spec, key_values, NULL, false, 0);
		if (SPI_processed != 1)
		{
			rf_raise_if_already_appended(store, req);
			elog(ERROR, "idempotency key conflict without a conflicting row");
		}
	}
	return new_version;
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

/*
 * rillflow.append_events(stream_id uuid, events jsonb, expected_version bigint,
 *     idempotency_key text, headers jsonb, causation_id uuid, correlation_id uuid,
 *     category text) RETURNS bigint
 *
 * Appends the events to the stream and returns the stream's new version.
 * A category is given on the stream's first append (subscriptions/categories.c).
 */
Datum
rillflow_append_events(PG_FUNCTION_ARGS)
{
	RfAppendRequest req;
	RfEventColumns columns;
	const RfStore *store;
	int64		new_version;
	Datum		values[11];
	char		nulls[12];

	rf_require_arg(fcinfo, 0, "stream_id", "Use rillflow.resolve_stream_alias() to get an id for a name.");
	rf_require_arg(fcinfo, 1, "events", "Pass a JSON array of {\"type\": ..., \"body\": ...} objects.");
	rf_read_events(PG_GETARG_JSONB_P(1), &columns);
	req.count = columns.count;
	req.event_ids = columns.event_ids;
	req.event_ids_null = columns.event_ids_null;
	req.has_event_ids = columns.has_event_ids;
	rf_read_common_args(fcinfo, &req, 2, 3, 4);
	store = rf_current_store();

	values[3] = rf_arg_or_null(fcinfo, 4, nulls, 3);
	values[4] = rf_arg_or_null(fcinfo, 5, nulls, 4);
	values[5] = rf_arg_or_null(fcinfo, 6, nulls, 5);
	values[6] = rf_array(columns.types, NULL, columns.count, &rf_text_elem);
	values[7] = rf_array(columns.bodies, NULL, columns.count, &rf_jsonb_elem);
	values[8] = rf_array(columns.headers, columns.headers_null, columns.count, &rf_jsonb_elem);
	values[9] = rf_array(columns.event_versions, NULL, columns.count, &rf_int4_elem);
	values[10] = rf_event_ids_or_new(&req);
	memset(nulls + 6, ' ', 5);
	nulls[11] = '\0';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	new_version = rf_append(store, &req,
							req.has_event_ids ? RF_INSERT_MANY : RF_INSERT_MANY_NEW_IDS,
							values, nulls);
	if (PG_NARGS() > 7 && !PG_ARGISNULL(7))
		rf_set_stream_category(store, req.stream_id, PG_GETARG_TEXT_PP(7), new_version == req.count);
	SPI_finish();
	PG_RETURN_INT64(new_version);
}

/*
 * rillflow.append_event(stream_id uuid, type text, body jsonb,
 *     expected_version bigint, idempotency_key text, headers jsonb,
 *     causation_id uuid, correlation_id uuid, event_version integer,
 *     event_id uuid, category text) RETURNS bigint
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
	Datum		event_id;
	bool		event_id_null;
	int64		new_version;
	Datum		values[10];
	char		nulls[11];

	rf_require_arg(fcinfo, 0, "stream_id", "Use rillflow.resolve_stream_alias() to get an id for a name.");
	rf_require_arg(fcinfo, 1, "type", NULL);
	rf_require_arg(fcinfo, 2, "body", "Pass 'null'::jsonb or '{}' for an event without a body.");
	type = PG_GETARG_TEXT_PP(1);
	rf_validate_event_type(VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type), "type");
	if (!PG_ARGISNULL(8) && PG_GETARG_INT32(8) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event_version must be at least 1, not %d", PG_GETARG_INT32(8))));
	event_id_null = PG_ARGISNULL(9);
	event_id = event_id_null ? (Datum) 0 : PG_GETARG_DATUM(9);
	req.count = 1;
	req.event_ids = &event_id;
	req.event_ids_null = &event_id_null;
	req.has_event_ids = !event_id_null;
	rf_read_common_args(fcinfo, &req, 3, 4, 5);
	store = rf_current_store();

	values[3] = PointerGetDatum(type);
	values[4] = PG_ARGISNULL(8) ? Int32GetDatum(1) : PG_GETARG_DATUM(8);
	values[5] = PG_GETARG_DATUM(2);
	nulls[3] = nulls[4] = nulls[5] = ' ';
	values[6] = rf_arg_or_null(fcinfo, 5, nulls, 6);
	if (event_id_null)
	{
		pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

		rf_new_event_ids(id, 1);
		values[7] = UUIDPGetDatum(id);
	}
	else
		values[7] = event_id;
	nulls[7] = ' ';
	values[8] = rf_arg_or_null(fcinfo, 6, nulls, 8);
	values[9] = rf_arg_or_null(fcinfo, 7, nulls, 9);
	nulls[10] = '\0';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	new_version = rf_append(store, &req, event_id_null ? RF_INSERT_ONE_NEW_ID : RF_INSERT_ONE,
							values, nulls);
	if (PG_NARGS() > 10 && !PG_ARGISNULL(10))
		rf_set_stream_category(store, req.stream_id, PG_GETARG_TEXT_PP(10), new_version == 1);
	SPI_finish();
	PG_RETURN_INT64(new_version);
}
