/*-------------------------------------------------------------------------
 *
 * plans.h
 *	  Statements prepared once per backend and store (or table).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_PLANS_H
#define RILLFLOW_PLANS_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/tuplestore.h"

#include "core/store.h"

/*
 * A statement on a store's tables, or on one table. The SQL names tables as
 * %s.table (at most six %s, each the quoted store schema), or, for a
 * statement on one table (a collection), as %s alone (the quoted, qualified
 * table); everything else in it is schema-qualified and every operator is
 * spelled OPERATOR(pg_catalog.x), so a caller's search_path cannot change
 * what it means. Every statement's specification is one of these, so a
 * copy never reads or writes past argtypes; a shape with more parameters
 * than RF_PLAN_MAX_ARGS fails to compile (its initialiser has excess
 * elements; and append.c's static assertions).
 */
#define RF_PLAN_MAX_ARGS 13

typedef struct RfPlanSpec
{
	const char *sql;
	int			nargs;
	Oid			argtypes[RF_PLAN_MAX_ARGS];
	int			cursor_options; /* for SPI_prepare_cursor: 0, or
								 * CURSOR_OPT_GENERIC_PLAN for a statement
								 * whose plan never depends on its values */
	const char *positions_sql;	/* for a statement on the log: the same on a
								 * store still at step 11 or below, whose log
								 * is the positions table (a database whose
								 * SQL is older than this library, until
								 * ALTER EXTENSION UPDATE); NULL when sql
								 * works on both */
} RfPlanSpec;

extern SPIPlanPtr rf_keep_plan(Oid owner, const RfPlanSpec *spec, const char *target);
extern SPIPlanPtr rf_store_plan(const RfStore *store, const RfPlanSpec *spec);
extern int	rf_execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only,
							long limit);
extern void rf_execute_into(SPIPlanPtr plan, const char *sql, int nargs, const Oid *argtypes,
							Datum *values, const char *nulls, bool read_only,
							Tuplestorestate *result, TupleDesc result_desc);
extern void rf_execute_plan_into(SPIPlanPtr plan, const RfPlanSpec *spec, Datum *values,
								 const char *nulls, bool read_only, Tuplestorestate *result,
								 TupleDesc result_desc);
extern int	rf_run_plan(const RfStore *store, const RfPlanSpec *spec, Datum *values,
						const char *nulls, bool read_only, long limit);
extern int64 rf_spi_int8(uint64 row, int column);
extern void rf_run_plan_into(const RfStore *store, const RfPlanSpec *spec, Datum *values,
							 const char *nulls, bool read_only, Tuplestorestate *result,
							 TupleDesc result_desc);

#endif							/* RILLFLOW_PLANS_H */
