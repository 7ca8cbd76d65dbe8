/*-------------------------------------------------------------------------
 *
 * documents.c
 *	  Document reads and writes: doc_get, doc_get_many, doc_put, doc_update,
 *	  doc_patch, doc_patch_fields, doc_soft_delete, doc_restore, doc_delete.
 *
 *	  Every call is one statement on the collection's table, prepared once
 *	  per backend and table (plans.c, keyed by the table's oid) and kept. A write's
 *	  version check is in that statement's condition, never a read followed
 *	  by a write: of two writers expecting the same version, the second finds
 *	  the row changed after its wait, matches nothing and writes nothing. Only
 *	  when nothing matched does a second statement read the document's state,
 *	  to say why (RF003 or RF004).
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
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/uuid.h"

#include "core/args.h"
#include "core/errcodes.h"
#include "core/plans.h"
#include "core/store.h"
#include "documents/collections.h"
#include "documents/doc_path.h"

PG_FUNCTION_INFO_V1(rillflow_doc_get);
PG_FUNCTION_INFO_V1(rillflow_doc_get_many);
PG_FUNCTION_INFO_V1(rillflow_doc_put);
PG_FUNCTION_INFO_V1(rillflow_doc_update);
PG_FUNCTION_INFO_V1(rillflow_doc_patch);
PG_FUNCTION_INFO_V1(rillflow_doc_patch_fields);
PG_FUNCTION_INFO_V1(rillflow_doc_soft_delete);
PG_FUNCTION_INFO_V1(rillflow_doc_restore);
PG_FUNCTION_INFO_V1(rillflow_doc_delete);

#define RF_GET_MANY_MAX_IDS 10000

typedef enum RfDocStmt
{
	RF_DOC_GET,
	RF_DOC_GET_MANY,
	RF_DOC_PUT_ANY,
	RF_DOC_PUT_NEW,
	RF_DOC_PUT_EXACT,
	RF_DOC_UPDATE,
	RF_DOC_PATCH_ONE,
	RF_DOC_PATCH_FIELDS,
	RF_DOC_SOFT_DELETE,
	RF_DOC_RESTORE,
	RF_DOC_DELETE,
	RF_DOC_STATE,
	RF_N_DOC_STMTS
} RfDocStmt;


#define RF_BUMP "version = version OPERATOR(pg_catalog.+) 1, updated_at = pg_catalog.now()"
#define RF_ID_IS "id OPERATOR(pg_catalog.=) $1"
#define RF_LIVE_AT(n) \
	RF_ID_IS " AND deleted_at IS NULL AND ($" #n "::pg_catalog.int8 IS NULL OR version OPERATOR(pg_catalog.=) $" #n ") "

/* In each statement %s is the quoted, qualified collection table. */
static const RfPlanSpec rf_doc_specs[RF_N_DOC_STMTS] = {
	[RF_DOC_GET] = {
		"SELECT data, version FROM %s WHERE " RF_ID_IS " AND deleted_at IS NULL",
		1, {UUIDOID}
	},
	/* Each document once, in the order its id first comes in the array. */
	[RF_DOC_GET_MANY] = {
		"SELECT t.id, t.data, t.version FROM %s t "
		"JOIN (SELECT u.id, pg_catalog.min(u.ord) AS ord "
		"FROM pg_catalog.unnest($1) WITH ORDINALITY AS u(id, ord) GROUP BY u.id) u "
		"ON t.id OPERATOR(pg_catalog.=) u.id WHERE t.deleted_at IS NULL ORDER BY u.ord",
		1, {UUIDARRAYOID}
	},
	/* Insert or replace; replacing a soft-deleted document revives it. */
	[RF_DOC_PUT_ANY] = {
		"INSERT INTO %s AS t (id, data, version) VALUES ($1, $2, 1) "
		"ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
		"version = t.version OPERATOR(pg_catalog.+) 1, updated_at = pg_catalog.now(), deleted_at = NULL "
		"RETURNING t.version",
		2, {UUIDOID, JSONBOID}
	},
	[RF_DOC_PUT_NEW] = {
		"INSERT INTO %s (id, data, version) VALUES ($1, $2, 1) "
		"ON CONFLICT (id) DO NOTHING RETURNING version",
		2, {UUIDOID, JSONBOID}
	},
	[RF_DOC_PUT_EXACT] = {
		"UPDATE %s SET data = $2, " RF_BUMP ", deleted_at = NULL "
		"WHERE " RF_ID_IS " AND version OPERATOR(pg_catalog.=) $3 RETURNING version",
		3, {UUIDOID, JSONBOID, INT8OID}
	},
	[RF_DOC_UPDATE] = {
		"UPDATE %s SET data = $2, " RF_BUMP " WHERE " RF_LIVE_AT(3) "RETURNING version",
		3, {UUIDOID, JSONBOID, INT8OID}
	},
	[RF_DOC_PATCH_ONE] = {
		"UPDATE %s SET data = rillflow._doc_patch(data, pg_catalog.jsonb_build_object($2::pg_catalog.text, $3::pg_catalog.jsonb)), "
		RF_BUMP " WHERE " RF_LIVE_AT(4) "RETURNING version",
		4, {UUIDOID, TEXTOID, JSONBOID, INT8OID}
	},
	[RF_DOC_PATCH_FIELDS] = {
		"UPDATE %s SET data = rillflow._doc_patch(data, $2), " RF_BUMP " WHERE " RF_LIVE_AT(3) "RETURNING version",
		3, {UUIDOID, JSONBOID, INT8OID}
	},
	[RF_DOC_SOFT_DELETE] = {
		"UPDATE %s SET deleted_at = pg_catalog.now(), " RF_BUMP " WHERE " RF_LIVE_AT(2) "RETURNING version",
		2, {UUIDOID, INT8OID}
	},
	[RF_DOC_RESTORE] = {
		"UPDATE %s SET deleted_at = NULL, " RF_BUMP " WHERE " RF_ID_IS " AND deleted_at IS NOT NULL "
		"AND ($2::pg_catalog.int8 IS NULL OR version OPERATOR(pg_catalog.=) $2) RETURNING version",
		2, {UUIDOID, INT8OID}
	},
	[RF_DOC_DELETE] = {
		"DELETE FROM %s WHERE " RF_ID_IS " AND ($2::pg_catalog.int8 IS NULL OR version OPERATOR(pg_catalog.=) $2) "
		"RETURNING version",
		2, {UUIDOID, INT8OID}
	},
	[RF_DOC_STATE] = {
		"SELECT version, deleted_at IS NOT NULL FROM %s WHERE " RF_ID_IS,
		1, {UUIDOID}
	},
};

