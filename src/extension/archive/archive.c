/*-------------------------------------------------------------------------
 *
 * archive.c
 *	  Hot and cold events: archive_stream, archive_streams,
 *	  reactivate_stream, the redirect of an append to an archived stream,
 *	  and the settings rillflow.archive_redirect and
 *	  rillflow.include_archived_by_default.
 *
 *	  A store's events live in two relations of one shape (store step 0011_archive):
 *	  the hot one and events_archive, told apart by retention_class. On the
 *	  dual_table backend events_archive inherits from events; on the
 *	  partitioned backend both are partitions of events (archive/sql/
 *	  backend.sql). Either way a statement on events sees every event, so the
 *	  sequencer and every consumer (projections, subscriptions, aggregates,
 *	  the snapshotter, the daemon through read_all(include_archived => true))
 *	  never skip an archived one; a hot read adds retention_class = 'hot',
 *	  which the planner answers from the hot relation alone.
 *
 *	  Invariants:
 *	  - A move is one statement, DELETE ... RETURNING feeding an INSERT:
 *		every column but retention_class is kept, so positions, versions,
 *		seq and tx never change, and a reader's snapshot sees each event in
 *		exactly one of the two relations.
 *	  - Archiving and reactivation take the stream's row lock (an UPDATE of
 *		streams.archived_at) before they move anything, the lock an append
 *		takes too: an append and a move of one stream never interleave, and
 *		expected-version checks hold across archiving.
 *	  - The moves and the counters run as the owner of the store's schema,
 *		security-restricted, like the sequencer: a writer may append to an
 *		archived stream (and so reactivate it) without any right to delete
 *		events; the caller of archive_stream & co. needs UPDATE on streams.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "archive/archive.h"
#include "core/args.h"
#include "core/errcodes.h"
#include "core/plans.h"
#include "core/store.h"

PG_FUNCTION_INFO_V1(rillflow_archive_stream);
PG_FUNCTION_INFO_V1(rillflow_archive_streams);
PG_FUNCTION_INFO_V1(rillflow_reactivate_stream);

#define RF_ARCHIVE_MAX_STREAMS 100000

bool		rf_archive_redirect = true;
bool		rf_include_archived_by_default = false;

/* Define the archive settings; called from _PG_init. */
void
rf_archive_init(void)
{
	DefineCustomBoolVariable("rillflow.archive_redirect",
							 "An append to an archived stream reactivates it.",
							 "Off: such an append fails with RF008 and writes nothing.",
							 &rf_archive_redirect,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("rillflow.include_archived_by_default",
							 "read_stream and read_all with include_archived NULL read archived events too.",
							 "Off: such reads return hot events only. Consumers always read archived events.",
							 &rf_include_archived_by_default,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * Whether a read includes archived events: its argument, or the setting when
 * NULL. A call through an older signature without the argument (0.1.0's SQL
 * on this library, before ALTER EXTENSION UPDATE: its stores have no
 * archive) reads everything, as it did.
 */
bool
rf_archive_include(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno)
		return true;
	if (!PG_ARGISNULL(argno))
		return PG_GETARG_BOOL(argno);
	return rf_include_archived_by_default;
}

/*
 * The hot-only form of a read: the same statement with retention_class =
 * 'hot' added at the front of its outermost WHERE clause (the alias e is the events
 * table in every read). Derived once per statement and kept, so the plan
 * cache (keyed by the specification) holds both forms.
 */
#define RF_HOT_SPECS 16

static struct
{
	const RfPlanSpec *all;
	RfPlanSpec	hot;
}			rf_hot_specs[RF_HOT_SPECS];
static int	rf_n_hot_specs = 0;

/* The statement with the hot filter at the front of its outermost WHERE. */
static const char *
rf_hot_sql(const char *sql)
{
	const char *where = NULL;
	int			depth = 0;
	StringInfoData hot;
	char	   *kept;

	for (const char *c = sql; *c != '\0' && where == NULL; c++)
	{
		if (*c == '(')
			depth++;
		else if (*c == ')')
			depth--;
		else if (depth == 0 && strncmp(c, "WHERE ", 6) == 0)
			where = c;
	}
	if (where == NULL)
		elog(ERROR, "rillflow: no hot form of statement \"%s\"", sql);
	initStringInfo(&hot);
	appendBinaryStringInfo(&hot, sql, where - sql);
	appendStringInfoString(&hot, "WHERE e.retention_class OPERATOR(pg_catalog.=) 'hot' AND ");
	appendStringInfoString(&hot, where + strlen("WHERE "));
	kept = MemoryContextStrdup(TopMemoryContext, hot.data);
	pfree(hot.data);
	return kept;
}

const RfPlanSpec *
rf_archive_hot_spec(const RfPlanSpec *spec)
{
	for (int i = 0; i < rf_n_hot_specs; i++)
	{
		if (rf_hot_specs[i].all == spec)
			return &rf_hot_specs[i].hot;
	}
	if (rf_n_hot_specs >= RF_HOT_SPECS)
		elog(ERROR, "rillflow: more than %d hot forms of statements", RF_HOT_SPECS);
	rf_hot_specs[rf_n_hot_specs].all = spec;
	rf_hot_specs[rf_n_hot_specs].hot = *spec;
	rf_hot_specs[rf_n_hot_specs].hot.sql = rf_hot_sql(spec->sql);
	if (spec->positions_sql != NULL)
		rf_hot_specs[rf_n_hot_specs].hot.positions_sql = rf_hot_sql(spec->positions_sql);
	return &rf_hot_specs[rf_n_hot_specs++].hot;
}

/*
 * Whether the store's archive holds any event: a hot read of the whole log
 * may take read_all's page path (events/log_page.c), which pages by
 * positions, only while no position belongs to an archived event; else a
 * page would come back short and look like the log's end.
 */
static const RfPlanSpec rf_archive_any_plan = {
	"SELECT EXISTS (SELECT FROM %s.events_archive)",
	0, {InvalidOid},
	CURSOR_OPT_GENERIC_PLAN
};

bool
rf_archive_has_events(const RfStore *store)
{
	bool		isnull;

	rf_run_plan(store, &rf_archive_any_plan, NULL, NULL, true, 1);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* The owner of a store's schema. */
static Oid
rf_archive_store_owner(Oid schema_oid)
{
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(schema_oid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("the schema of store %u does not exist", schema_oid)));
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/* A store's relation by name; an error when the store lacks it (an old store). */
static Oid
rf_archive_relid(const RfStore *store, const char *relname)
{
	Oid			relid = get_relname_relid(relname, store->schema_oid);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("store \"%s\" has no table %s", store->schema_name, relname),
				 errhint("Bring the store up to date with rillflow.schema_sync().")));
	return relid;
}

/*
 * The columns of the events table but retention_class, quoted and comma
 * separated: a move names them all, so a column a later store step adds
 * moves too (events_archive inherits it, or is a partition that has it).
 */
static char *
rf_archive_columns(const RfStore *store)
{
	Relation	rel = table_open(rf_archive_relid(store, "events"), AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData cols;

	initStringInfo(&cols);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), "retention_class") == 0)
			continue;
		if (cols.len > 0)
			appendStringInfoString(&cols, ", ");
		appendStringInfoString(&cols, quote_identifier(NameStr(att->attname)));
	}
	table_close(rel, AccessShareLock);
	return cols.data;
}

