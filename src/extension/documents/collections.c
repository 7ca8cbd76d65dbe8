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
 *	  A read-only transaction (READ ONLY, or any on a hot standby) cannot
 *	  create a table: there a registered collection without its table (the
 *	  default store's docs before its first write) reads as the always empty
 *	  rillflow._empty_collection, which gives the answer a read-write server
 *	  gives after creating the table, and a collection that is not registered
 *	  is RF004 as on the primary (docs/scaling.md).
 *
 *	  A collection's table is used only when it is a plain table owned by its
 *	  store's owner (rf_check_collection_table): one that another role made
 *	  first, under a collection's name, is never adopted (docs/security.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "core/args.h"
#include "core/errcodes.h"
#include "core/store.h"
#include "documents/collections.h"

PG_FUNCTION_INFO_V1(rillflow_collection_table);
PG_FUNCTION_INFO_V1(rillflow_collection_relid);
PG_FUNCTION_INFO_V1(rillflow_check_collection_table);

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

/*
 * Raise 55000 unless relid is a plain table owned by the owner of its schema
 * (the store's owner). Two syscache probes, so every document call can afford
 * it.
 */
void
rf_check_collection_table(Oid relid)
{
	HeapTuple	reltup;
	HeapTuple	nsptup;
	Form_pg_class rel;
	Oid			store_owner;

	reltup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(reltup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	rel = (Form_pg_class) GETSTRUCT(reltup);
	nsptup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(rel->relnamespace));
	if (!HeapTupleIsValid(nsptup))
		elog(ERROR, "cache lookup failed for namespace %u", rel->relnamespace);
	store_owner = ((Form_pg_namespace) GETSTRUCT(nsptup))->nspowner;
	ReleaseSysCache(nsptup);
	if (rel->relkind != RELKIND_RELATION || rel->relowner != store_owner)
	{
		char	   *name = quote_qualified_identifier(get_namespace_name(rel->relnamespace),
													  NameStr(rel->relname));
		bool		is_table = rel->relkind == RELKIND_RELATION;
		Oid			owner = rel->relowner;

		ReleaseSysCache(reltup);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is not a collection table rillflow made", name),
				 is_table
				 ? errdetail("It is owned by role \"%s\", not by the store's owner \"%s\": rillflow never uses a table another role could have made first.",
							 GetUserNameFromId(owner, false), GetUserNameFromId(store_owner, false))
				 : errdetail("It is not a plain table."),
				 errhint("Check what it holds, then drop it, or rename it out of the way.")));
	}
	ReleaseSysCache(reltup);
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
 * Whether a collection is registered in the store, read without a lock:
 * what a read-only transaction can know of a collection without its table.
 */
static bool
rf_collection_registered(const RfStore *store, const char *collection)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		registered;
	char	   *sql;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sql = psprintf("SELECT FROM %s.collections WHERE name OPERATOR(pg_catalog.=) $1",
				   store->quoted_schema);
	args[0] = CStringGetTextDatum(collection);
	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "collection lookup failed");
	registered = SPI_processed > 0;
	SPI_finish();
	return registered;
}

/* The oid of rillflow._empty_collection (see the file header). */
Oid
rf_empty_collection_relid(void)
{
	Oid			relid = get_relname_relid("_empty_collection",
										  get_namespace_oid("rillflow", false));

	if (!OidIsValid(relid))
		elog(ERROR, "rillflow._empty_collection is missing");
	return relid;
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
	{
		rf_check_collection_table(relid);
		return relid;
	}

	/*
	 * Nothing can be created here (a READ ONLY transaction, a hot standby):
	 * a read of a registered collection reads the empty stand-in; a write
	 * goes on to _ensure_collection, whose INSERT or CREATE fails with
	 * PostgreSQL's own 25006.
	 */
	if (XactReadOnly && !create_if_missing)
	{
		if (rf_collection_registered(store, collection))
			return rf_empty_collection_relid();
		relid = InvalidOid;
	}
	else
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

/*
 * rillflow._check_collection_table(rel regclass) RETURNS void
 *
 * rf_check_collection_table, for the SQL functions that make, change and
 * drop collection tables.
 */
Datum
rillflow_check_collection_table(PG_FUNCTION_ARGS)
{
	rf_check_collection_table(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}
