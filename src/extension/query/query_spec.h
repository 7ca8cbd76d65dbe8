/*-------------------------------------------------------------------------
 *
 * query_spec.h
 *	  The document query spec (docs/document-queries.md), parsed and checked.
 *
 *	  query_parse.c turns the JSON spec into these structures, rejecting
 *	  anything malformed with a 22023 error that names the bad part;
 *	  query_sql.c turns them into one parameterised SQL statement.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_QUERY_SPEC_H
#define RILLFLOW_QUERY_SPEC_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "documents/doc_path.h"

/* The JSON type a value compares as. */
typedef enum RfValueKind
{
	RF_VALUE_NULL,
	RF_VALUE_STRING,
	RF_VALUE_NUMBER,
	RF_VALUE_BOOL,
	RF_VALUE_TIMESTAMP,			/* {"$timestamp": "..."} */
	RF_VALUE_JSON				/* any JSON (contains) */
} RfValueKind;

typedef struct RfValue
{
	RfValueKind kind;
	Datum		datum;			/* text, numeric, bool, timestamptz or jsonb */
	const char *param;			/* the compiled-query parameter it came from */
} RfValue;

typedef enum RfNodeType
{
	RF_NODE_AND,
	RF_NODE_OR,
	RF_NODE_NOT,
	RF_NODE_CMP,				/* eq ne gt gte lt lte like ilike */
	RF_NODE_IN,					/* in nin */
	RF_NODE_CONTAINS,
	RF_NODE_EXISTS
} RfNodeType;

typedef enum RfCmpOp
{
	RF_OP_EQ,
	RF_OP_NE,
	RF_OP_GT,
	RF_OP_GTE,
	RF_OP_LT,
	RF_OP_LTE,
	RF_OP_LIKE,
	RF_OP_ILIKE,
	RF_OP_IN,
	RF_OP_NIN
} RfCmpOp;

/* A path: a dotted document path, or one of the row's columns ($id...). */
typedef struct RfPath
{
	const char *text;			/* as written */
	const char *column;			/* "id", "version"... for a pseudo-path */
	RfDocPath	doc;
} RfPath;

typedef struct RfNode
{
	RfNodeType	type;
	RfCmpOp		op;
	RfPath		path;
	RfValue		value;			/* CMP, CONTAINS */
	RfValueKind in_kind;		/* IN: the kind of every element */
	List	   *in_values;		/* IN: RfValue * */
	List	   *children;		/* AND, OR: RfNode *; NOT: one */
	const char *where;			/* "filter.and[1].gte", for messages */
} RfNode;

typedef struct RfOrder
{
	RfPath		path;
	bool		descending;
	int			nulls;			/* 0 default, 1 first, 2 last */
	RfValueKind as;				/* RF_VALUE_JSON unless "type" was given */
	const char *where;
} RfOrder;

typedef struct RfSelect
{
	const char *field;
	RfPath		path;
} RfSelect;

typedef struct RfQuery
{
	RfNode	   *filter;			/* NULL: every document */
	List	   *order_by;		/* RfOrder * */
	List	   *select;			/* RfSelect *; NIL: the whole document */
	bool		has_limit;
	int64		limit;
	int64		offset;
	bool		include_deleted;
} RfQuery;

/*
 * How "$name" strings in value positions are read: as plain strings
 * (doc_query), as parameters that are only recorded (compile_query), or as
 * parameters filled from a params object (run_query).
 */
typedef enum RfParamMode
{
	RF_PARAMS_NONE,
	RF_PARAMS_COLLECT,
	RF_PARAMS_BIND
} RfParamMode;

typedef struct RfParams
{
	RfParamMode mode;
	Jsonb	   *values;			/* BIND: the params object */
	List	   *seen;			/* names used by the spec (char *) */
} RfParams;

#define RF_MAX_SELECT_FIELDS	50
#define RF_MAX_FILTER_NODES		1000
#define RF_MAX_FILTER_DEPTH		32
#define RF_MAX_IN_VALUES		10000

/* query_parse.c */
extern RfQuery *rf_parse_query(Jsonb *spec, RfParams *params);
extern RfNode *rf_parse_filter_only(Jsonb *filter);
extern void rf_check_params(RfParams *params);

#endif							/* RILLFLOW_QUERY_SPEC_H */