/* Switch to the store's owner, security-restricted; undo with rf_archive_as_caller. */
typedef struct RfArchiveUser
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;
} RfArchiveUser;

static void
rf_archive_as_owner(const RfStore *store, RfArchiveUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(rf_archive_store_owner(store->schema_oid),
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	saved->nestlevel = NewGUCNestLevel();
}

static void
rf_archive_as_caller(const RfArchiveUser *saved)
{
	AtEOXact_GUC(false, saved->nestlevel);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * Move the events of the given streams ($1, a uuid[]) to the archive
 * (to_cold) or back to the hot relation, as the caller arranged (the store's
 * owner, streams already locked); add the move to the store's counters.
 * Returns how many events moved.
 */
static int64
rf_archive_move(const RfStore *store, Datum stream_ids, bool to_cold,
				int64 marked, int64 reactivated)
{
	char	   *cols = rf_archive_columns(store);
	const char *schema = store->quoted_schema;
	char	   *sql;
	Oid			argtypes[1] = {UUIDARRAYOID};
	Datum		values[1] = {stream_ids};
	Oid			counter_types[5] = {INT8OID, INT8OID, INT8OID, INT8OID, FLOAT8OID};
	Datum		counters[5];
	instr_time	start,
				duration;
	int64		moved;

	if (to_cold)
		sql = psprintf("WITH moved AS (DELETE FROM %s.events e "
					   "WHERE e.stream_id OPERATOR(pg_catalog.=) ANY ($1) "
					   "AND e.retention_class OPERATOR(pg_catalog.=) 'hot' RETURNING %s) "
					   "INSERT INTO %s.events_archive (%s, retention_class) "
					   "SELECT %s, 'cold' FROM moved",
					   schema, cols, schema, cols, cols);
	else
		sql = psprintf("WITH moved AS (DELETE FROM %s.events_archive e "
					   "WHERE e.stream_id OPERATOR(pg_catalog.=) ANY ($1) RETURNING %s) "
					   "INSERT INTO %s.events (%s, retention_class) "
					   "SELECT %s, 'hot' FROM moved",
					   schema, cols, schema, cols, cols);

	INSTR_TIME_SET_CURRENT(start);
	if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "rillflow: archive move failed");
	moved = (int64) SPI_processed;
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);

	/* the move counters are the archive's; a reactivation counts its stream */
	counters[0] = Int64GetDatum(marked);
	counters[1] = Int64GetDatum(reactivated);
	counters[2] = Int64GetDatum(to_cold ? moved : 0);
	counters[3] = Int64GetDatum(to_cold ? 1 : 0);
	counters[4] = Float8GetDatum(to_cold ? INSTR_TIME_GET_DOUBLE(duration) : 0.0);
	sql = psprintf("INSERT INTO %s.archive_counters (streams_marked, streams_reactivated, "
				   "events_moved, move_batches, move_seconds) VALUES ($1, $2, $3, $4, $5)",
				   schema);
	if (SPI_execute_with_args(sql, 5, counter_types, counters, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "rillflow: archive counters insert failed");
	return moved;
}

/* The current store, and a check that the caller may write its streams. */
static const RfStore *
rf_archive_store_for_write(const char *function)
{
	const RfStore *store = rf_current_store();
	Oid			streams = rf_archive_relid(store, "streams");

	(void) rf_archive_relid(store, "events_archive");
	if (pg_class_aclcheck(streams, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s in store \"%s\"", function, store->schema_name),
				 errdetail("It needs UPDATE on the store's streams table."),
				 errhint("Ask the store's owner for write access: rillflow.grant_tenant(tenant, role, 'write').")));
	return store;
}

