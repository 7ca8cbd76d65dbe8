/*-------------------------------------------------------------------------
 *
 * reads.c
 *	  rillflow.read_all, rillflow.read_stream and rillflow.stream_version.
 *
 *	  Consumers page through the log a thousand events at a time, and
 *	  aggregates load streams on every command, so these run prepared
 *	  statements (plans.c) and hand the rows straight to a tuplestore.
 *
 *	  Archived events are left out unless include_archived (or, when it is
 *	  NULL, rillflow.include_archived_by_default) says otherwise
 *	  (archive/archive.c).
 *
 *	  Unless called with raw => true, the rows go through the store's
 *	  upcasters on the way (evolution/upcast.c); a store without upcasters
 *	  reads as before.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "archive/archive.h"
#include "core/args.h"
#include "core/plans.h"
#include "core/shmem.h"
#include "core/store.h"
#include "events/log_page.h"
#include "events/log_segments.h"
#include "events/log_sync.h"
#include "evolution/evolution.h"

PG_FUNCTION_INFO_V1(rillflow_read_all);
PG_FUNCTION_INFO_V1(rillflow_read_stream);
PG_FUNCTION_INFO_V1(rillflow_stream_version);

#define RF_READ_ALL_MAX_COUNT 100000

/* The columns of rillflow.event_envelope, in order, with the position `pos`. */
#define RF_ENVELOPE_COLUMNS_AT(pos) \
	pos ", e.stream_id, e.version, e.type, e.event_version, e.body, e.headers, " \
	"e.event_id, e.causation_id, e.correlation_id, e.created_at "
#define RF_ENVELOPE_COLUMNS RF_ENVELOPE_COLUMNS_AT("p.position")

/* By category (subscriptions/categories.c): streams are looked up in stream_categories. */
#define RF_IN_CATEGORIES(param) \
	"EXISTS (SELECT FROM %s.stream_categories c WHERE c.stream_id OPERATOR(pg_catalog.=) e.stream_id " \
	"AND c.category OPERATOR(pg_catalog.=) ANY (" param ")) "

/*
 * The log from a position on, in position order, joined to its events, with
 * `filter` on them: the segments in order, each unnested, and each event
 * looked up by its seq (LIMIT 1: hot or archived, never both; and no hash
 * join of the whole events table before the first row).
 */
#define RF_READ_ALL_SQL(filter) \
	"SELECT " RF_ENVELOPE_COLUMNS_AT(RF_SEGMENT_POSITION) \
	"FROM " RF_SEGMENT_ROWS("%s.log_segments", RF_SEGMENTS_AFTER("$1")) \
	" CROSS JOIN LATERAL (SELECT * FROM %s.events e1 WHERE e1.seq OPERATOR(pg_catalog.=) u.seq LIMIT 1) e " \
	"WHERE " RF_POSITIONS_AFTER("$1") " " filter \
	"ORDER BY " RF_SEGMENT_ORDER " LIMIT $2"

/* The same on a store whose log is the positions table (step 11 or below). */
#define RF_READ_ALL_POSITIONS_SQL(filter) \
	"SELECT " RF_ENVELOPE_COLUMNS \
	"FROM %s.positions p JOIN %s.events e ON e.seq OPERATOR(pg_catalog.=) p.seq " \
	"WHERE p.position OPERATOR(pg_catalog.>) $1 " filter \
	"ORDER BY p.position LIMIT $2"

#define RF_TYPES_FILTER "AND e.type OPERATOR(pg_catalog.=) ANY ($3) "

static const RfPlanSpec rf_read_all_plan = {
	RF_READ_ALL_SQL(""),
	2, {INT8OID, INT4OID},
	.positions_sql = RF_READ_ALL_POSITIONS_SQL("")
};

static const RfPlanSpec rf_read_all_types_plan = {
	RF_READ_ALL_SQL(RF_TYPES_FILTER),
	3, {INT8OID, INT4OID, TEXTARRAYOID},
	.positions_sql = RF_READ_ALL_POSITIONS_SQL(RF_TYPES_FILTER)
};

static const RfPlanSpec rf_read_all_categories_plan = {
	RF_READ_ALL_SQL("AND " RF_IN_CATEGORIES("$3")),
	3, {INT8OID, INT4OID, TEXTARRAYOID},
	.positions_sql = RF_READ_ALL_POSITIONS_SQL("AND " RF_IN_CATEGORIES("$3"))
};