/* A collection as one call sees it. */
typedef struct RfCollection
{
	const RfStore *store;
	const char *name;
	Oid			relid;
	const char *table;			/* quoted and qualified */
} RfCollection;

static void
rf_open_collection(FunctionCallInfo fcinfo, RfCollection *coll, bool create)
{
	char		table[NAMEDATALEN];

	rf_require_arg(fcinfo, 0, "collection", NULL);
	coll->store = rf_current_store();
	coll->name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	coll->relid = rf_collection_relid(coll->store, coll->name, create);
	rf_collection_table_name(coll->name, table);
	/* a read-only read of a registered collection without its table */
	if (strcmp(get_rel_name(coll->relid), table) != 0)
		coll->table = quote_qualified_identifier("rillflow", get_rel_name(coll->relid));
	else
		coll->table = quote_qualified_identifier(coll->store->schema_name, table);
}

/* The statement's plan, kept per collection table (plans.c). */
static SPIPlanPtr
rf_doc_plan(RfCollection *coll, RfDocStmt stmt)
{
	return rf_keep_plan(coll->relid, &rf_doc_specs[stmt], coll->table);
}

/* Run a statement; SPI must be connected. Returns SPI_processed. */
static uint64
rf_doc_run(RfCollection *coll, RfDocStmt stmt, Datum *values, const char *nulls, bool read_only)
{
	rf_execute_plan(rf_doc_plan(coll, stmt), values, nulls, read_only, 0);
	return SPI_processed;
}

/* Run a query whose rows are the set-returning function's result. */
static void
rf_doc_run_into(FunctionCallInfo fcinfo, RfCollection *coll, RfDocStmt stmt, Datum *values)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	rf_execute_plan_into(rf_doc_plan(coll, stmt), &rf_doc_specs[stmt], values, NULL, true,
						 rsinfo->setResult, rsinfo->setDesc);
}

static char *
rf_uuid_text(Datum id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, id));
}

