/*-------------------------------------------------------------------------
 *
 * worker_launcher.c
 *	  The launcher: one process per cluster, connected to no database (like
 *	  PostgreSQL's logical replication launcher), that reads the shared
 *	  catalog pg_database every naptime and keeps one database worker
 *	  (worker_db.c) per database that may have the extension.
 *
 *	  Only a process connected to a database can see its pg_extension, so the
 *	  launcher starts a worker in every database that allows connections; a
 *	  worker that finds no extension leaves at once, and the launcher
 *	  remembers not to start it again until a CREATE EXTENSION rillflow
 *	  commits somewhere (core/shmem.c counts those) or five minutes pass.
 *
 *	  Workers are dynamic background workers with a restart time, so the
 *	  postmaster restarts one that died; the launcher stops (terminates and
 *	  unregisters) those whose database went away, and all of them when
 *	  rillflow.worker_enabled is turned off.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/shmem.h"
#include "worker/worker.h"

/* How long a database found without the extension is left alone at most. */
#define RF_NO_EXTENSION_RECHECK_MS	(5 * 60 * 1000)

typedef struct RfDatabase
{
	Oid			oid;
	char		name[NAMEDATALEN];
} RfDatabase;

/* A database whose worker found no extension there. */
typedef struct RfNoExtension
{
	Oid			dboid;
	uint64		ext_counter_seen;
	TimestampTz checked_at;
} RfNoExtension;

/* The launcher's own memory: a handle per slot, the databases without it. */
static BackgroundWorkerHandle **rf_handles = NULL;
static List *rf_no_extension = NIL;
static MemoryContext rf_pass_context = NULL;
static bool rf_warned_full = false;
static bool rf_warned_register = false;
static char *rf_warned_role = NULL;

static void
rf_launcher_detach(int code, Datum arg)
{
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	if (rf_shared->launcher_pid == MyProcPid)
		rf_shared->launcher_pid = 0;
	LWLockRelease(rf_shared->lock);
}

/*
 * Become the launcher. Workers started by an earlier launcher (one that
 * died) have handles only it knew, so they are disowned: their slots get a
 * new generation, which makes them leave at their next pass or restart, and
 * each slot is reused once its old worker is gone.
 */
static void
rf_launcher_attach(void)
{
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	rf_shared->launcher_pid = MyProcPid;
	rf_shared->launcher_procno = MyProc->pgprocno;
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		RfDbSlot   *slot = &rf_shared->slots[i];

		if (slot->dboid == InvalidOid && slot->pid == 0)
			continue;
		slot->generation++;
		slot->dboid = InvalidOid;
		slot->state = RF_SLOT_FREE;
		if (slot->pid != 0)
			kill(slot->pid, SIGTERM);
	}
	LWLockRelease(rf_shared->lock);
	on_shmem_exit(rf_launcher_detach, (Datum) 0);
}

/*
 * The databases a worker may connect to: not templates, connections
 * allowed, not left half-dropped. Read from the shared catalog.
 */
static List *
rf_list_databases(Oid *roleoid, bool *role_ok)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext caller = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;
		RfDatabase *entry;

		if (db->datistemplate || !db->datallowconn || database_is_invalid_form(db))
			continue;
		old = MemoryContextSwitchTo(caller);
		entry = palloc(sizeof(RfDatabase));
		entry->oid = db->oid;
		strlcpy(entry->name, NameStr(db->datname), NAMEDATALEN);
		result = lappend(result, entry);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	/* The role the workers connect as; empty: the bootstrap superuser. */
	*roleoid = InvalidOid;
	*role_ok = true;
	if (rf_worker_role != NULL && rf_worker_role[0] != '\0')
	{
		*roleoid = get_role_oid(rf_worker_role, true);
		if (!OidIsValid(*roleoid))
		{
			*role_ok = false;
			if (rf_warned_role == NULL || strcmp(rf_warned_role, rf_worker_role) != 0)
			{
				ereport(WARNING,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("role \"%s\" named by rillflow.worker_role does not exist",
								rf_worker_role),
						 errdetail("No rillflow worker is started until it does."),
						 errhint("Create the role with LOGIN, or reset rillflow.worker_role.")));
				if (rf_warned_role)
					pfree(rf_warned_role);
				rf_warned_role = MemoryContextStrdup(TopMemoryContext, rf_worker_role);
			}
		}
	}
	CommitTransactionCommand();
	return result;
}