static const RfPlanSpec rf_read_all_types_categories_plan = {
	RF_READ_ALL_SQL(RF_TYPES_FILTER "AND " RF_IN_CATEGORIES("$4")),
	4, {INT8OID, INT4OID, TEXTARRAYOID, TEXTARRAYOID},
	.positions_sql = RF_READ_ALL_POSITIONS_SQL(RF_TYPES_FILTER "AND " RF_IN_CATEGORIES("$4"))
};

static const RfPlanSpec rf_read_stream_plan = {
	"SELECT " RF_ENVELOPE_COLUMNS_AT(RF_POSITION_OF("%s.log_segments", "e.seq"))
	"FROM %s.events e "
	"WHERE e.stream_id OPERATOR(pg_catalog.=) $1 AND e.version OPERATOR(pg_catalog.>=) $2 "
	"ORDER BY e.version LIMIT $3",
	3, {UUIDOID, INT8OID, INT8OID},
	.positions_sql =
	"SELECT " RF_ENVELOPE_COLUMNS
	"FROM %s.events e LEFT JOIN %s.positions p ON p.seq OPERATOR(pg_catalog.=) e.seq "
	"WHERE e.stream_id OPERATOR(pg_catalog.=) $1 AND e.version OPERATOR(pg_catalog.>=) $2 "
	"ORDER BY e.version LIMIT $3"
};

static const RfPlanSpec rf_stream_version_plan = {
	"SELECT version FROM %s.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID}
};

/*
 * Run a read whose rows are the function's result, upcast when `ups` is set;
 * `types` is the filter of upcast types, when the read has one.
 */
static void
rf_read_into_result(FunctionCallInfo fcinfo, const RfStore *store, const RfPlanSpec *spec,
					Datum *values, const char *nulls, bool read_only, RfUpcasters *ups, Datum types)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (ups == NULL)
		rf_run_plan_into(store, spec, values, nulls, read_only, rsinfo->setResult, rsinfo->setDesc);
	else
		rf_upcast_run_plan_into(ups, store, spec, values, nulls, read_only, types,
								rsinfo->setResult, rsinfo->setDesc);
}

/* The upcasters a read applies: none when raw (an argument, NULL = false). */
static RfUpcasters *
rf_read_upcasters(FunctionCallInfo fcinfo, int raw_arg, const RfStore *store)
{
	if (PG_NARGS() > raw_arg && !PG_ARGISNULL(raw_arg) && PG_GETARG_BOOL(raw_arg))
		return NULL;
	return rf_upcasters_acquire(store);
}

/*
 * rillflow.read_all(after_position bigint, max_count integer,
 *     event_types text[], categories text[], raw boolean, include_archived boolean)
 *     RETURNS SETOF rillflow.event_envelope
 *
 * The global log after a position, optionally only some event types and
 * some stream categories. It first waits until the log includes every event
 * committed before the call (log_sync.c). event_types filters on the type as
 * read (upcast, unless raw): the statement reads the stored types that can
 * become one of them, and the upcast rows of other types are dropped, so a
 * page can hold fewer than max_count events though more follow.
 */
