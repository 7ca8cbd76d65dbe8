/*-------------------------------------------------------------------------
 *
 * store_load.c
 *	  Keeps a store's sequencer and projections still while a session loads
 *	  the store's tables.
 *
 *	  A restore (pg_restore, with or without -j, or psql running a plain dump)
 *	  creates the extension, then copies a store's events, log_state and
 *	  positions, each in a transaction of its own (pg_restore runs every COPY
 *	  in autocommit, unless --single-transaction; -j runs them in several
 *	  sessions, in any order). A tick in between would stamp the restored
 *	  events anew or seed the state row the copy then collides with; a
 *	  projection run would apply events to a read model whose rows are still
 *	  on their way.
 *
 *	  So a COPY FROM into a store's own tables (not its collections, which
 *	  hold plain user data), by the store's owner or a superuser, marks that
 *	  store in shared memory before its first row:
 *	  - every such COPY holds the store's ticks and projections until its
 *	    transaction ends;
 *	  - a COPY of the log's own tables (log_segments, log_state, or events with
 *	    their seq or tx given, as a dump gives them) leaves the store's log
 *	    incomplete until the other two arrive. At commit it holds the store's
 *	    ticks until a tick finds the log whole again (log_state there, the
 *	    positions 1..head, each naming an event: sequencer.c) and the store's
 *	    projections until the session ends, as pg_restore and its -j workers
 *	    keep their sessions for the whole restore.
 *	  A role that does not own the store holds nothing still (its COPY may
 *	  well succeed: INSERT is a writer's right, holding the log is not), and
 *	  nothing holds another store or outlives the session. The worker goes on
 *	  with the other stores, and is woken when a hold ends. See docs/worker.md,
 *	  "Restores".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "core/shmem.h"
#include "core/store.h"
#include "documents/collections.h"
#include "events/store_load.h"
#include "worker/worker.h"

/* Whether this backend has entries in rf_loads. */
static bool rf_loading = false;
static bool rf_load_callbacks_registered = false;

/* Whether a schema name is one of a store's: the default one or a tenant's. */
static bool
rf_is_store_schema(const char *schema)
{
	return strcmp(schema, RF_DEFAULT_STORE_SCHEMA) == 0 ||
		strncmp(schema, RF_TENANT_SCHEMA_PREFIX, strlen(RF_TENANT_SCHEMA_PREFIX)) == 0;
}

/*
 * Whether a COPY into a store's table loads the log itself: log_segments
 * (positions, before store step 12) and log_state always do; events do
 * when the COPY gives seq or tx (a dump lists every column), not when they
 * take their defaults as an append would.
 */
static bool
rf_copy_loads_log(const char *relname, List *attlist)
{
	ListCell   *lc;

	if (strcmp(relname, "log_segments") == 0 || strcmp(relname, "positions") == 0 ||
		strcmp(relname, "log_state") == 0)
		return true;
	/* the archive's relations hold events too (archive/archive.c) */
	if (strcmp(relname, "events") != 0 && strcmp(relname, "events_archive") != 0 &&
		strcmp(relname, "events_hot") != 0)
		return false;
	if (attlist == NIL)
		return true;
	foreach(lc, attlist)
	{
		const char *col = strVal(lfirst(lc));

		if (strcmp(col, "seq") == 0 || strcmp(col, "tx") == 0)
			return true;
	}
	return false;
}

static RfLoad *
rf_my_loads(void)
{
	return &rf_loads[MyProc->pgprocno * RF_LOADS_PER_BACKEND];
}

/* Free the entries of this backend that hold nothing; caller holds the lock. */
static void
rf_free_empty_loads(RfLoad *mine)
{
	rf_loading = false;
	for (int i = 0; i < RF_LOADS_PER_BACKEND; i++)
	{
		if (!OidIsValid(mine[i].dboid))
			continue;
		if (mine[i].hold == 0)
		{
			mine[i].dboid = InvalidOid;
			mine[i].store = InvalidOid;
			rf_shared->nloads--;
		}
		else
			rf_loading = true;
	}
}

/*
 * At the end of the loading transaction: its RF_HOLD_XACT goes; a committed
 * load of the log keeps the store's log (until whole) and projections (until
 * the session ends). A prepared transaction counts as committed: its rows
 * may become visible at any COMMIT PREPARED.
 */
static void
rf_load_xact_callback(XactEvent event, void *arg)
{
	RfLoad	   *mine;
	bool		committed;

	if (!rf_loading)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			committed = true;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			committed = false;
			break;
		default:
			return;
	}
	mine = rf_my_loads();
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RF_LOADS_PER_BACKEND; i++)
	{
		if (!OidIsValid(mine[i].dboid))
			continue;
		if (committed && (mine[i].hold & RF_HOLD_RESTORE))
			mine[i].hold |= RF_HOLD_LOG | RF_HOLD_PROJECTIONS;
		mine[i].hold &= ~(RF_HOLD_XACT | RF_HOLD_RESTORE);
	}
	rf_free_empty_loads(mine);
	LWLockRelease(rf_shared->lock);
	rf_wake_db_worker(MyDatabaseId);
}

