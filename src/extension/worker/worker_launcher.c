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
 *	  Databases known to have the extension (a worker found it, or CREATE
 *	  EXTENSION committed there: RfShared.known) come first; the others are
 *	  probed only with a slot to spare, and silently. When the known
 *	  databases outnumber the slots a worker can get (rillflow.max_workers,
 *	  or max_worker_processes), they take turns, as autovacuum's databases
 *	  do: the launcher asks workers that have run rillflow.worker_time_slice
 *	  to leave after their pass (yield_requested), and gives each freed slot
 *	  to the database that was served longest ago. So every database is
 *	  served within about (databases / slots) time slices, and worker_status
 *	  shows each one running, rotating or waiting for a slot.
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

/* The known-database entry of dboid, or NULL; the caller holds the lock. */
static RfKnownDb *
rf_known(Oid dboid)
{
	for (int i = 0; i < RF_MAX_KNOWN_DBS; i++)
		if (rf_shared->known[i].dboid == dboid)
			return &rf_shared->known[i];
	return NULL;
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
		{
			RfKnownDb  *known = rf_known(slot->dboid);

			/* its turn ended now; a database without the extension is forgotten */
			if (known != NULL && slot->state == RF_SLOT_NO_EXTENSION)
				known->dboid = InvalidOid;
			else if (known != NULL && slot->state != RF_SLOT_REGISTERED)
				known->last_served_at = GetCurrentTimestamp();
		}
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
		slot->yield_requested = false;
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

/*
 * Register a worker for a database in a free slot; false when none is free.
 * A probe (a database not known to have the extension) that finds none is
 * not worth a message: it is tried again when a slot is free.
 */
static bool
rf_start_worker(const RfDatabase *db, Oid roleoid, bool probe)
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
			slot->yield_requested = false;
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
		if (!rf_warned_full && !probe)
		{
			ereport(LOG,
					(errmsg("rillflow: every worker slot is taken (rillflow.max_workers = %d); database \"%s\" waits for its turn",
							rf_max_workers, db->name),
					 errhint("Raise rillflow.max_workers (and max_worker_processes) and restart the server.")));
			rf_warned_full = true;
		}
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
		rf_shared->slots_short = true;	/* a hint for CREATE EXTENSION's warning */
		if (!rf_warned_register && !probe)
		{
			ereport(LOG,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("rillflow: no background worker slot for database \"%s\"; it waits for its turn", db->name),
					 errdetail("Every background worker slot of the server is in use; the databases with the extension take turns."),
					 errhint("Raise max_worker_processes and restart the server.")));
			rf_warned_register = true;
		}
		return false;
	}
	rf_shared->slots_short = false;
	rf_warned_register = false;
	return true;
}

/* A database that has no worker and should get one. */
typedef struct RfCandidate
{
	RfDatabase *db;
	bool		known;			/* known to have the extension; else a probe */
	TimestampTz last_served_at;
} RfCandidate;

/* How many databases waited for a slot in the last pass. */
static int	rf_waiting = 0;

/* Known databases first, served longest ago first; then the probes. */
static int
rf_candidate_cmp(const ListCell *a, const ListCell *b)
{
	const RfCandidate *ca = lfirst(a);
	const RfCandidate *cb = lfirst(b);

	if (ca->known != cb->known)
		return ca->known ? -1 : 1;
	if (ca->last_served_at != cb->last_served_at)
		return ca->last_served_at < cb->last_served_at ? -1 : 1;
	return 0;
}

/*
 * The databases without a worker that should get one, in the order they
 * get slots: a database known to have the extension before any probe, and
 * among them the one served longest ago (never served: first).
 */
static List *
rf_turn_order(List *databases, uint64 ext_created)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, databases)
	{
		RfDatabase *db = lfirst(lc);
		RfCandidate *c;
		RfKnownDb  *known;
		bool		has_slot = false;

		for (int i = 0; i < rf_shared->nslots; i++)
			if (rf_handles[i] != NULL && rf_shared->slots[i].dboid == db->oid)
				has_slot = true;
		if (has_slot || rf_database_paused(db->oid))
			continue;
		c = palloc0(sizeof(RfCandidate));
		c->db = db;
		LWLockAcquire(rf_shared->lock, LW_SHARED);
		known = rf_known(db->oid);
		if (known != NULL)
		{
			c->known = true;
			c->last_served_at = known->last_served_at;
		}
		LWLockRelease(rf_shared->lock);
		if (!c->known && !rf_should_probe(db->oid, ext_created))
			continue;
		result = lappend(result, c);
	}
	list_sort(result, rf_candidate_cmp);
	return result;
}

