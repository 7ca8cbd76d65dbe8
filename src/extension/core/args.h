/*-------------------------------------------------------------------------
 *
 * args.h
 *	  Checks shared by the SQL-callable C functions on their arguments.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_ARGS_H
#define RILLFLOW_ARGS_H

#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

/* Raise 22004 when a required argument is NULL. */
static inline void
rf_require_arg(FunctionCallInfo fcinfo, int argno, const char *name, const char *hint)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name),
				 hint ? errhint("%s", hint) : 0));
}

/*
 * A bad argument quoted for an error message, cut to its first nchars
 * characters (never inside one), as SQL's quote_literal(left(value, n)).
 */
static inline char *
rf_quote_arg(const char *value, int nchars)
{
	return quote_literal_cstr(pnstrdup(value, pg_mbcharcliplen(value, strlen(value), nchars)));
}

#endif							/* RILLFLOW_ARGS_H */
