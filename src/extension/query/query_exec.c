/*-------------------------------------------------------------------------
 *
 * query_exec.c
 *	  rillflow.doc_query and rillflow.doc_count.
 *
 *	  The spec is checked whole before anything runs, then compiled to one
 *	  statement (query_sql.c) and run with its values as arguments. A
 *	  doc_query statement runs as a one-shot plan, so the planner sees the
 *	  values themselves (an equality's selectivity, a LIMIT's size) and
 *	  matches expression indexes the same way it would for hand-written SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/params.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "core/args.h"
#include "core/plans.h"
#include "core/store.h"
#include "query/query.h"

PG_FUNCTION_INFO_V1(rillflow_doc_query);
PG_FUNCTION_INFO_V1(rillflow_doc_count);
PG_FUNCTION_INFO_V1(rillflow_query_sql);

/*
 * Run a built statement (or its kept plan) and put its rows in the
 * set-returning function's result; SPI must be connected.
 */
void
rf_query_run_into(FunctionCallInfo fcinfo, const char *sql, RfArgs *args, SPIPlanPtr plan)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	rf_execute_into(plan, sql, args->n, args->types, args->values, args->nulls, true,
					rsinfo->setResult, rsinfo->setDesc);
}

static char *
rf_collection_arg(FunctionCallInfo fcinfo)
{
	rf_require_arg(fcinfo, 0, "collection", NULL);
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

/*
 * rillflow.doc_query(collection text, query jsonb) RETURNS SETOF jsonb
 */
Datum
rillflow_doc_query(PG_FUNCTION_ARGS)
{
	char	   *collection = rf_collection_arg(fcinfo);
	const RfStore *store;
	RfQuery    *q;
	RfArgs		args = {0};
	char	   *sql;

	rf_require_arg(fcinfo, 1, "query", "Pass '{}' to read every document.");
	q = rf_parse_query(PG_GETARG_JSONB_P(1), NULL);
	store = rf_current_store();
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sql = rf_build_select(rf_query_collection(store, collection), q, &args);
	rf_query_run_into(fcinfo, sql, &args, NULL);
	SPI_finish();
	return (Datum) 0;
}

/*
 * rillflow.doc_count(collection text, filter jsonb, include_deleted boolean)
 *     RETURNS bigint
 */
Datum
rillflow_doc_count(PG_FUNCTION_ARGS)
{
	char	   *collection = rf_collection_arg(fcinfo);
	RfNode	   *filter = PG_ARGISNULL(1) ? NULL : rf_parse_filter_only(PG_GETARG_JSONB_P(1));
	bool		include_deleted = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	const RfStore *store = rf_current_store();
	RfArgs		args = {0};
	SPIExecuteOptions options;
	ParamListInfo params;
	char	   *sql;
	int64		count;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sql = rf_build_count(rf_query_collection(store, collection), filter, include_deleted, &args);
	params = makeParamList(args.n);
	for (int i = 0; i < args.n; i++)
	{
		params->params[i].value = args.values[i];
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = args.types[i];
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.tcount = 1;
	if (SPI_execute_extended(sql, &options) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "rillflow document count failed");
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool){false}));
	SPI_finish();
	PG_RETURN_INT64(count);
}

/*
 * rillflow.query_sql(collection text, query jsonb) RETURNS text
 *
 * The statement doc_query would run, for EXPLAIN and for people choosing
 * indexes; the values are the arguments $1, $2..., not in the text.
 */
Datum
rillflow_query_sql(PG_FUNCTION_ARGS)
{
	char	   *collection = rf_collection_arg(fcinfo);
	RfQuery    *q;
	RfArgs		args = {0};
	char	   *sql;

	rf_require_arg(fcinfo, 1, "query", NULL);
	q = rf_parse_query(PG_GETARG_JSONB_P(1), NULL);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sql = rf_build_select(rf_query_collection(rf_current_store(), collection), q, &args);
	sql = MemoryContextStrdup(TopTransactionContext, sql);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}
