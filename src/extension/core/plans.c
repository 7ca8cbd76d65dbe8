/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  Statements prepared once per backend and store (or table).
 *
 *	  Each store is a schema with the same tables, so each statement is
 *	  prepared once per store it runs on, on first use, and kept for the
 *	  backend's life (SPI_keepplan); a statement on one collection's table is
 *	  kept per table. The plan cache replans a kept statement by itself when a
 *	  table it reads is altered.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/tstoreReceiver.h"
#include "nodes/params.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "core/plans.h"
#include "core/store.h"

typedef struct RfPlanKey
{
	Oid			owner;			/* the store's schema, or the table */
	const RfPlanSpec *spec;
	bool		positions;		/* prepared from spec->positions_sql */
} RfPlanKey;

typedef struct RfPlanEntry
{
	RfPlanKey	key;
	char	   *target;			/* what the plan was prepared for */
	SPIPlanPtr	plan;
} RfPlanEntry;

static HTAB *rf_plans = NULL;

/*
 * The kept plan of `spec` for `owner` (a store's schema or a table), with
 * `target` (the quoted schema, or the quoted qualified table) put in for
 * every %s; prepared on first use. An owner's oid can come back for another
 * schema or table after a drop: the plan is then prepared again for the new
 * target, never run on the old one.
 */
static SPIPlanPtr
rf_keep_plan_of(Oid owner, const RfPlanSpec *spec, const char *target, bool positions)
{
	RfPlanKey	key;
	RfPlanEntry *entry;
	bool		found;

	if (rf_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(RfPlanKey);
		ctl.entrysize = sizeof(RfPlanEntry);
		rf_plans = hash_create("rillflow plans", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	memset(&key, 0, sizeof(key));
	key.owner = owner;
	key.spec = spec;
	key.positions = positions;
	entry = hash_search(rf_plans, &key, HASH_ENTER, &found);
	if (!found)
	{
		entry->target = NULL;
		entry->plan = NULL;
	}
	else if (entry->plan != NULL && strcmp(entry->target, target) != 0)
	{
		SPI_freeplan(entry->plan);
		pfree(entry->target);
		entry->target = NULL;
		entry->plan = NULL;
	}
	if (entry->plan == NULL)
	{
		const char *t = target;
		char	   *sql;
		SPIPlanPtr	plan;

		if (spec->nargs < 0 || spec->nargs > RF_PLAN_MAX_ARGS)
			elog(ERROR, "rillflow statement with %d parameters", spec->nargs);
		sql = psprintf(positions ? spec->positions_sql : spec->sql, t, t, t, t, t, t);
		plan = SPI_prepare_cursor(sql, spec->nargs, (Oid *) spec->argtypes, spec->cursor_options);

		if (plan == NULL)
			elog(ERROR, "could not prepare rillflow statement \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep rillflow statement");
		entry->target = MemoryContextStrdup(TopMemoryContext, target);
		entry->plan = plan;
		pfree(sql);
	}
	return entry->plan;
}

SPIPlanPtr
rf_keep_plan(Oid owner, const RfPlanSpec *spec, const char *target)
{
	return rf_keep_plan_of(owner, spec, target, false);
}

/*
 * The kept plan of a statement in a store, preparing it on first use; for a
 * store whose log is still the positions table, of its positions_sql. Asked
 * at every call (a catalog cache probe), so a store migrated while this
 * backend runs moves on to its new statements at once.
 */
SPIPlanPtr
rf_store_plan(const RfStore *store, const RfPlanSpec *spec)
{
	bool		positions = spec->positions_sql != NULL && !rf_store_has_log_segments(store);

	return rf_keep_plan_of(store->schema_oid, spec, store->quoted_schema, positions);
}

/* Run a kept plan; SPI must be connected. Returns SPI's code. */
int
rf_execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only, long limit)
{
	int			ret = SPI_execute_plan(plan, values, nulls, read_only, limit);

	if (ret < 0)
		elog(ERROR, "rillflow statement failed: %s", SPI_result_code_string(ret));
	return ret;
}

/* Run a statement in a store; SPI must be connected. Returns SPI's code. */
int
rf_run_plan(const RfStore *store, const RfPlanSpec *spec, Datum *values,
			const char *nulls, bool read_only, long limit)
{
	return rf_execute_plan(rf_store_plan(store, spec), values, nulls, read_only, limit);
}

/*
 * Run a statement, from its kept plan or (plan NULL) from its text, and put
 * its rows straight into a set-returning function's tuplestore, with no copy
 * into SPI_tuptable on the way; SPI must be connected. The query's columns
 * must match result_desc.
 */
void
rf_execute_into(SPIPlanPtr plan, const char *sql, int nargs, const Oid *argtypes,
				Datum *values, const char *nulls, bool read_only, Tuplestorestate *result,
				TupleDesc result_desc)
{
	SPIExecuteOptions options;
	ParamListInfo params = makeParamList(nargs);
	DestReceiver *dest = CreateTuplestoreDestReceiver();
	int			ret;

	for (int i = 0; i < nargs; i++)
	{
		ParamExternData *param = &params->params[i];

		param->value = values[i];
		param->isnull = nulls != NULL && nulls[i] == 'n';
		param->pflags = PARAM_FLAG_CONST;
		param->ptype = argtypes[i];
	}
	SetTuplestoreDestReceiverParams(dest, result, CurrentMemoryContext, false,
									result_desc, "rillflow query result does not match its function's type");
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = read_only;
	options.dest = dest;
	ret = plan != NULL ? SPI_execute_plan_extended(plan, &options)
		: SPI_execute_extended(sql, &options);
	dest->rDestroy(dest);
	if (ret < 0)
		elog(ERROR, "rillflow statement failed: %s", SPI_result_code_string(ret));
}

/* The same for a kept plan of `spec`. */
void
rf_execute_plan_into(SPIPlanPtr plan, const RfPlanSpec *spec, Datum *values,
					 const char *nulls, bool read_only, Tuplestorestate *result,
					 TupleDesc result_desc)
{
	rf_execute_into(plan, NULL, spec->nargs, spec->argtypes, values, nulls, read_only, result,
					result_desc);
}

/* The same for a statement in a store. */
void
rf_run_plan_into(const RfStore *store, const RfPlanSpec *spec, Datum *values,
				 const char *nulls, bool read_only, Tuplestorestate *result,
				 TupleDesc result_desc)
{
	rf_execute_plan_into(rf_store_plan(store, spec), spec, values, nulls, read_only, result,
						 result_desc);
}

/* An int8 column of the last SPI result (0 for NULL). */
int64
rf_spi_int8(uint64 row, int column)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}
