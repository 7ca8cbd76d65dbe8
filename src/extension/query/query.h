/*-------------------------------------------------------------------------
 *
 * query.h
 *	  What the document query files share: a collection as the query
 *	  builder sees it (its table and duplicated fields), the bound
 *	  arguments of a statement, and the builder's entry points.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_QUERY_H
#define RILLFLOW_QUERY_H

#include "postgres.h"

#include "executor/spi.h"
#include "lib/stringinfo.h"

#include "core/store.h"
#include "documents/doc_transform.h"
#include "query/query_spec.h"

/* A duplicated field: a real column holding the (transformed) value of a path. */
typedef struct RfDupField
{
	char	   *path;
	RfDocPath	doc;
	char	   *column;			/* quoted */
	Oid			typid;			/* the column's type, from the catalog */
	int			ntransforms;	/* functions to apply to a value, innermost
								 * first */
	PGFunction	transforms[RF_MAX_TRANSFORM_DEPTH];
} RfDupField;

typedef struct RfQueryCollection
{
	Oid			relid;
	char	   *table;			/* "schema"."table", quoted */
	int			nfields;
	RfDupField *fields;
} RfQueryCollection;

/* The arguments of the statement being built: $1, $2... */
typedef struct RfArgs
{
	int			n;
	int			cap;
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
} RfArgs;

/* query_fields.c */
extern RfQueryCollection *rf_query_collection(const RfStore *store, const char *name);
extern void rf_query_fields_init(void);

/* query_sql.c */
extern char *rf_build_select(const RfQueryCollection *coll, const RfQuery *q, RfArgs *args);
extern char *rf_build_count(const RfQueryCollection *coll, const RfNode *filter, bool include_deleted,
							RfArgs *args);

/* query_exec.c: run a built statement into the SRF's result. */
extern void rf_query_run_into(FunctionCallInfo fcinfo, const char *sql, RfArgs *args, SPIPlanPtr plan);

#endif							/* RILLFLOW_QUERY_H */