/* Mark a known database as waiting for a slot, or not. */
static void
rf_set_waiting_db(Oid dboid, bool waiting)
{
	RfKnownDb  *known;

	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	known = rf_known(dboid);
	if (known != NULL)
	{
		if (waiting && !known->waiting)
			known->waiting_since = GetCurrentTimestamp();
		if (!waiting)
			known->waiting_since = 0;
		known->waiting = waiting;
	}
	LWLockRelease(rf_shared->lock);
}

/*
 * n databases wait for a slot: ask as many running workers (those that have
 * run a time slice, longest first, and were not asked yet) to leave after
 * their pass, and wake them so a napping worker leaves now. The slots they
 * free go to the waiting databases at the launcher's next pass (a worker's
 * exit wakes it: bgw_notify_pid).
 */
static void
rf_request_turns(int n)
{
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < rf_shared->nslots; i++)
		if (rf_handles[i] != NULL && rf_shared->slots[i].yield_requested)
			n--;
	while (n > 0)
	{
		int			oldest = -1;

		for (int i = 0; i < rf_shared->nslots; i++)
		{
			RfDbSlot   *slot = &rf_shared->slots[i];

			if (rf_handles[i] == NULL || slot->state != RF_SLOT_RUNNING || slot->yield_requested ||
				slot->started_at == 0 ||
				!TimestampDifferenceExceeds(slot->started_at, now, rf_worker_time_slice_ms))
				continue;
			if (oldest < 0 || slot->started_at < rf_shared->slots[oldest].started_at)
				oldest = i;
		}
		if (oldest < 0)
			break;
		rf_shared->slots[oldest].yield_requested = true;
		if (rf_shared->slots[oldest].pid != 0)
			SetLatch(&ProcGlobal->allProcs[rf_shared->slots[oldest].procno].procLatch);
		n--;
	}
	LWLockRelease(rf_shared->lock);
}

/*
 * One look at the cluster: free the slots of stopped workers, stop the
 * workers that must not run, start the ones that should, and when some
 * databases wait for a slot, ask for turns.
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

	/*
	 * Known databases that went away are forgotten; the ones served now are
	 * served as of now.
	 */
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RF_MAX_KNOWN_DBS; i++)
	{
		RfKnownDb  *known = &rf_shared->known[i];

		if (OidIsValid(known->dboid) && rf_find_database(databases, known->dboid) == NULL)
			known->dboid = InvalidOid;
	}
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		RfKnownDb  *known;

		if (rf_handles[i] == NULL || rf_shared->slots[i].state != RF_SLOT_RUNNING)
			continue;
		known = rf_known(rf_shared->slots[i].dboid);
		if (known != NULL)
		{
			known->last_served_at = GetCurrentTimestamp();
			known->waiting = false;
			known->waiting_since = 0;
		}
	}
	ext_created = rf_shared->ext_created;
	LWLockRelease(rf_shared->lock);

	if (!rf_worker_enabled || !role_ok)
		return;

	rf_waiting = 0;
	foreach(lc, rf_turn_order(databases, ext_created))
	{
		RfCandidate *c = lfirst(lc);

		if (!full && rf_start_worker(c->db, roleoid, !c->known))
		{
			if (c->known)
				rf_set_waiting_db(c->db->oid, false);
			continue;
		}
		full = true;
		rf_waiting++;
		if (c->known)
			rf_set_waiting_db(c->db->oid, true);
	}
	if (!full)
		rf_warned_full = false;
	if (rf_waiting > 0)
		rf_request_turns(rf_waiting);
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

		/* Databases waiting for their turn: look again within a time slice. */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 rf_waiting > 0 ? Min(rf_naptime_ms, rf_worker_time_slice_ms) : rf_naptime_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
