/*-------------------------------------------------------------------------
 *
 * names.c
 *	  The projection name rule and the projection-not-found error, written
 *	  once for C and SQL: the runtime calls them directly, the SQL functions
 *	  through rillflow._check_projection_name and
 *	  rillflow._projection_not_found.
 *
 *	  Names are only ever bound as values, but they show up in logs, metrics
 *	  labels and CLI output, so they are kept to a plain identifier-like
 *	  form: 1 to 63 characters of letters, digits, _ and -, starting with a
 *	  letter.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "core/args.h"
#include "core/errcodes.h"
#include "core/store.h"
#include "projections/projection.h"

PG_FUNCTION_INFO_V1(rillflow_check_projection_name);
PG_FUNCTION_INFO_V1(rillflow_projection_not_found);

#define RF_PROJECTION_NAME_MAXLEN 63

/* Raise 22023 unless name is a valid projection name. */
void
rf_check_projection_name(const char *name)
{
	size_t		len = strlen(name);
	bool		ok = len >= 1 && len <= RF_PROJECTION_NAME_MAXLEN &&
		((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'));

	for (size_t i = 1; ok && i < len; i++)
	{
		char		c = name[i];

		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '-';
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid projection name %s", rf_quote_arg(name, 64)),
				 errhint("A projection name is 1 to 63 characters of letters, digits, _ and -, starting with a letter.")));
}

/* RF004 for a projection the store lacks. */
void
rf_projection_not_found(const RfStore *store, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_RF_NOT_FOUND),
			 errmsg("projection \"%s\" does not exist in store \"%s\"", name, store->schema_name),
			 errhint("rillflow.list_projections() lists the projections of the current store; rillflow.tenant selects the store.")));
}

/*
 * rillflow._check_projection_name(name text) RETURNS void
 *
 * 22004 for NULL, 22023 for a malformed name.
 */
Datum
rillflow_check_projection_name(PG_FUNCTION_ARGS)
{
	rf_require_arg(fcinfo, 0, "projection name", NULL);
	rf_check_projection_name(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * rillflow._projection_not_found(name text) RETURNS void
 *
 * Raises RF004 for the projection in the current store.
 */
Datum
rillflow_projection_not_found(PG_FUNCTION_ARGS)
{
	rf_projection_not_found(rf_current_store(),
							PG_ARGISNULL(0) ? "<NULL>" : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