/* The data argument: a JSON object (22004, 22023 otherwise). */
static Datum
rf_doc_data_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	Jsonb	   *data;

	rf_require_arg(fcinfo, argno, argname, "Pass a JSON object.");
	data = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(data) || JB_ROOT_IS_SCALAR(data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object, not %s", argname,
						JB_ROOT_IS_SCALAR(data) ? "a scalar" : "an array"),
				 errhint("A document is a JSON object, such as {\"name\": \"x\"}.")));
	return PointerGetDatum(data);
}

/*
 * The expected_version argument: NULL, or a version (1 or more), or 0 where
 * allow_zero ("must be new"). Returns whether it is given.
 */
static bool
rf_expected_arg(FunctionCallInfo fcinfo, int argno, bool allow_zero, int64 *expected)
{
	if (PG_ARGISNULL(argno))
		return false;
	*expected = PG_GETARG_INT64(argno);
	if (*expected < 0 || (*expected == 0 && !allow_zero))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected_version must be %s, not " INT64_FORMAT,
						allow_zero ? "NULL, 0 or a version" : "NULL or a version (1 or more)",
						*expected),
				 allow_zero
				 ? errhint("NULL writes whatever the version, 0 requires a new document, n requires version n.")
				 : errhint("NULL writes whatever the version, n requires version n.")));
	return true;
}

/* A document's state: false when it does not exist. */
static bool
rf_doc_state(RfCollection *coll, Datum id, int64 *version, bool *deleted)
{
	Datum		values[1] = {id};
	bool		isnull;

	if (rf_doc_run(coll, RF_DOC_STATE, values, NULL, false) == 0)
		return false;
	*version = rf_spi_int8(0, 1);
	*deleted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return true;
}

static void
rf_raise_version_conflict(RfCollection *coll, Datum id, const char *expectation)
{
	int64		version = 0;
	bool		deleted = false;
	bool		exists = rf_doc_state(coll, id, &version, &deleted);

	ereport(ERROR,
			(errcode(ERRCODE_RF_DOCUMENT_VERSION_CONFLICT),
			 errmsg("document %s in collection \"%s\" %s", rf_uuid_text(id), coll->name, expectation),
			 !exists
			 ? errdetail("The document does not exist.")
			 : deleted
			 ? errdetail("The document is at version " INT64_FORMAT " and soft-deleted.", version)
			 : errdetail("The document is at version " INT64_FORMAT ".", version),
			 errhint("Read the document again and retry with its current version.")));
}

/*
 * After an update of a live document matched nothing: RF004 when there is no
 * live document, RF003 when it is at another version.
 */
static void
rf_raise_update_failure(RfCollection *coll, Datum id, int64 expected)
{
	int64		version = 0;
	bool		deleted = false;

	if (!rf_doc_state(coll, id, &version, &deleted) || deleted)
		ereport(ERROR,
				(errcode(ERRCODE_RF_NOT_FOUND),
				 errmsg("document %s in collection \"%s\" does not exist", rf_uuid_text(id), coll->name),
				 deleted ? errdetail("The document is soft-deleted; restore it with rillflow.doc_restore first.") : 0));
	rf_raise_version_conflict(coll, id,
							  psprintf("is not at the expected version " INT64_FORMAT, expected));
}

static void
rf_doc_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/*
 * rillflow.doc_get(collection text, id uuid) RETURNS TABLE(data jsonb, version bigint)
 *
 * No row for a document that does not exist or is soft-deleted.
 */
Datum
rillflow_doc_get(PG_FUNCTION_ARGS)
{
	RfCollection coll;
	Datum		values[1];

	rf_open_collection(fcinfo, &coll, false);
	rf_require_arg(fcinfo, 1, "id", NULL);
	InitMaterializedSRF(fcinfo, 0);
	values[0] = PG_GETARG_DATUM(1);
	rf_doc_connect();
	rf_doc_run_into(fcinfo, &coll, RF_DOC_GET, values);
	SPI_finish();
	return (Datum) 0;
}

/*
 * rillflow.doc_get_many(collection text, ids uuid[])
 *     RETURNS TABLE(id uuid, data jsonb, version bigint)
 */