/* before_shmem_exit: every hold of this backend ends with it. */
static void
rf_load_exit(int code, Datum arg)
{
	RfLoad	   *mine;

	if (!rf_loading)
		return;
	mine = rf_my_loads();
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RF_LOADS_PER_BACKEND; i++)
		mine[i].hold = 0;
	rf_free_empty_loads(mine);
	LWLockRelease(rf_shared->lock);
	rf_wake_db_worker(MyDatabaseId);
}

/*
 * Mark a store of this database as loaded by this backend. The mark is
 * written (under the lock, which orders it) before the load's first row, so
 * a tick whose snapshot sees loaded rows also sees the mark. A backend that
 * loads more stores than it has entries holds every store of the database
 * with its last entry.
 */
static void
rf_mark_store_loading(Oid store, bool restore)
{
	RfLoad	   *mine = rf_my_loads();
	uint32		hold = RF_HOLD_XACT | (restore ? RF_HOLD_RESTORE : 0);
	RfLoad	   *entry = NULL;

	if (!rf_load_callbacks_registered)
	{
		RegisterXactCallback(rf_load_xact_callback, NULL);
		before_shmem_exit(rf_load_exit, (Datum) 0);
		rf_load_callbacks_registered = true;
	}
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RF_LOADS_PER_BACKEND && entry == NULL; i++)
		if (mine[i].dboid == MyDatabaseId && mine[i].store == store)
			entry = &mine[i];
	for (int i = 0; i < RF_LOADS_PER_BACKEND && entry == NULL; i++)
		if (!OidIsValid(mine[i].dboid))
		{
			entry = &mine[i];
			entry->dboid = MyDatabaseId;
			entry->store = store;
			entry->hold = 0;
			rf_shared->nloads++;
		}
	if (entry == NULL)
	{
		entry = &mine[RF_LOADS_PER_BACKEND - 1];
		entry->store = InvalidOid;
	}
	entry->hold |= hold;
	rf_loading = true;
	LWLockRelease(rf_shared->lock);
}

void
rf_note_store_load(Node *parsetree)
{
	CopyStmt   *copy;
	Oid			relid;
	Oid			nsp;
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
	nsp = get_rel_namespace(relid);
	schema = get_namespace_name(nsp);
	relname = get_rel_name(relid);
	if (schema == NULL || relname == NULL || !rf_is_store_schema(schema) ||
		strncmp(relname, RF_COLLECTION_TABLE_PREFIX, strlen(RF_COLLECTION_TABLE_PREFIX)) == 0)
		return;

	/*
	 * Only the store's owner (or a superuser) holds its log still: a writer
	 * with INSERT on a store table may copy rows into it, but must not stop
	 * the log, nor another store's.
	 */
	if (!pg_namespace_ownercheck(nsp, GetUserId()))
		return;
	rf_mark_store_loading(nsp, rf_copy_loads_log(relname, copy->attlist));
}

uint32
rf_store_load_hold(Oid dboid, Oid store, pid_t *pid)
{
	uint32		hold = 0;
	int			n;

	if (rf_shared == NULL)
		return 0;
	/* Every tick and read asks: without a load anywhere, one read answers. */
	pg_memory_barrier();
	if (rf_shared->nloads == 0)
		return 0;
	n = MaxBackends * RF_LOADS_PER_BACKEND;
	LWLockAcquire(rf_shared->lock, LW_SHARED);
	for (int i = 0; i < n; i++)
	{
		RfLoad	   *e = &rf_loads[i];

		if (e->dboid != dboid || e->hold == 0 ||
			(OidIsValid(store) && OidIsValid(e->store) && e->store != store))
			continue;
		hold |= e->hold;
		if (pid != NULL)
			*pid = ProcGlobal->allProcs[i / RF_LOADS_PER_BACKEND].pid;
	}
	LWLockRelease(rf_shared->lock);
	return hold;
}

void
rf_release_log_hold(Oid dboid, Oid store)
{
	int			n = MaxBackends * RF_LOADS_PER_BACKEND;

	if (rf_shared == NULL)
		return;
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
	{
		RfLoad	   *e = &rf_loads[i];

		/* An entry for every store (an overflow) is held to the session's end. */
		if (e->dboid == dboid && e->store == store)
			e->hold &= ~RF_HOLD_LOG;

		/*
		 * An entry left with no hold stays allocated: only its backend frees
		 * its entries (at its transaction's end or exit), so it never finds
		 * one taken from under it.
		 */
	}
	LWLockRelease(rf_shared->lock);
}
