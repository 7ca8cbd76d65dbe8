/*-------------------------------------------------------------------------
 *
 * rillflow.h
 *	  Declarations shared by the C parts of the rillflow extension: the
 *	  domain SQLSTATEs, the settings, and the store lookup.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_H
#define RILLFLOW_H

#include "postgres.h"

#include "fmgr.h"

/*
 * Domain errors, class RF (see docs/sql-reference.md). Clients map each to its
 * own exception type, so a code never changes meaning once released.
 */
#define ERRCODE_RF_VERSION_CONFLICT			MAKE_SQLSTATE('R','F','0','0','1')
#define ERRCODE_RF_IDEMPOTENCY_CONFLICT		MAKE_SQLSTATE('R','F','0','0','2')
#define ERRCODE_RF_DOCUMENT_VERSION_CONFLICT MAKE_SQLSTATE('R','F','0','0','3')
#define ERRCODE_RF_NOT_FOUND				MAKE_SQLSTATE('R','F','0','0','4')
#define ERRCODE_RF_TENANT_NOT_FOUND			MAKE_SQLSTATE('R','F','0','0','5')
#define ERRCODE_RF_LEASE_LOST				MAKE_SQLSTATE('R','F','0','0','6')

/* Schema of the default store, and the prefix of every tenant's store. */
#define RF_DEFAULT_STORE_SCHEMA		"rillflow_default"
#define RF_TENANT_SCHEMA_PREFIX		"rillflow_tenant_"
#define RF_TENANT_NAME_MAXLEN		40
#define RF_TENANT_NAME_HINT \
	"A tenant name is 1 to 40 characters of a-z, 0-9 and _, starting with a letter."

/*
 * First key of the two-key advisory locks rillflow takes ("RFLG"); the second
 * key is the store schema's OID, so each store has its own sequencer lock.
 */
#define RF_SEQUENCER_LOCK_CLASS		0x52464C47

/* Settings (rillflow.c) */
extern char *rf_tenant_setting;
extern bool rf_stream_advisory_locks;

/* Called from _PG_init: each capability defines its settings and hooks. */
extern void rf_documents_init(void);	/* documents_init.c */
extern void rf_worker_init(void);	/* worker.c: settings, shared memory, launcher */

/* The store that rillflow.tenant selects (store.c) */
typedef struct RfStore
{
	Oid			schema_oid;
	char		schema_name[NAMEDATALEN];
	const char *quoted_schema;	/* quote_identifier(schema_name), palloc'd in
								 * TopMemoryContext */
} RfStore;

extern const RfStore *rf_current_store(void);
extern void rf_store_by_schema(const char *schema, RfStore *store);
extern bool rf_tenant_name_is_valid(const char *name);
extern bool rf_simple_name_is_valid(const char *name, size_t maxlen);

/* The sequencer (sequencer.c) */
/* event_input.c: a JSON value's type as a noun, for error messages. */
struct JsonbValue;
extern const char *rf_json_type_name(const struct JsonbValue *v);

extern bool rf_may_sequence_here(void);
extern int64 rf_sequence(const RfStore *store, int64 *head);

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

#endif							/* RILLFLOW_H */
