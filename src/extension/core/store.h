/*-------------------------------------------------------------------------
 *
 * store.h
 *	  The store a call acts on (store.c): the default store or the store of
 *	  the tenant that rillflow.tenant names, and the rules of the names that
 *	  become schema and table names.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_STORE_H
#define RILLFLOW_STORE_H

#include "postgres.h"

/* Schema of the default store, and the prefix of every tenant's store. */
#define RF_DEFAULT_STORE_SCHEMA		"rillflow_default"
#define RF_TENANT_SCHEMA_PREFIX		"rillflow_tenant_"
#define RF_TENANT_NAME_MAXLEN		40
#define RF_TENANT_NAME_HINT \
	"A tenant name is 1 to 40 characters of a-z, 0-9 and _, starting with a letter."

typedef struct RfStore
{
	Oid			schema_oid;
	char		schema_name[NAMEDATALEN];
	const char *quoted_schema;	/* quote_identifier(schema_name), palloc'd in
								 * TopMemoryContext */
} RfStore;

extern const RfStore *rf_current_store(void);
extern void rf_store_by_schema(const char *schema, RfStore *store);
extern bool rf_store_has_log_segments(const RfStore *store);
extern bool rf_lock_store_shared(Oid schema_oid, bool wait);
extern bool rf_tenant_name_is_valid(const char *name);
extern bool rf_simple_name_is_valid(const char *name, size_t maxlen);

#endif							/* RILLFLOW_STORE_H */
