/*-------------------------------------------------------------------------
 *
 * categories.c
 *	  Stream categories: the category rule, and the category an append
 *	  gives a stream. A stream's category is set once, by
 *	  resolve_stream_alias (the alias prefix before ':') or by the first
 *	  append that names one, and never changes: a later append may repeat
 *	  it, never change it (22023).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "core/args.h"
#include "core/plans.h"
#include "subscriptions/subscriptions.h"

PG_FUNCTION_INFO_V1(rillflow_check_category);

/*
 * Insert the category when the append created the stream ($3), and report
 * the category the stream had before (a committed row, or one written
 * earlier in this transaction) and the one inserted.
 */
static const RfPlanSpec rf_set_category_plan = {
	"WITH ins AS (INSERT INTO %s.stream_categories (stream_id, category) "
	"  SELECT $1, $2 WHERE $3 ON CONFLICT (stream_id) DO NOTHING RETURNING category) "
	"SELECT (SELECT category FROM ins), "
	"  (SELECT c.category FROM %s.stream_categories c WHERE c.stream_id OPERATOR(pg_catalog.=) $1)",
	3, {UUIDOID, TEXTOID, BOOLOID}
};

/*
 * The category rule: 1 to RF_CATEGORY_MAXLEN characters, no ':' (the alias
 * separator) and no control characters.
 */
void
rf_check_category(const char *category)
{
	int			nchars = pg_mbstrlen(category);

	if (nchars < 1 || nchars > RF_CATEGORY_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("category must be 1 to %d characters long, not %d", RF_CATEGORY_MAXLEN, nchars)));
	for (const char *p = category; *p; p++)
	{
		if (*p == ':' || (unsigned char) *p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid category %s", rf_quote_arg(category, 64)),
					 errdetail("A category has no ':' and no control characters."),
					 errhint("resolve_stream_alias('orders:42') gives the stream category 'orders'.")));
	}
}

void
rf_set_stream_category(const RfStore *store, pg_uuid_t *stream_id, text *category, bool created)
{
	Datum		values[3];
	bool		isnull;
	char	   *wanted = text_to_cstring(category);
	char	   *had;

	rf_check_category(wanted);
	values[0] = UUIDPGetDatum(stream_id);
	values[1] = PointerGetDatum(category);
	values[2] = BoolGetDatum(created);
	rf_run_plan(store, &rf_set_category_plan, values, NULL, false, 1);
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		return;					/* given now, on the stream's first append */
	had = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (had == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("category can only be given on a stream's first append"),
				 errdetail("Stream %s exists and has no category.",
						   DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(stream_id)))),
				 errhint("Leave category out of appends to an existing stream.")));
	if (strcmp(had, wanted) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream %s has category %s, not %s",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(stream_id))),
						rf_quote_arg(had, 64), rf_quote_arg(wanted, 64)),
				 errdetail("A stream's category never changes.")));
}

/*
 * rillflow._check_category(category text) RETURNS void
 *
 * 22004 for NULL, 22023 for a malformed category.
 */
Datum
rillflow_check_category(PG_FUNCTION_ARGS)
{
	rf_require_arg(fcinfo, 0, "category", NULL);
	rf_check_category(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