static RfDatabase *
rf_find_database(List *databases, Oid dboid)
{
	ListCell   *lc;

	foreach(lc, databases)
	{
		RfDatabase *db = lfirst(lc);

		if (db->oid == dboid)
			return db;
	}
	return NULL;
}

static RfNoExtension *
rf_find_no_extension(Oid dboid)
{
	ListCell   *lc;

	foreach(lc, rf_no_extension)
	{
		RfNoExtension *entry = lfirst(lc);

		if (entry->dboid == dboid)
			return entry;
	}
	return NULL;
}

static void
rf_forget_no_extension(Oid dboid)
{
	RfNoExtension *entry = rf_find_no_extension(dboid);

	if (entry != NULL)
	{
		rf_no_extension = list_delete_ptr(rf_no_extension, entry);
		pfree(entry);
	}
}

/* Free the slots of workers that have stopped for good. */
static void
rf_reap_workers(void)
{
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		pid_t		pid;
		RfDbSlot   *slot = &rf_shared->slots[i];

		if (rf_handles[i] == NULL ||
			GetBackgroundWorkerPid(rf_handles[i], &pid) != BGWH_STOPPED)
			continue;

		LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
		if (slot->state == RF_SLOT_NO_EXTENSION)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
			RfNoExtension *entry = palloc(sizeof(RfNoExtension));

			rf_forget_no_extension(slot->dboid);
			entry->dboid = slot->dboid;
			entry->ext_counter_seen = slot->ext_counter_seen;
			entry->checked_at = GetCurrentTimestamp();
			rf_no_extension = lappend(rf_no_extension, entry);
			MemoryContextSwitchTo(old);
		}
		slot->dboid = InvalidOid;
		slot->state = RF_SLOT_FREE;
		slot->generation++;
		LWLockRelease(rf_shared->lock);
		pfree(rf_handles[i]);
		rf_handles[i] = NULL;
	}
}

/* Whether a database found without the extension should be looked at again. */
static bool
rf_should_probe(Oid dboid, uint64 ext_created)
{
	RfNoExtension *entry = rf_find_no_extension(dboid);

	if (entry == NULL)
		return true;
	if (entry->ext_counter_seen != ext_created ||
		TimestampDifferenceExceeds(entry->checked_at, GetCurrentTimestamp(),
								   RF_NO_EXTENSION_RECHECK_MS))
	{
		rf_forget_no_extension(dboid);
		return true;
	}
	return false;
}

/* Register a worker for a database in a free slot; false when none is free. */
static bool
rf_start_worker(const RfDatabase *db, Oid roleoid)
{
	BackgroundWorker worker;
	RfWorkerArgs args;
	int			slotno = -1;
	MemoryContext old;
	bool		ok;

	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		RfDbSlot   *slot = &rf_shared->slots[i];

		if (slot->dboid == InvalidOid && slot->pid == 0 && rf_handles[i] == NULL)
		{
			slotno = i;
			slot->generation++;
			slot->dboid = db->oid;
			slot->state = RF_SLOT_REGISTERED;
			slot->started_at = 0;
			slot->last_pass_at = 0;
			slot->passes = slot->events_sequenced = slot->events_projected = slot->errors = 0;
			args.epoch = rf_shared->epoch;
			args.generation = slot->generation;
			break;
		}
	}
	LWLockRelease(rf_shared->lock);
	if (slotno < 0)
	{
		if (!rf_warned_full)
			ereport(LOG,
					(errmsg("rillflow: every worker slot is taken (rillflow.max_workers = %d); database \"%s\" waits",
							rf_max_workers, db->name),
					 errhint("Raise rillflow.max_workers (and max_worker_processes) and restart the server.")));
		rf_warned_full = true;
		return false;
	}

	args.slot = slotno;
	args.dboid = db->oid;
	args.roleoid = roleoid;

	rf_worker_prepare(&worker, "rf_db_worker_main", RF_WORKER_TYPE);
	snprintf(worker.bgw_name, BGW_MAXLEN, "rillflow worker for database %s", db->name);
	worker.bgw_main_arg = Int32GetDatum(slotno);
	StaticAssertStmt(sizeof(RfWorkerArgs) <= BGW_EXTRALEN, "worker arguments do not fit in bgw_extra");
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, &rf_handles[slotno]);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
		rf_shared->slots[slotno].dboid = InvalidOid;
		rf_shared->slots[slotno].state = RF_SLOT_FREE;
		LWLockRelease(rf_shared->lock);
		rf_handles[slotno] = NULL;
		if (!rf_warned_register)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("rillflow: could not start a worker for database \"%s\"", db->name),
					 errdetail("Every background worker slot of the server is in use."),
					 errhint("Raise max_worker_processes and restart the server.")));
		rf_warned_register = true;
		return false;
	}
	rf_warned_register = false;
	return true;
}

