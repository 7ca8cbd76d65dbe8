/*-------------------------------------------------------------------------
 *
 * function_refs.c
 *	  Function references kept as text: a projection's handler and reset
 *	  function are stored as their signature (regprocedure's output under
 *	  search_path pg_catalog, pg_temp, so schema-qualified), not as an oid.
 *	  pg_upgrade refuses every user table with a regprocedure column (it
 *	  does not keep function oids), and a signature means the same function
 *	  in the new cluster (docs/operations.md).
 *
 *	  rillflow._function_ref(text) turns a signature back into the function,
 *	  NULL when no such function exists (dropped, renamed). Every batch of a
 *	  projection resolves its handler, so the answers are cached per backend
 *	  and the cache is emptied whenever pg_proc, pg_namespace or pg_type
 *	  change (a function dropped, renamed or moved; a schema or an argument
 *	  type renamed), so an answer is never stale.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(rillflow_function_ref);

/* Longest signature that is cached; longer ones are resolved every time. */
#define RF_FUNCTION_REF_KEYLEN	512

typedef struct RfFunctionRef
{
	char		signature[RF_FUNCTION_REF_KEYLEN];	/* hash key */
	Oid			oid;			/* InvalidOid: no such function */
} RfFunctionRef;

static HTAB *rf_function_refs = NULL;
static bool rf_function_refs_callbacks = false;

/* A catalog a signature depends on changed: forget every answer. */
static void
rf_function_refs_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	if (rf_function_refs != NULL)
	{
		hash_destroy(rf_function_refs);
		rf_function_refs = NULL;
	}
}

static Oid
rf_resolve_signature(const char *signature)
{
	/* to_regprocedure: NULL rather than an error for a missing function */
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = CStringGetTextDatum(signature);
	fcinfo->args[0].isnull = false;
	result = to_regprocedure(fcinfo);
	return fcinfo->isnull ? InvalidOid : DatumGetObjectId(result);
}

/*
 * rillflow._function_ref(signature text) RETURNS regprocedure
 *
 * The function a stored signature names, NULL when there is none. Declared
 * with search_path pinned to pg_catalog, pg_temp: the search_path the
 * signature was written under (rillflow._function_ref_text).
 */
Datum
rillflow_function_ref(PG_FUNCTION_ARGS)
{
	char	   *signature = text_to_cstring(PG_GETARG_TEXT_PP(0));
	RfFunctionRef *entry;
	bool		found;
	Oid			oid;

	if (strlen(signature) >= RF_FUNCTION_REF_KEYLEN)
	{
		oid = rf_resolve_signature(signature);
		if (!OidIsValid(oid))
			PG_RETURN_NULL();
		PG_RETURN_OID(oid);
	}
	if (!rf_function_refs_callbacks)
	{
		CacheRegisterSyscacheCallback(PROCOID, rf_function_refs_invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, rf_function_refs_invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, rf_function_refs_invalidate, (Datum) 0);
		rf_function_refs_callbacks = true;
	}
	if (rf_function_refs == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = RF_FUNCTION_REF_KEYLEN;
		ctl.entrysize = sizeof(RfFunctionRef);
		ctl.hcxt = CacheMemoryContext;
		rf_function_refs = hash_create("rillflow function references", 64, &ctl,
									   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	entry = hash_search(rf_function_refs, signature, HASH_FIND, &found);
	if (found)
		oid = entry->oid;
	else
	{
		/* Resolve first: the lookup may invalidate (and destroy) the table. */
		oid = rf_resolve_signature(signature);
		if (rf_function_refs != NULL)
		{
			entry = hash_search(rf_function_refs, signature, HASH_ENTER, &found);
			entry->oid = oid;
		}
	}
	if (!OidIsValid(oid))
		PG_RETURN_NULL();
	PG_RETURN_OID(oid);
}