Datum
rillflow_doc_get_many(PG_FUNCTION_ARGS)
{
	RfCollection coll;
	ArrayType  *ids;
	Datum		values[1];

	rf_open_collection(fcinfo, &coll, false);
	rf_require_arg(fcinfo, 1, "ids", NULL);
	ids = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(ids) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ids must be a one-dimensional array")));
	if (ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids)) > RF_GET_MANY_MAX_IDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ids must hold at most %d ids, not %d", RF_GET_MANY_MAX_IDS,
						ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids))),
				 errhint("Read in batches, or use rillflow.doc_query.")));
	if (array_contains_nulls(ids))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("ids must not contain NULL")));
	InitMaterializedSRF(fcinfo, 0);
	values[0] = PointerGetDatum(ids);
	rf_doc_connect();
	rf_doc_run_into(fcinfo, &coll, RF_DOC_GET_MANY, values);
	SPI_finish();
	return (Datum) 0;
}

/*
 * rillflow.doc_put(collection text, id uuid, data jsonb,
 *     expected_version bigint DEFAULT NULL) RETURNS bigint
 *
 * Insert or replace; returns the new version. expected_version NULL: last
 * writer wins; 0: the id must be unused (a soft-deleted document counts);
 * n: the document must be at version n. Creates the collection on first use
 * (rillflow.auto_create_collections).
 */
Datum
rillflow_doc_put(PG_FUNCTION_ARGS)
{
	RfCollection coll;
	Datum		values[3];
	int64		expected = 0;
	bool		checked;
	RfDocStmt	stmt;
	int64		version;

	rf_require_arg(fcinfo, 1, "id", NULL);
	values[0] = PG_GETARG_DATUM(1);
	values[1] = rf_doc_data_arg(fcinfo, 2, "data");
	checked = rf_expected_arg(fcinfo, 3, true, &expected);
	values[2] = Int64GetDatum(expected);
	rf_open_collection(fcinfo, &coll, true);

	stmt = !checked ? RF_DOC_PUT_ANY : expected == 0 ? RF_DOC_PUT_NEW : RF_DOC_PUT_EXACT;
	rf_doc_connect();
	if (rf_doc_run(&coll, stmt, values, NULL, false) == 0)
		rf_raise_version_conflict(&coll, values[0],
								  expected == 0 ? "already exists"
								  : psprintf("is not at the expected version " INT64_FORMAT, expected));
	version = rf_spi_int8(0, 1);
	SPI_finish();
	PG_RETURN_INT64(version);
}

/* The shared tail of the writes of a live document: returns the new version. */
static int64
rf_write_live(RfCollection *coll, RfDocStmt stmt, Datum *values, bool checked, int64 expected,
			  int nargs)
{
	char		nulls[4] = "    ";
	int64		version;

	nulls[nargs - 1] = checked ? ' ' : 'n';
	rf_doc_connect();
	if (rf_doc_run(coll, stmt, values, nulls, false) == 0)
		rf_raise_update_failure(coll, values[0], expected);
	version = rf_spi_int8(0, 1);
	SPI_finish();
	return version;
}

/*
 * rillflow.doc_update(collection text, id uuid, data jsonb,
 *     expected_version bigint) RETURNS bigint
 *
 * Replace a live document; RF004 when there is none (or it is soft-deleted),
 * RF003 when it is not at expected_version (NULL: any version).
 */
Datum
rillflow_doc_update(PG_FUNCTION_ARGS)
{
	RfCollection coll;
	Datum		values[3];
	int64		expected = 0;
	bool		checked;

	rf_require_arg(fcinfo, 1, "id", NULL);
	values[0] = PG_GETARG_DATUM(1);
	values[1] = rf_doc_data_arg(fcinfo, 2, "data");
	checked = rf_expected_arg(fcinfo, 3, false, &expected);
	values[2] = Int64GetDatum(expected);
	rf_open_collection(fcinfo, &coll, false);
	PG_RETURN_INT64(rf_write_live(&coll, RF_DOC_UPDATE, values, checked, expected, 3));
}

/*
 * rillflow.doc_patch(collection text, id uuid, path text, value jsonb,
 *     expected_version bigint DEFAULT NULL) RETURNS bigint
 *
 * Set one dotted path of a live document, creating missing parent objects.
 */
