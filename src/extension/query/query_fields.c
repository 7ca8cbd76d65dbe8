/*-------------------------------------------------------------------------
 *
 * query_fields.c
 *	  A collection as doc_query sees it: its table and its duplicated fields
 *	  (rows of <store>.duplicated_fields), cached per backend.
 *
 *	  Adding or dropping a duplicated field alters the collection's table
 *	  (a column, an index), and every ALTER sends a relcache invalidation for
 *	  it, to this backend at its next command and to the others at their
 *	  next transaction. So the cache is keyed by the table's OID and an entry
 *	  is dropped when its table's relcache entry is invalidated; a full reset
 *	  (InvalidOid) drops them all. A hit costs one hash lookup instead of a
 *	  query on duplicated_fields per call.
 *
 *	  A field is used only when the catalog agrees with its row: the column
 *	  exists, its type is one the builder knows, and its transform is a
 *	  chain of the whitelisted text functions over {value}. Anything else is
 *	  ignored, and predicates on its path read the document instead, which
 *	  is always correct, only slower.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/store.h"
#include "documents/collections.h"
#include "query/query.h"

typedef struct RfFieldsEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	MemoryContext cxt;
	RfQueryCollection coll;
} RfFieldsEntry;

static HTAB *rf_fields_cache = NULL;

/* Counters for the cache (rillflow._query_cache_stats). */
uint64		rf_fields_cache_hits = 0;
uint64		rf_fields_cache_misses = 0;

static void
rf_fields_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	RfFieldsEntry *entry;

	if (rf_fields_cache == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(rf_fields_cache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->valid = false;
		return;
	}
	hash_seq_init(&status, rf_fields_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

/* Set up the cache; on first use, once per backend. */
void
rf_query_fields_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RfFieldsEntry);
	rf_fields_cache = hash_create("rillflow duplicated fields", 32, &ctl, HASH_ELEM | HASH_BLOBS);
	CacheRegisterRelcacheCallback(rf_fields_invalidate, (Datum) 0);
}

static bool
rf_field_type_supported(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT8OID:
		case BOOLOID:
		case TIMESTAMPTZOID:
		case UUIDOID:
			return true;
		default:
			return false;
	}
}

/* Read the collection's duplicated fields into entry (SPI connected). */
static void
rf_load_fields(const RfStore *store, const char *name, RfFieldsEntry *entry)
{
	MemoryContext old;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			n = 0;

	if (entry->cxt == NULL)
		entry->cxt = AllocSetContextCreate(CacheMemoryContext, "rillflow duplicated fields",
										   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(entry->cxt);
	memset(&entry->coll, 0, sizeof(entry->coll));

	if (OidIsValid(get_relname_relid("duplicated_fields", store->schema_oid)))
	{
		char	   *sql = psprintf("SELECT path, column_name::pg_catalog.text, transform "
								   "FROM %s.duplicated_fields WHERE collection OPERATOR(pg_catalog.=) $1 "
								   "ORDER BY column_name", store->quoted_schema);

		args[0] = CStringGetTextDatum(name);
		if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading duplicated fields failed");
		n = SPI_processed;
	}

	old = MemoryContextSwitchTo(entry->cxt);
	entry->coll.relid = entry->relid;
	/* the table's own schema: a read-only read may get rillflow's stand-in */
	entry->coll.table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(entry->relid)),
												   get_rel_name(entry->relid));
	entry->coll.fields = palloc0(sizeof(RfDupField) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *path = SPI_getvalue(tup, desc, 1);
		char	   *column = SPI_getvalue(tup, desc, 2);
		char	   *transform = SPI_getvalue(tup, desc, 3);
		RfDupField *f = &entry->coll.fields[entry->coll.nfields];
		AttrNumber	attnum;

		if (path == NULL || column == NULL || rf_parse_doc_path(path, &f->doc) != NULL)
			continue;
		attnum = get_attnum(entry->relid, column);
		if (attnum == InvalidAttrNumber)
			continue;
		f->typid = get_atttype(entry->relid, attnum);
		if (!rf_field_type_supported(f->typid))
			continue;
		if (transform != NULL)
		{
			f->ntransforms = rf_parse_transform(transform, f->transforms);
			if (f->ntransforms < 0 || (f->typid != TEXTOID && f->typid != VARCHAROID))
				continue;
		}
		f->path = pstrdup(path);
		f->column = pstrdup(quote_identifier(column));
		entry->coll.nfields++;
	}
	MemoryContextSwitchTo(old);
	entry->valid = true;
}

/*
 * The collection named in the current store, with its duplicated fields.
 * RF004 when it does not exist; SPI must be connected.
 */
RfQueryCollection *
rf_query_collection(const RfStore *store, const char *name)
{
	Oid			relid = rf_collection_relid(store, name, false);
	RfFieldsEntry *entry;
	bool		found;

	if (rf_fields_cache == NULL)
		rf_query_fields_init();
	entry = hash_search(rf_fields_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->cxt = NULL;
	}
	if (entry->valid)
		rf_fields_cache_hits++;
	else
	{
		rf_fields_cache_misses++;
		PG_TRY();
		{
			rf_load_fields(store, name, entry);
		}
		PG_CATCH();
		{
			entry->valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return &entry->coll;
}