/*
 * One look at the cluster: free the slots of stopped workers, stop the
 * workers that must not run, start the ones that should.
 */
static void
rf_launcher_pass(void)
{
	List	   *databases;
	Oid			roleoid;
	bool		role_ok;
	uint64		ext_created;
	ListCell   *lc;
	bool		full = false;

	rf_reap_workers();
	databases = rf_list_databases(&roleoid, &role_ok);

	/* Stop what must not run. */
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		Oid			dboid = rf_shared->slots[i].dboid;

		if (rf_handles[i] == NULL)
			continue;
		if (!rf_worker_enabled || !role_ok ||
			rf_find_database(databases, dboid) == NULL || rf_database_paused(dboid))
			TerminateBackgroundWorker(rf_handles[i]);
	}

	/* Databases gone since they were found without the extension. */
	foreach(lc, rf_no_extension)
	{
		RfNoExtension *entry = lfirst(lc);

		if (rf_find_database(databases, entry->dboid) == NULL)
		{
			rf_no_extension = foreach_delete_current(rf_no_extension, lc);
			pfree(entry);
		}
	}

	if (!rf_worker_enabled || !role_ok)
		return;

	LWLockAcquire(rf_shared->lock, LW_SHARED);
	ext_created = rf_shared->ext_created;
	LWLockRelease(rf_shared->lock);

	foreach(lc, databases)
	{
		RfDatabase *db = lfirst(lc);
		bool		has_slot = false;

		for (int i = 0; i < rf_shared->nslots; i++)
			if (rf_handles[i] != NULL && rf_shared->slots[i].dboid == db->oid)
				has_slot = true;
		if (has_slot || rf_database_paused(db->oid) || !rf_should_probe(db->oid, ext_created))
			continue;
		if (!rf_start_worker(db, roleoid))
		{
			full = true;
			break;
		}
	}
	if (!full)
		rf_warned_full = false;
}

/*
 * Entry point of the launcher (registered in worker.c).
 */
void
rf_launcher_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* No database: the launcher reads only shared catalogs. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname(RF_LAUNCHER_TYPE);

	rf_handles = MemoryContextAllocZero(TopMemoryContext,
										sizeof(BackgroundWorkerHandle *) * rf_shared->nslots);
	rf_pass_context = AllocSetContextCreate(TopMemoryContext, "rillflow launcher pass",
											ALLOCSET_DEFAULT_SIZES);
	rf_launcher_attach();
	ereport(LOG, (errmsg("rillflow launcher started")));

	for (;;)
	{
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		pgstat_report_activity(STATE_RUNNING, "looking for databases");
		old = MemoryContextSwitchTo(rf_pass_context);
		rf_launcher_pass();
		MemoryContextSwitchTo(old);
		MemoryContextReset(rf_pass_context);
		/* What the launcher last saw, for scripts that wait for it. */
		pgstat_report_activity(STATE_IDLE, rf_worker_enabled ? "waiting" : "disabled");

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 rf_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
