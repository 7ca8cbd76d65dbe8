/*-------------------------------------------------------------------------
 *
 * store.c
 *	  Which store a call acts on: the default store, or the store of the
 *	  tenant named by the setting rillflow.tenant.
 *
 *	  A tenant's store is the schema recorded for it in rillflow.tenants. The
 *	  answer is cached per backend and rechecked against the system catalog
 *	  on every call, so a dropped and re-created tenant is never served from a
 *	  stale entry.
 *
 *	  Every call that resolves a store takes a share lock on the store's
 *	  schema (as PostgreSQL does for a schema it creates an object in), held
 *	  to the end of the transaction. drop_tenant takes the exclusive lock
 *	  first (rillflow._lock_store), so a call either resolved the store before
 *	  the drop began, and the drop waits for its transaction and then sees what
 *	  it wrote, or waits for the drop and then fails with RF005: never a call
 *	  that writes into a store being dropped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "core/args.h"
#include "core/errcodes.h"
#include "core/settings.h"
#include "core/store.h"

PG_FUNCTION_INFO_V1(rillflow_current_store);
PG_FUNCTION_INFO_V1(rillflow_tenant_schema);
PG_FUNCTION_INFO_V1(rillflow_lock_store);

static RfStore rf_cached_store;
static char rf_cached_tenant[RF_TENANT_NAME_MAXLEN + 1];
static bool rf_cache_valid = false;

/*
 * A tenant name is 1 to RF_TENANT_NAME_MAXLEN characters of a-z, 0-9 and _,
 * starting with a letter: it becomes part of a schema name, so it must stay
 * short enough and never need quoting to be read by a person.
 */
bool
rf_tenant_name_is_valid(const char *name)
{
	return rf_simple_name_is_valid(name, RF_TENANT_NAME_MAXLEN);
}

/*
 * 1 to maxlen characters of a-z, 0-9 and _, starting with a letter: the rule
 * for the names rillflow turns into schema and table names (tenants,
 * collections), which then never need quoting to be read by a person.
 */
bool
rf_simple_name_is_valid(const char *name, size_t maxlen)
{
	size_t		len = strlen(name);

	if (len == 0 || len > maxlen)
		return false;
	if (name[0] < 'a' || name[0] > 'z')
		return false;
	for (size_t i = 1; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* The schema recorded for a tenant in rillflow.tenants, or NULL. */
static char *
rf_lookup_tenant_schema(const char *tenant)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char	   *result = NULL;
	int			ret;

	args[0] = CStringGetTextDatum(tenant);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("SELECT schema_name::pg_catalog.text FROM rillflow.tenants "
								"WHERE name OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "tenant lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		result = MemoryContextStrdup(TopMemoryContext, value);
	}
	SPI_finish();
	return result;
}

/*
 * Whether a store's log is kept in segments (store step 12,
 * 0012_log_segments.sql); before it, in the positions table.
 */
bool
rf_store_has_log_segments(const RfStore *store)
{
	return OidIsValid(get_relname_relid("log_segments", store->schema_oid));
}

/*
 * Share-lock a store's schema to the end of the transaction, and whether it
 * is still there once locked (a drop that held the lock has committed).
 * Locking reads the invalidations that arrived while it waited, so the
 * syscache answers for the state after the drop. Without wait (the worker,
 * which must not stall every store behind one drop in an open transaction),
 * false as well when a drop holds the lock now.
 */
bool
rf_lock_store_shared(Oid schema_oid, bool wait)
{
	if (wait)
		LockDatabaseObject(NamespaceRelationId, schema_oid, 0, AccessShareLock);
	else if (!ConditionalLockDatabaseObject(NamespaceRelationId, schema_oid, 0, AccessShareLock))
		return false;
	return SearchSysCacheExists1(NAMESPACEOID, ObjectIdGetDatum(schema_oid));
}

/* RF005 for a tenant dropped while this call waited for its store. */
static void
rf_tenant_dropped(const char *tenant)
{
	rf_cache_valid = false;
	ereport(ERROR,
			(errcode(ERRCODE_RF_TENANT_NOT_FOUND),
			 errmsg("tenant \"%s\" does not exist", tenant),
			 errdetail("The tenant was dropped while this call waited for its store."),
			 errhint("Create it with rillflow.ensure_tenant('%s'), or reset rillflow.tenant.",
					 tenant)));
}

/*
 * The store that rillflow.tenant selects now. Raises RF005 for a tenant that
 * has no store (or, with rillflow.tenant_required on, for no tenant at all),
 * and 55000 when the store's schema has gone missing. The store's schema is
 * share-locked to the end of the transaction (see the file header).
 */
const RfStore *
rf_current_store(void)
{
	const char *tenant = rf_tenant_setting ? rf_tenant_setting : "";
	char	   *schema;
	Oid			schema_oid;

	if (tenant[0] == '\0' && rf_tenant_required)
		ereport(ERROR,
				(errcode(ERRCODE_RF_TENANT_NOT_FOUND),
				 errmsg("tenant required"),
				 errdetail("rillflow.tenant_required is on and rillflow.tenant is empty, "
						   "so this call would have used the default store."),
				 errhint("SET rillflow.tenant to the tenant this call is for; "
						 "SET rillflow.tenant_required = off to use the default store on purpose.")));

	if (rf_cache_valid &&
		strcmp(rf_cached_tenant, tenant) == 0 &&
		SearchSysCacheExists1(NAMESPACEOID, ObjectIdGetDatum(rf_cached_store.schema_oid)))
	{
		if (!rf_lock_store_shared(rf_cached_store.schema_oid, true))
			rf_tenant_dropped(tenant);
		return &rf_cached_store;
	}

	rf_cache_valid = false;
	if (tenant[0] == '\0')
		schema = MemoryContextStrdup(TopMemoryContext, RF_DEFAULT_STORE_SCHEMA);
	else
	{
		schema = rf_lookup_tenant_schema(tenant);
		if (schema == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_RF_TENANT_NOT_FOUND),
					 errmsg("tenant \"%s\" does not exist", tenant),
					 errdetail("The setting rillflow.tenant names a tenant that has no store."),
					 errhint("Create it with rillflow.ensure_tenant('%s'), or reset rillflow.tenant.",
							 tenant)));
	}

	schema_oid = get_namespace_oid(schema, true);
	if (!OidIsValid(schema_oid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the store schema \"%s\" does not exist", schema),
				 errdetail("rillflow's catalog names a store whose schema has been dropped."),
				 errhint(tenant[0] == '\0'
						 ? "Recreate the extension to recreate the default store."
						 : "Restore the schema from a backup.")));

	if (!rf_lock_store_shared(schema_oid, true))
	{
		if (tenant[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the store schema \"%s\" does not exist", schema),
					 errdetail("It was dropped while this call waited for it.")));
		rf_tenant_dropped(tenant);
	}

	rf_cached_store.schema_oid = schema_oid;
	strlcpy(rf_cached_store.schema_name, schema, NAMEDATALEN);
	if (rf_cached_store.quoted_schema != NULL)
		pfree((void *) rf_cached_store.quoted_schema);
	rf_cached_store.quoted_schema = MemoryContextStrdup(TopMemoryContext, quote_identifier(schema));
	strlcpy(rf_cached_tenant, tenant, sizeof(rf_cached_tenant));
	pfree(schema);
	rf_cache_valid = true;
	return &rf_cached_store;
}