/* A one-element uuid[] of a stream id. */
static Datum
rf_archive_one_id(Datum id)
{
	return PointerGetDatum(construct_array(&id, 1, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

/* Raise RF004 unless the stream exists (the caller is the owner, in SPI). */
static void
rf_archive_require_stream(const RfStore *store, Datum id)
{
	Oid			argtypes[1] = {UUIDOID};
	Datum		values[1] = {id};
	char	   *sql = psprintf("SELECT FROM %s.streams WHERE stream_id OPERATOR(pg_catalog.=) $1",
							   store->quoted_schema);

	SPI_execute_with_args(sql, 1, argtypes, values, NULL, true, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RF_NOT_FOUND),
				 errmsg("stream %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, id))),
				 errhint("Only a stream with events can be archived or reactivated.")));
}

/*
 * Mark one stream archived (to_cold) or hot and move its events, as the
 * store's owner, in SPI. Returns false when it was in that state already:
 * nothing moved. RF004 when it does not exist and must_exist.
 */
static bool
rf_archive_mark_and_move(const RfStore *store, Datum stream_id, bool to_cold, bool must_exist)
{
	RfArchiveUser saved;
	Oid			argtypes[1] = {UUIDOID};
	Datum		values[1] = {stream_id};
	char	   *sql;
	bool		changed;

	rf_archive_as_owner(store, &saved);
	sql = psprintf(to_cold
				   ? "UPDATE %s.streams SET archived_at = pg_catalog.now() "
				   "WHERE stream_id OPERATOR(pg_catalog.=) $1 AND archived_at IS NULL"
				   : "UPDATE %s.streams SET archived_at = NULL "
				   "WHERE stream_id OPERATOR(pg_catalog.=) $1 AND archived_at IS NOT NULL",
				   store->quoted_schema);
	if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "rillflow: marking a stream %s failed", to_cold ? "archived" : "hot");
	changed = SPI_processed == 1;
	if (changed)
		(void) rf_archive_move(store, rf_archive_one_id(stream_id), to_cold,
							   to_cold ? 1 : 0, to_cold ? 0 : 1);
	else if (must_exist)
		rf_archive_require_stream(store, stream_id);
	rf_archive_as_caller(&saved);
	return changed;
}

/*
 * archive_stream and reactivate_stream: mark one stream archived (to_cold)
 * or hot, and move its events. Returns false when it was in that state
 * already; RF004 when it does not exist.
 */
static bool
rf_archive_one(FunctionCallInfo fcinfo, bool to_cold, const char *function)
{
	const RfStore *store;
	Datum		stream_id;
	bool		changed;

	rf_require_arg(fcinfo, 0, "stream_id", "Use rillflow.resolve_stream_alias() to get an id for a name.");
	store = rf_archive_store_for_write(function);
	stream_id = PG_GETARG_DATUM(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	changed = rf_archive_mark_and_move(store, stream_id, to_cold, true);
	SPI_finish();
	return changed;
}

/*
 * rillflow.archive_stream(stream_id uuid) RETURNS boolean
 *
 * Archive a stream now: true, or false when it was archived already. RF004
 * when it does not exist.
 */
Datum
rillflow_archive_stream(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rf_archive_one(fcinfo, true, "archive streams"));
}

/*
 * rillflow.reactivate_stream(stream_id uuid) RETURNS boolean
 *
 * Bring an archived stream's events back to the hot relation: true, or false
 * when it was not archived. RF004 when it does not exist.
 */
Datum
rillflow_reactivate_stream(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rf_archive_one(fcinfo, false, "reactivate streams"));
}

