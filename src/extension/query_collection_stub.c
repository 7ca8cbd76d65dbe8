/*-------------------------------------------------------------------------
 *
 * query_collection_stub.c
 *	  A stand-in for docs-core's rf_collection_relid (collections.c) with the
 *	  same signature, so the query code builds and is tested before that
 *	  lands. TODO(docs-core): delete this file and its header on merge.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "query_collection_stub.h"

static bool
rf_stub_collection_name_ok(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > 48 || name[0] < 'a' || name[0] > 'z')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	return true;
}

Oid
rf_collection_relid(const RfStore *store, const char *collection, bool create_if_missing)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Oid			relid = InvalidOid;
	char	   *sql;

	if (!rf_stub_collection_name_ok(collection))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid collection name %s", quote_literal_cstr(pnstrdup(collection, 64))),
				 errhint("A collection name is 1 to 48 characters of a-z, 0-9 and _, starting with a letter.")));
	if (OidIsValid(get_relname_relid("collections", store->schema_oid)))
	{
		args[0] = CStringGetTextDatum(collection);
		sql = psprintf("SELECT table_name::pg_catalog.text FROM %s.collections WHERE name OPERATOR(pg_catalog.=) $1",
					   store->quoted_schema);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "collection lookup failed");
		if (SPI_processed == 1)
			relid = get_relname_relid(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
									  store->schema_oid);
		SPI_finish();
	}
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_RF_NOT_FOUND),
				 errmsg("collection \"%s\" does not exist", collection),
				 errhint("Create it with rillflow.create_collection('%s').", collection)));
	return relid;
}
