/*-------------------------------------------------------------------------
 *
 * collections.c
 *	  Document collections: the name rule, and the lookup of a collection's
 *	  table that every document function starts with.
 *
 *	  A collection "orders" is the table doc_orders in the store's schema,
 *	  listed in the store's collections table. The lookup is a syscache probe
 *	  for the table; only when the table is missing does it run SQL
 *	  (rillflow._ensure_collection), which registers the collection and
 *	  creates its table under the collections row's lock, so concurrent first
 *	  writers create it once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "core/args.h"
#include "core/errcodes.h"
#include "core/store.h"
#include "documents/collections.h"

PG_FUNCTION_INFO_V1(rillflow_collection_table);
PG_FUNCTION_INFO_V1(rillflow_collection_relid);

/* 1 to 48 characters of a-z, 0-9 and _, starting with a letter. */
bool
rf_collection_name_is_valid(const char *name)
{
	return rf_simple_name_is_valid(name, RF_COLLECTION_NAME_MAXLEN);
}

/* Raise 22023 for a malformed collection name. */
void
rf_check_collection_name(const char *name)
{
	if (!rf_collection_name_is_valid(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid collection name %s", rf_quote_arg(name, 64)),
				 errhint(RF_COLLECTION_NAME_HINT)));
}

/* The table of a collection (buf holds NAMEDATALEN bytes). */
void
rf_collection_table_name(const char *collection, char *buf)
{
	snprintf(buf, NAMEDATALEN, RF_COLLECTION_TABLE_PREFIX "%s", collection);
}

/* Run rillflow._ensure_collection; InvalidOid when it does not exist. */
static Oid
rf_ensure_collection(const RfStore *store, const char *collection, bool create)
{
	Oid			argtypes[3] = {NAMEOID, TEXTOID, BOOLOID};
	Datum		args[3];
	Name		schema = (Name) palloc0(NAMEDATALEN);
	Oid			result = InvalidOid;
	bool		isnull;
	int			ret;

	namestrcpy(schema, store->schema_name);
	args[0] = NameGetDatum(schema);
	args[1] = CStringGetTextDatum(collection);
	args[2] = BoolGetDatum(create);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("SELECT rillflow._ensure_collection($1, $2, $3)",
								3, argtypes, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "collection lookup failed: %s", SPI_result_code_string(ret));
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = DatumGetObjectId(d);
	}
	SPI_finish();
	return result;
}

/*
 * The oid of a collection's table in a store (see collections.h). The fast
 * path is one syscache probe; a collection whose table is missing (a new one,
 * or one registered but not yet materialised, as the default store's docs) goes
 * through SQL.
 */
Oid
rf_collection_relid(const RfStore *store, const char *collection, bool create_if_missing)
{
	char		table[NAMEDATALEN];
	Oid			relid;

	rf_check_collection_name(collection);
	rf_collection_table_name(collection, table);
	relid = get_relname_relid(table, store->schema_oid);
	if (OidIsValid(relid))
		return relid;

	relid = rf_ensure_collection(store, collection,
								 create_if_missing && rf_auto_create_collections);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_RF_NOT_FOUND),
				 errmsg("collection \"%s\" does not exist", collection),
				 errdetail("The store \"%s\" has no collection of that name.", store->schema_name),
				 create_if_missing
				 ? errhint("Create it with rillflow.create_collection('%s'), or turn rillflow.auto_create_collections on.",
						   collection)
				 : errhint("Create it with rillflow.create_collection('%s'), or write a document to it.",
						   collection)));
	return relid;
}

/*
 * rillflow._collection_table(collection text) RETURNS name
 *
 * The table name of a collection, after checking the name: the one place the
 * name rule lives for SQL callers.
 */
Datum
rillflow_collection_table(PG_FUNCTION_ARGS)
{
	char	   *collection;
	Name		result;

	rf_require_arg(fcinfo, 0, "collection", NULL);
	collection = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rf_check_collection_name(collection);
	result = (Name) palloc0(NAMEDATALEN);
	rf_collection_table_name(collection, NameStr(*result));
	PG_RETURN_NAME(result);
}

/*
 * rillflow._collection_relid(collection text, create boolean) RETURNS regclass
 *
 * rf_collection_relid on the current store, for the functions in SQL.
 */
Datum
rillflow_collection_relid(PG_FUNCTION_ARGS)
{
	rf_require_arg(fcinfo, 0, "collection", NULL);
	PG_RETURN_OID(rf_collection_relid(rf_current_store(),
									  text_to_cstring(PG_GETARG_TEXT_PP(0)),
									  !PG_ARGISNULL(1) && PG_GETARG_BOOL(1)));
}