Datum
rillflow_doc_patch(PG_FUNCTION_ARGS)
{
	RfCollection coll;
	Datum		values[4];
	int64		expected = 0;
	bool		checked;
	RfDocPath	path;

	rf_require_arg(fcinfo, 1, "id", NULL);
	rf_require_arg(fcinfo, 2, "path", RF_DOC_PATH_HINT);
	rf_require_arg(fcinfo, 3, "value", "Pass 'null'::jsonb to set a JSON null.");
	rf_doc_path_or_error(text_to_cstring(PG_GETARG_TEXT_PP(2)), "path", &path);
	values[0] = PG_GETARG_DATUM(1);
	values[1] = PG_GETARG_DATUM(2);
	values[2] = PG_GETARG_DATUM(3);
	checked = rf_expected_arg(fcinfo, 4, false, &expected);
	values[3] = Int64GetDatum(expected);
	rf_open_collection(fcinfo, &coll, false);
	PG_RETURN_INT64(rf_write_live(&coll, RF_DOC_PATCH_ONE, values, checked, expected, 4));
}

/*
 * rillflow.doc_patch_fields(collection text, id uuid, fields jsonb,
 *     expected_version bigint DEFAULT NULL) RETURNS bigint
 *
 * Set many dotted paths (an object of path -> value) in one statement.
 */
Datum
rillflow_doc_patch_fields(PG_FUNCTION_ARGS)
{
	RfCollection coll;
	Datum		values[3];
	int64		expected = 0;
	bool		checked;
	Jsonb	   *fields;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;
	RfDocPath	path;

	rf_require_arg(fcinfo, 1, "id", NULL);
	fields = DatumGetJsonbP(rf_doc_data_arg(fcinfo, 2, "fields"));
	it = JsonbIteratorInit(&fields->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			rf_doc_path_or_error(pnstrdup(v.val.string.val, v.val.string.len), "fields key", &path);
			n++;
		}
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fields must name at least one path"),
				 errhint("Pass an object of path -> value, such as {\"profile.name\": \"Ada\"}.")));
	values[0] = PG_GETARG_DATUM(1);
	values[1] = PointerGetDatum(fields);
	checked = rf_expected_arg(fcinfo, 3, false, &expected);
	values[2] = Int64GetDatum(expected);
	rf_open_collection(fcinfo, &coll, false);
	PG_RETURN_INT64(rf_write_live(&coll, RF_DOC_PATCH_FIELDS, values, checked, expected, 3));
}

/*
 * The deletes and the restore: true when this call changed the document;
 * false when there was nothing to do (no document, or already in that state).
 * With expected_version, RF003 when the document was in the state to act on
 * but at another version.
 */
static Datum
rf_doc_state_change(FunctionCallInfo fcinfo, RfDocStmt stmt)
{
	RfCollection coll;
	Datum		values[2];
	char		nulls[3] = "  ";
	int64		expected = 0;
	bool		checked;
	bool		changed;

	rf_require_arg(fcinfo, 1, "id", NULL);
	values[0] = PG_GETARG_DATUM(1);
	checked = rf_expected_arg(fcinfo, 2, false, &expected);
	values[1] = Int64GetDatum(expected);
	nulls[1] = checked ? ' ' : 'n';
	rf_open_collection(fcinfo, &coll, false);
	rf_doc_connect();
	changed = rf_doc_run(&coll, stmt, values, nulls, false) > 0;
	if (!changed && checked)
	{
		int64		version;
		bool		deleted;

		if (rf_doc_state(&coll, values[0], &version, &deleted) &&
			(stmt == RF_DOC_DELETE || deleted == (stmt == RF_DOC_RESTORE)))
			rf_raise_version_conflict(&coll, values[0],
									  psprintf("is not at the expected version " INT64_FORMAT, expected));
	}
	SPI_finish();
	PG_RETURN_BOOL(changed);
}

/* rillflow.doc_soft_delete(collection, id, expected_version DEFAULT NULL) RETURNS boolean */
Datum
rillflow_doc_soft_delete(PG_FUNCTION_ARGS)
{
	return rf_doc_state_change(fcinfo, RF_DOC_SOFT_DELETE);
}

/* rillflow.doc_restore(collection, id, expected_version DEFAULT NULL) RETURNS boolean */
Datum
rillflow_doc_restore(PG_FUNCTION_ARGS)
{
	return rf_doc_state_change(fcinfo, RF_DOC_RESTORE);
}

/* rillflow.doc_delete(collection, id, expected_version DEFAULT NULL) RETURNS boolean */
Datum
rillflow_doc_delete(PG_FUNCTION_ARGS)
{
	return rf_doc_state_change(fcinfo, RF_DOC_DELETE);
}
