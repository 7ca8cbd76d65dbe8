/*-------------------------------------------------------------------------
 *
 * query_compiled.c
 *	  Compiled queries: compile_query stores a checked spec under a name in
 *	  <store>.compiled_queries; run_query fills its "$name" parameters and
 *	  runs it with a plan prepared once per backend.
 *
 *	  The statement a spec compiles to depends only on the spec, the types
 *	  of the parameter values and the collection's duplicated fields, never
 *	  on the values themselves (those are arguments). So run_query builds
 *	  the statement text (microseconds) and looks its plan up by that text
 *	  in an entry per (store, name): a recompiled spec, a new duplicated
 *	  field or a parameter of another JSON type gives another text and so
 *	  another plan, and a stale plan can never be used. When the stored
 *	  row's xmin changes (a recompile), the entry's plans are freed. The
 *	  plan cache itself replans a kept plan when a table it reads changes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "core/args.h"
#include "core/errcodes.h"
#include "core/plans.h"
#include "core/store.h"
#include "query/query.h"

PG_FUNCTION_INFO_V1(rillflow_compile_query);
PG_FUNCTION_INFO_V1(rillflow_run_query);
PG_FUNCTION_INFO_V1(rillflow_query_params);
PG_FUNCTION_INFO_V1(rillflow_compiled_query_cache);

#define RF_QUERY_NAME_MAXLEN	128
#define RF_PLANS_PER_QUERY		8

typedef struct RfCompiledKey
{
	Oid			schema_oid;
	char		name[RF_QUERY_NAME_MAXLEN + 1];
} RfCompiledKey;

typedef struct RfCompiledEntry
{
	RfCompiledKey key;
	TransactionId xmin;			/* of the compiled_queries row the plans are for */
	int			nplans;
	char	   *sql[RF_PLANS_PER_QUERY];
	SPIPlanPtr	plan[RF_PLANS_PER_QUERY];
	int64		prepared;
	int64		reused;
} RfCompiledEntry;

static HTAB *rf_compiled = NULL;

static const RfPlanSpec rf_fetch_query_plan = {
	"SELECT collection, spec, xmin FROM %s.compiled_queries WHERE name OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

static const RfPlanSpec rf_upsert_query_plan = {
	"INSERT INTO %s.compiled_queries AS q (name, collection, spec, created_at, updated_at) "
	"VALUES ($1, $2, $3, pg_catalog.now(), pg_catalog.now()) "
	"ON CONFLICT (name) DO UPDATE SET collection = EXCLUDED.collection, spec = EXCLUDED.spec, "
	"updated_at = pg_catalog.now()",
	3, {TEXTOID, TEXTOID, JSONBOID}
};

static char *
rf_query_name_arg(FunctionCallInfo fcinfo)
{
	char	   *name;
	size_t		len;

	rf_require_arg(fcinfo, 0, "name", NULL);
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	len = strlen(name);
	for (size_t i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (i > 0 && ((c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':'))))
			len = 0;
	}
	if (len == 0 || len > RF_QUERY_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid query name %s", rf_quote_arg(name, 64)),
				 errhint("A query name is 1 to 128 characters of letters, digits, _ . - and :, "
						 "starting with a letter or _.")));
	return name;
}

/*
 * rillflow.compile_query(name text, collection text, query jsonb) RETURNS void
 *
 * Checks the spec whole (its parameters may stand anywhere a value may) and
 * that the collection exists, then stores it, replacing one of that name.
 */