/*
 * rillflow.archive_streams(idle_for interval, max_streams integer)
 *     RETURNS integer
 *
 * Archive up to max_streams hot streams with no append for idle_for, the
 * longest idle first, in one batch (one move statement); returns how many.
 * Streams another transaction holds (an append in flight, another archiver)
 * are skipped, so two archivers never wait on each other or archive a
 * stream twice. Call it again until it returns 0 to archive them all.
 */
Datum
rillflow_archive_streams(PG_FUNCTION_ARGS)
{
	const RfStore *store;
	RfArchiveUser saved;
	Oid			argtypes[2] = {INTERVALOID, INT4OID};
	Datum		values[2];
	char	   *sql;
	int			count;
	Interval	zero = {0};

	rf_require_arg(fcinfo, 0, "idle_for", "Pass how long a stream must have had no append, e.g. '30 days'.");
	rf_require_arg(fcinfo, 1, "max_streams", "Pass how many streams one call may archive, e.g. 1000.");
	if (DatumGetBool(DirectFunctionCall2(interval_lt, PG_GETARG_DATUM(0), IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("idle_for must not be negative, not %s",
						DatumGetCString(DirectFunctionCall1(interval_out, PG_GETARG_DATUM(0))))));
	if (PG_GETARG_INT32(1) < 1 || PG_GETARG_INT32(1) > RF_ARCHIVE_MAX_STREAMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_streams must be from 1 to %d, not %d", RF_ARCHIVE_MAX_STREAMS,
						PG_GETARG_INT32(1))));

	store = rf_archive_store_for_write("archive streams");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rf_archive_as_owner(store, &saved);
	sql = psprintf("WITH idle AS (SELECT s.stream_id FROM %s.streams s "
				   "WHERE s.archived_at IS NULL "
				   "AND s.updated_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $1) "
				   "ORDER BY s.updated_at LIMIT $2 FOR UPDATE SKIP LOCKED), "
				   "marked AS (UPDATE %s.streams t SET archived_at = pg_catalog.now() FROM idle "
				   "WHERE t.stream_id OPERATOR(pg_catalog.=) idle.stream_id RETURNING t.stream_id) "
				   "SELECT pg_catalog.array_agg(stream_id), pg_catalog.count(*)::integer FROM marked",
				   store->quoted_schema, store->quoted_schema);
	if (SPI_execute_with_args(sql, 2, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "rillflow: archive_streams failed");
	{
		bool		isnull;
		Datum		ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (count > 0)
		{
			/* the array outlives the next statement's tuple table */
			ids = PointerGetDatum(DatumGetArrayTypePCopy(ids));
			(void) rf_archive_move(store, ids, true, count, 0);
		}
	}
	/* fold the counter rows no one else holds (never waiting) into one */
	sql = psprintf("WITH gone AS (DELETE FROM %s.archive_counters c WHERE c.ctid OPERATOR(pg_catalog.=) ANY "
				   "(SELECT x.ctid FROM %s.archive_counters x FOR UPDATE SKIP LOCKED) RETURNING c.*) "
				   "INSERT INTO %s.archive_counters SELECT pg_catalog.sum(streams_marked), "
				   "pg_catalog.sum(streams_reactivated), pg_catalog.sum(events_moved), "
				   "pg_catalog.sum(move_batches), pg_catalog.sum(move_seconds) FROM gone "
				   "HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0",
				   store->quoted_schema, store->quoted_schema, store->quoted_schema);
	if (SPI_execute(sql, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "rillflow: archive counters fold failed");
	rf_archive_as_caller(&saved);
	SPI_finish();
	PG_RETURN_INT32(count);
}

/*
 * An append found its stream archived, with the stream's version as it
 * expected (events/append.c; the stream's row is locked). With
 * rillflow.archive_redirect on, the stream's events come back to the hot
 * relation and the row is marked hot, so the append can run again as on any
 * hot stream; off, RF008 and nothing is written.
 */
void
rf_archive_reactivate_for_append(const RfStore *store, Datum stream_id)
{
	if (!rf_archive_redirect)
		ereport(ERROR,
				(errcode(ERRCODE_RF_STREAM_ARCHIVED),
				 errmsg("stream %s is archived", DatumGetCString(DirectFunctionCall1(uuid_out, stream_id))),
				 errdetail("rillflow.archive_redirect is off, so an append does not reactivate an archived stream; nothing was appended."),
				 errhint("Call rillflow.reactivate_stream() first, or SET rillflow.archive_redirect = on.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) rf_archive_mark_and_move(store, stream_id, false, false);
	SPI_finish();
}