Datum
rillflow_read_all(PG_FUNCTION_ARGS)
{
	const RfStore *store;
	Datum		values[4];
	char		nulls[5] = "    ";
	bool		by_type = !PG_ARGISNULL(2);
	bool		by_category = PG_NARGS() > 3 && !PG_ARGISNULL(3);
	bool		all;
	const RfPlanSpec *spec;
	RfUpcasters *ups;

	if (PG_ARGISNULL(0) || PG_GETARG_INT64(0) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 PG_ARGISNULL(0)
				 ? errmsg("after_position must be 0 or a position, not NULL")
				 : errmsg("after_position must be 0 or a position, not " INT64_FORMAT, PG_GETARG_INT64(0)),
				 errhint("Pass 0 to read from the start of the log.")));
	if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) < 1 || PG_GETARG_INT32(1) > RF_READ_ALL_MAX_COUNT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 PG_ARGISNULL(1)
				 ? errmsg("max_count must be from 1 to %d, not NULL", RF_READ_ALL_MAX_COUNT)
				 : errmsg("max_count must be from 1 to %d, not %d", RF_READ_ALL_MAX_COUNT, PG_GETARG_INT32(1))));
	if (by_type && array_contains_nulls(PG_GETARG_ARRAYTYPE_P(2)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event_types must not contain NULL"),
				 errhint("Pass NULL instead of the array to read every type.")));
	if (by_category && array_contains_nulls(PG_GETARG_ARRAYTYPE_P(3)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("categories must not contain NULL"),
				 errhint("Pass NULL instead of the array to read every category.")));

	store = rf_current_store();
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* The log includes every event committed before the call (log_sync.c). */
	(void) rf_log_sync(store, false, NULL);
	ups = rf_read_upcasters(fcinfo, 4, store);

	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	if (by_type && by_category)
	{
		spec = &rf_read_all_types_categories_plan;
		values[2] = rf_upcast_source_types(ups, PG_GETARG_DATUM(2));
		values[3] = PG_GETARG_DATUM(3);
	}
	else if (by_type)
	{
		spec = &rf_read_all_types_plan;
		values[2] = rf_upcast_source_types(ups, PG_GETARG_DATUM(2));
	}
	else if (by_category)
	{
		spec = &rf_read_all_categories_plan;
		values[2] = PG_GETARG_DATUM(3);
	}
	else
		spec = &rf_read_all_plan;
	all = rf_archive_include(fcinfo, 5);
	if (!all)
		spec = rf_archive_hot_spec(spec);

	/*
	 * Not read-only: the statement must see the positions the tick just gave.
	 * The whole log is read by one range scan where it can (log_page.c); a hot
	 * read only while nothing is archived (a page counts positions).
	 */
	if (by_type || by_category || (!all && rf_archive_has_events(store)) ||
		!rf_read_log_page(store, PG_GETARG_INT64(0), PG_GETARG_INT32(1), ups,
						  ((ReturnSetInfo *) fcinfo->resultinfo)->setResult,
						  ((ReturnSetInfo *) fcinfo->resultinfo)->setDesc))
		rf_read_into_result(fcinfo, store, spec, values, nulls, false, ups,
							by_type ? PG_GETARG_DATUM(2) : (Datum) 0);
	/* No position leaves before the tick that gave it is flushed (core/shmem.h). */
	rf_log_make_durable();
	SPI_finish();
	return (Datum) 0;
}

/*
 * rillflow.read_stream(stream_id uuid, from_version bigint, max_count integer,
 *     raw boolean, include_archived boolean) RETURNS SETOF rillflow.event_envelope
 */
Datum
rillflow_read_stream(PG_FUNCTION_ARGS)
{
	const RfStore *store;
	Datum		values[3];
	char		nulls[4] = "   ";

	rf_require_arg(fcinfo, 0, "stream_id", "Use rillflow.resolve_stream_alias() to get an id for a name.");
	if (PG_ARGISNULL(1) || PG_GETARG_INT64(1) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 PG_ARGISNULL(1)
				 ? errmsg("from_version must be at least 1, not NULL")
				 : errmsg("from_version must be at least 1, not " INT64_FORMAT, PG_GETARG_INT64(1)),
				 errhint("Versions start at 1.")));
	if (!PG_ARGISNULL(2) && PG_GETARG_INT32(2) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_count must be positive or NULL, not %d", PG_GETARG_INT32(2)),
				 errhint("Pass NULL to read the whole stream.")));

	store = rf_current_store();
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	if (PG_ARGISNULL(2))
		nulls[2] = 'n';		/* LIMIT NULL: the whole stream */
	else
		values[2] = Int64GetDatum((int64) PG_GETARG_INT32(2));
	rf_read_into_result(fcinfo, store,
						rf_archive_include(fcinfo, 4) ? &rf_read_stream_plan
						: rf_archive_hot_spec(&rf_read_stream_plan),
						values, nulls, true,
						rf_read_upcasters(fcinfo, 3, store), (Datum) 0);
	rf_log_make_durable();
	SPI_finish();
	return (Datum) 0;
}

/*
 * rillflow.stream_version(stream_id uuid) RETURNS bigint
 *
 * The stream's version; NULL when it does not exist.
 */
Datum
rillflow_stream_version(PG_FUNCTION_ARGS)
{
	const RfStore *store;
	Datum		values[1];
	bool		found;
	int64		version = 0;

	rf_require_arg(fcinfo, 0, "stream_id", NULL);
	store = rf_current_store();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = PG_GETARG_DATUM(0);
	rf_run_plan(store, &rf_stream_version_plan, values, NULL, true, 1);
	found = SPI_processed == 1;
	if (found)
		version = rf_spi_int8(0, 1);
	SPI_finish();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_INT64(version);
}