/*
 * The store in the given schema, for callers that name it (the sequencer's
 * SQL entry point); the schema must exist.
 */
void
rf_store_by_schema(const char *schema, RfStore *store)
{
	store->schema_oid = get_namespace_oid(schema, false);
	strlcpy(store->schema_name, schema, NAMEDATALEN);
	store->quoted_schema = quote_identifier(store->schema_name);
}

/*
 * rillflow.current_store() RETURNS name
 */
Datum
rillflow_current_store(PG_FUNCTION_ARGS)
{
	const RfStore *store = rf_current_store();
	Name		result = (Name) palloc0(NAMEDATALEN);

	namestrcpy(result, store->schema_name);
	PG_RETURN_NAME(result);
}

/*
 * rillflow._tenant_schema(name text) RETURNS name
 *
 * The schema of the named tenant's store, after checking the name: the one
 * place the tenant name rule and the schema naming live for SQL callers.
 */
Datum
rillflow_tenant_schema(PG_FUNCTION_ARGS)
{
	char	   *tenant;
	Name		result;

	rf_require_arg(fcinfo, 0, "tenant name", NULL);
	tenant = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!rf_tenant_name_is_valid(tenant))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid tenant name %s", rf_quote_arg(tenant, 64)),
				 errhint(RF_TENANT_NAME_HINT)));
	result = (Name) palloc0(NAMEDATALEN);
	snprintf(NameStr(*result), NAMEDATALEN, "%s%s", RF_TENANT_SCHEMA_PREFIX, tenant);
	PG_RETURN_NAME(result);
}

/*
 * rillflow._lock_store(store name) RETURNS boolean
 *
 * Lock a store's schema exclusively to the end of the transaction, after
 * every call that resolved the store (rf_current_store) has ended, and
 * before any new one goes on: drop_tenant takes it before it looks at what
 * the store holds. Only the schema's owner (a member of that role, or a
 * superuser) may: 42501. False when there is no such schema.
 */
Datum
rillflow_lock_store(PG_FUNCTION_ARGS)
{
	char	   *schema;
	Oid			schema_oid;

	rf_require_arg(fcinfo, 0, "store", NULL);
	schema = NameStr(*PG_GETARG_NAME(0));
	schema_oid = get_namespace_oid(schema, true);
	if (!OidIsValid(schema_oid))
		PG_RETURN_BOOL(false);
	if (!pg_namespace_ownercheck(schema_oid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_SCHEMA, schema);
	LockDatabaseObject(NamespaceRelationId, schema_oid, 0, AccessExclusiveLock);
	PG_RETURN_BOOL(SearchSysCacheExists1(NAMESPACEOID, ObjectIdGetDatum(schema_oid)));
}
