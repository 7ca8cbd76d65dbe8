/*-------------------------------------------------------------------------
 *
 * store_load.c
 *	  Keeps the sequencer and the projections still while a session loads a
 *	  store's tables.
 *
 *	  A restore (pg_restore, with or without -j, or psql running a plain dump)
 *	  creates the extension, then copies a store's events, log_state and
 *	  positions, each in a transaction of its own. A tick in between, by the
 *	  worker or by any reader, would stamp the restored events anew or seed
 *	  the state row the copy then collides with; a projection run would apply
 *	  events to a read model whose rows are still on their way.
 *
 *	  So a COPY FROM into a store's own tables (not its collections, which
 *	  hold plain user data) marks the database in shared memory until the
 *	  session ends: pg_restore and psql keep their connections for the whole
 *	  restore, and -j workers theirs until the last item is done. Ticks and
 *	  the worker's passes skip a marked database; the worker shows in
 *	  pg_stat_activity whom it waits for, and is woken when that session
 *	  leaves. See docs/worker.md, "Restores".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "core/shmem.h"
#include "core/store.h"
#include "documents/collections.h"
#include "events/store_load.h"
#include "worker/worker.h"

/* Whether a schema name is one of a store's: the default one or a tenant's. */
static bool
rf_is_store_schema(const char *schema)
{
	return strcmp(schema, RF_DEFAULT_STORE_SCHEMA) == 0 ||
		strncmp(schema, RF_TENANT_SCHEMA_PREFIX, strlen(RF_TENANT_SCHEMA_PREFIX)) == 0;
}

void
rf_note_store_load(Node *parsetree)
{
	CopyStmt   *copy;
	Oid			relid;
	char	   *schema;
	char	   *relname;

	if (rf_shared == NULL || !IsA(parsetree, CopyStmt))
		return;
	copy = (CopyStmt *) parsetree;
	if (!copy->is_from || copy->relation == NULL)
		return;

	/* COPY itself reports a missing table; no lock is needed to look. */
	relid = RangeVarGetRelid(copy->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	schema = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	if (schema == NULL || relname == NULL || !rf_is_store_schema(schema) ||
		strncmp(relname, RF_COLLECTION_TABLE_PREFIX, strlen(RF_COLLECTION_TABLE_PREFIX)) == 0)
		return;

	/*
	 * Only a role that may write the table holds the log still: an attempt
	 * that COPY will refuse must not stall the database's worker.
	 */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		return;
	rf_mark_database_loading();
}