Datum
rillflow_compile_query(PG_FUNCTION_ARGS)
{
	char	   *collection;
	const RfStore *store;
	RfParams	params = {RF_PARAMS_COLLECT, NULL, NIL};
	Datum		values[3];

	(void) rf_query_name_arg(fcinfo);

	rf_require_arg(fcinfo, 1, "collection", NULL);
	rf_require_arg(fcinfo, 2, "query", NULL);
	collection = text_to_cstring(PG_GETARG_TEXT_PP(1));
	rf_parse_query(PG_GETARG_JSONB_P(2), &params);
	store = rf_current_store();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rf_query_collection(store, collection);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	rf_run_plan(store, &rf_upsert_query_plan, values, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/* The kept plan for a statement of a compiled query, preparing it once. */
static SPIPlanPtr
rf_compiled_plan(const RfStore *store, const char *name, TransactionId xmin, const char *sql,
				 RfArgs *args)
{
	RfCompiledKey key;
	RfCompiledEntry *entry;
	bool		found;
	SPIPlanPtr	plan;

	if (rf_compiled == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(RfCompiledKey);
		ctl.entrysize = sizeof(RfCompiledEntry);
		rf_compiled = hash_create("rillflow compiled queries", 32, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	memset(&key, 0, sizeof(key));
	key.schema_oid = store->schema_oid;
	strlcpy(key.name, name, sizeof(key.name));
	entry = hash_search(rf_compiled, &key, HASH_ENTER, &found);
	if (!found)
	{
		entry->nplans = 0;
		entry->prepared = 0;
		entry->reused = 0;
		entry->xmin = xmin;
	}
	if (entry->xmin != xmin)
	{
		/* recompiled: its old statements will not come back */
		for (int i = 0; i < entry->nplans; i++)
		{
			SPI_freeplan(entry->plan[i]);
			pfree(entry->sql[i]);
		}
		entry->nplans = 0;
		entry->xmin = xmin;
	}
	for (int i = 0; i < entry->nplans; i++)
		if (strcmp(entry->sql[i], sql) == 0)
		{
			entry->reused++;
			return entry->plan[i];
		}

	plan = SPI_prepare(sql, args->n, args->types);
	if (plan == NULL)
		elog(ERROR, "could not prepare compiled query \"%s\": %s", name, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep compiled query plan");
	if (entry->nplans == RF_PLANS_PER_QUERY)
	{
		SPI_freeplan(entry->plan[0]);
		pfree(entry->sql[0]);
		memmove(&entry->plan[0], &entry->plan[1], sizeof(SPIPlanPtr) * (RF_PLANS_PER_QUERY - 1));
		memmove(&entry->sql[0], &entry->sql[1], sizeof(char *) * (RF_PLANS_PER_QUERY - 1));
		entry->nplans--;
	}
	entry->plan[entry->nplans] = plan;
	entry->sql[entry->nplans] = MemoryContextStrdup(TopMemoryContext, sql);
	entry->nplans++;
	entry->prepared++;
	return plan;
}

/*
 * rillflow.run_query(name text, params jsonb) RETURNS SETOF jsonb
 */
Datum
rillflow_run_query(PG_FUNCTION_ARGS)
{
	char	   *name = rf_query_name_arg(fcinfo);
	const RfStore *store = rf_current_store();
	RfParams	params = {RF_PARAMS_COLLECT, NULL, NIL};
	Datum		values[1];
	char	   *collection;
	Jsonb	   *spec;
	TransactionId xmin;
	bool		isnull;
	RfQuery    *q;
	RfArgs		args = {0};
	char	   *sql;

	rf_require_arg(fcinfo, 1, "params", "Pass '{}' for a query without parameters.");
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = PG_GETARG_DATUM(0);
	rf_run_plan(store, &rf_fetch_query_plan, values, NULL, true, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_RF_NOT_FOUND),
				 errmsg("compiled query \"%s\" does not exist", name),
				 errhint("Create it with rillflow.compile_query('%s', collection, query).", name)));
	collection = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	spec = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));

	/* which parameters the spec uses, then exactly those from params */
	rf_parse_query(spec, &params);
	params.values = PG_GETARG_JSONB_P(1);
	rf_check_params(&params);
	params.mode = RF_PARAMS_BIND;
	q = rf_parse_query(spec, &params);

	sql = rf_build_select(rf_query_collection(store, collection), q, &args);
	rf_query_run_into(fcinfo, NULL, &args, rf_compiled_plan(store, name, xmin, sql, &args));
	SPI_finish();
	return (Datum) 0;
}

/*
 * rillflow._query_params(spec jsonb) RETURNS text[]
 *
 * The parameters a compiled query's spec uses, in order of first use.
 */
Datum
rillflow_query_params(PG_FUNCTION_ARGS)
{
	RfParams	params = {RF_PARAMS_COLLECT, NULL, NIL};
	Datum	   *names;
	int			n = 0;
	ListCell   *lc;

	rf_require_arg(fcinfo, 0, "spec", NULL);
	rf_parse_query(PG_GETARG_JSONB_P(0), &params);
	names = palloc(sizeof(Datum) * Max(list_length(params.seen), 1));
	foreach(lc, params.seen)
		names[n++] = CStringGetTextDatum(strVal(lfirst(lc)));
	PG_RETURN_ARRAYTYPE_P(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * rillflow._compiled_query_cache() RETURNS TABLE(store_oid oid, name text,
 *     plans integer, prepared bigint, reused bigint)
 *
 * This backend's compiled-query plans: how many statements each query has
 * kept, how many times one was prepared and how many runs reused one.
 */
Datum
rillflow_compiled_query_cache(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	RfCompiledEntry *entry;

	InitMaterializedSRF(fcinfo, 0);
	if (rf_compiled == NULL)
		return (Datum) 0;
	hash_seq_init(&status, rf_compiled);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		Datum		values[5];
		bool		nulls[5] = {0};

		values[0] = ObjectIdGetDatum(entry->key.schema_oid);
		values[1] = CStringGetTextDatum(entry->key.name);
		values[2] = Int32GetDatum(entry->nplans);
		values[3] = Int64GetDatum(entry->prepared);
		values[4] = Int64GetDatum(entry->reused);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
