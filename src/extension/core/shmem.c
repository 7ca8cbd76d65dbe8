/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  rillflow's shared memory (see shmem.h) and the wake-ups sent at commit:
 *	  an appending transaction sets its database worker's latch, a
 *	  projection_commit and a tick that gave positions wake the backends
 *	  waiting in wait_for_projection or for the log (events/log_sync.c),
 *	  and CREATE EXTENSION tells the launcher to look at databases again.
 *
 *	  Wake-ups are sent from a transaction callback at XACT_EVENT_COMMIT,
 *	  after the commit is visible, so whoever wakes up sees what woke it.
 *	  Nothing is sent on abort.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "commands/dbcommands.h"
#include "postmaster/bgworker.h"
#include "utils/timestamp.h"

#include "core/shmem.h"
#include "worker/worker.h"

RfShared   *rf_shared = NULL;
Oid		   *rf_waiters = NULL;
RfLoad	   *rf_loads = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* What this transaction asks to be done at its commit. */
static bool rf_pending_append = false;
static bool rf_pending_checkpoint = false;
static bool rf_pending_log = false;
static bool rf_pending_extension = false;
static bool rf_xact_callback_registered = false;

/* This backend's tick is counted in ticks_committing (rf_note_async_tick). */
static bool rf_tick_counted = false;
static bool rf_tick_exit_registered = false;

static Size
rf_shared_size(void)
{
	return add_size(offsetof(RfShared, slots),
					mul_size(sizeof(RfDbSlot), rf_max_workers));
}

/* rf_waiters: one Oid per backend. */
static Size
rf_per_backend_size(void)
{
	return mul_size(sizeof(Oid), MaxBackends);
}

/* rf_loads: RF_LOADS_PER_BACKEND entries per backend. */
static Size
rf_loads_size(void)
{
	return mul_size(sizeof(RfLoad), mul_size(RF_LOADS_PER_BACKEND, MaxBackends));
}

static void
rf_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(add_size(rf_shared_size(), rf_per_backend_size()), rf_loads_size()));
	RequestNamedLWLockTranche("rillflow", 1);
}

/*
 * Set up the shared state once per shared memory reset. The epoch is new
 * after every reset (a crash restart), so workers registered before it can
 * tell that their slot is gone.
 */
static void
rf_shmem_startup(void)
{
	bool		found_shared;
	bool		found_waiters;
	bool		found_loaders;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rf_shared = ShmemInitStruct("rillflow", rf_shared_size(), &found_shared);
	rf_waiters = ShmemInitStruct("rillflow waiters", rf_per_backend_size(), &found_waiters);
	rf_loads = ShmemInitStruct("rillflow loads", rf_loads_size(), &found_loaders);
	if (!found_shared)
	{
		memset(rf_shared, 0, rf_shared_size());
		rf_shared->lock = &(GetNamedLWLockTranche("rillflow"))->lock;
		rf_shared->epoch = (uint64) GetCurrentTimestamp();
		rf_shared->nslots = rf_max_workers;
		SpinLockInit(&rf_shared->tick_mutex);
	}
	if (!found_waiters)
		memset(rf_waiters, 0, rf_per_backend_size());
	if (!found_loaders)
		memset(rf_loads, 0, rf_loads_size());
	LWLockRelease(AddinShmemInitLock);
}

void
rf_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rf_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rf_shmem_startup;
}

static void
rf_set_proc_latch(int procno)
{
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/*
 * Set the latch of the worker of a database, if one runs. `wanted`: the
 * caller waits for what the worker's next pass does (a reader waiting for
 * the log or a projection), so a pause between ticks ends at once; an
 * append's commit does not end it, the tick after the pause stamps it.
 * Wakers set tick_wanted holding the shared lock (only they set it, only the
 * worker clears it, under the exclusive lock, as it sets coalescing), and
 * SetLatch orders the write before the worker's look.
 */
static void
rf_wake_worker(Oid dboid, bool wanted)
{
	if (rf_shared == NULL)
		return;
	LWLockAcquire(rf_shared->lock, LW_SHARED);
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		RfDbSlot   *slot = &rf_shared->slots[i];

		if (slot->dboid != dboid || slot->pid == 0)
			continue;
		if (wanted)
			slot->tick_wanted = true;
		else if (slot->coalescing)
			continue;
		rf_set_proc_latch(slot->procno);
	}
	LWLockRelease(rf_shared->lock);
}

void
rf_wake_db_worker(Oid dboid)
{
	rf_wake_worker(dboid, true);
}

/* At an append's commit: wakes the worker unless it pauses before a tick. */
void
rf_wake_db_worker_for_append(Oid dboid)
{
	rf_wake_worker(dboid, false);
}

/*
 * Whether a worker runs in the database; *projecting whether it is inside a
 * projection batch right now (a hint: it may start or end one any moment).
 */
bool
rf_db_worker_serves(Oid dboid, bool *projecting)
{
	bool		serves = false;

	*projecting = false;
	if (rf_shared == NULL)
		return false;
	LWLockAcquire(rf_shared->lock, LW_SHARED);
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		RfDbSlot   *slot = &rf_shared->slots[i];

		if (slot->dboid == dboid && slot->pid != 0 && slot->state == RF_SLOT_RUNNING)
		{
			serves = true;
			*projecting = slot->projecting;
		}
	}
	LWLockRelease(rf_shared->lock);
	return serves;
}

void
rf_wake_launcher(void)
{
	if (rf_shared == NULL)
		return;
	LWLockAcquire(rf_shared->lock, LW_SHARED);
	if (rf_shared->launcher_pid != 0)
		rf_set_proc_latch(rf_shared->launcher_procno);
	LWLockRelease(rf_shared->lock);
}

/*
 * Wake every backend of this database waiting in wait_for_projection or for
 * the log; each looks again at what it waits for.
 */
static void
rf_wake_waiters(Oid dboid)
{
	LWLockAcquire(rf_shared->lock, LW_SHARED);
	for (int i = 0; i < MaxBackends; i++)
		if (rf_waiters[i] == dboid)
			rf_set_proc_latch(i);
	LWLockRelease(rf_shared->lock);
}

/* The end of a counted tick: committed at `lsn`, or not (InvalidXLogRecPtr). */
static void
rf_tick_done(XLogRecPtr lsn)
{
	if (!rf_tick_counted)
		return;
	SpinLockAcquire(&rf_shared->tick_mutex);
	if (lsn > rf_shared->tick_lsn)
		rf_shared->tick_lsn = lsn;
	rf_shared->ticks_committing--;
	SpinLockRelease(&rf_shared->tick_mutex);
	rf_tick_counted = false;
}

/* A process that leaves between a tick's stamps and its commit is no longer counted. */
static void
rf_tick_exit(int code, Datum arg)
{
	rf_tick_done(InvalidXLogRecPtr);
}

static void
rf_shmem_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			/* Committed, visible, its commit record written (not yet flushed). */
			rf_tick_done(XactLastCommitEnd);
			if (rf_shared != NULL)
			{
				if (rf_pending_append)
					rf_wake_db_worker_for_append(MyDatabaseId);
				if (rf_pending_checkpoint || rf_pending_log)
					rf_wake_waiters(MyDatabaseId);
				if (rf_pending_extension)
				{
					rf_note_known_database(MyDatabaseId);
					LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
					rf_shared->ext_created++;
					LWLockRelease(rf_shared->lock);
					rf_wake_launcher();
				}
			}
			rf_pending_append = rf_pending_checkpoint = rf_pending_extension = rf_pending_log = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:

			/*
			 * A prepared transaction's events become visible at COMMIT
			 * PREPARED, whose own commit wakes the worker (utility.c).
			 */
			rf_tick_done(InvalidXLogRecPtr);
			rf_pending_append = rf_pending_checkpoint = rf_pending_extension = rf_pending_log = false;
			break;
		default:
			break;
	}
}

static void
rf_register_xact_callback(void)
{
	if (!rf_xact_callback_registered)
	{
		RegisterXactCallback(rf_shmem_xact_callback, NULL);
		rf_xact_callback_registered = true;
	}
}

bool
rf_note_async_tick(void)
{
	if (rf_shared == NULL || (SyncRepStandbyNames != NULL && SyncRepStandbyNames[0] != '\0'))
		return false;
	if (rf_tick_counted)
		return true;
	rf_register_xact_callback();
	if (!rf_tick_exit_registered)
	{
		before_shmem_exit(rf_tick_exit, (Datum) 0);
		rf_tick_exit_registered = true;
	}
	SpinLockAcquire(&rf_shared->tick_mutex);
	rf_shared->ticks_committing++;
	SpinLockRelease(&rf_shared->tick_mutex);
	rf_tick_counted = true;
	return true;
}

void
rf_log_make_durable(void)
{
	XLogRecPtr	lsn;
	int			committing;

	if (rf_shared == NULL || RecoveryInProgress())
		return;
	SpinLockAcquire(&rf_shared->tick_mutex);
	committing = rf_shared->ticks_committing;
	lsn = rf_shared->tick_lsn;
	SpinLockRelease(&rf_shared->tick_mutex);
	/*
	 * A tick visible to the reader may not have published its LSN yet: then
	 * everything inserted so far. At a page boundary the insert position
	 * points past the next page's header, where nothing is written yet: the
	 * WAL up to the boundary is all there is to flush.
	 */
	if (committing > 0)
	{
		uint32		off;

		lsn = GetXLogInsertRecPtr();
		off = lsn % XLOG_BLCKSZ;
		if (off == (XLogSegmentOffset(lsn, wal_segment_size) < XLOG_BLCKSZ
					? SizeOfXLogLongPHD : SizeOfXLogShortPHD))
			lsn -= off;
	}
	if (!XLogRecPtrIsInvalid(lsn))
		XLogFlush(lsn);
}

void
rf_note_append(void)
{
	if (rf_shared == NULL || rf_pending_append)
		return;
	rf_register_xact_callback();
	rf_pending_append = true;
}

void
rf_note_checkpoint_advance(void)
{
	if (rf_shared == NULL || rf_pending_checkpoint)
		return;
	rf_register_xact_callback();
	rf_pending_checkpoint = true;
}

/*
 * Register this backend as waiting in a database (InvalidOid: no longer), so
 * that commits of projection_commit and of ticks there set its latch.
 */
void
rf_set_waiting(Oid dboid)
{
	if (rf_shared == NULL)
		return;
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	rf_waiters[MyProc->pgprocno] = dboid;
	LWLockRelease(rf_shared->lock);
}

void
rf_note_log_advance(void)
{
	if (rf_shared == NULL || rf_pending_log)
		return;
	rf_register_xact_callback();
	rf_pending_log = true;
}

/* CREATE EXTENSION rillflow: at commit, the launcher probes databases again. */
void
rf_note_extension_created(void)
{
	int			known_others = 0;
	int			usable;
	bool		short_of_slots;

	if (rf_shared == NULL)
		return;
	rf_register_xact_callback();
	rf_pending_extension = true;

	/*
	 * Say so when this database will wait for a worker: the other databases
	 * with the extension already fill the slots a worker can get (the
	 * launcher and PostgreSQL's logical replication launcher take one of
	 * max_worker_processes each), or the launcher found none free.
	 */
	LWLockAcquire(rf_shared->lock, LW_SHARED);
	for (int i = 0; i < RF_MAX_KNOWN_DBS; i++)
		if (OidIsValid(rf_shared->known[i].dboid) && rf_shared->known[i].dboid != MyDatabaseId)
			known_others++;
	short_of_slots = rf_shared->slots_short;
	LWLockRelease(rf_shared->lock);
	usable = Min(rf_max_workers, max_worker_processes - 2);
	if (short_of_slots || known_others >= usable)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no rillflow worker slot is free for database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errdetail("%d other databases have the extension, and a worker runs in at most %d at once "
						   "(rillflow.max_workers = %d, max_worker_processes = %d). "
						   "The databases take turns: each is served within a bounded delay, not at once.",
						   known_others, Max(usable, 0), rf_max_workers, max_worker_processes),
				 errhint("Raise rillflow.max_workers and max_worker_processes (docs/operations.md, \"Sizing\").")));
}

/*
 * Remember that a database has the extension (at CREATE EXTENSION's commit,
 * or when a worker finds it), so the launcher serves it and worker_status
 * lists it. A full table is not an error: the launcher still finds the
 * database by probing it.
 */
void
rf_note_known_database(Oid dboid)
{
	int			free_entry = -1;

	if (rf_shared == NULL)
		return;
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RF_MAX_KNOWN_DBS; i++)
	{
		if (rf_shared->known[i].dboid == dboid)
		{
			free_entry = -2;
			break;
		}
		if (free_entry == -1 && !OidIsValid(rf_shared->known[i].dboid))
			free_entry = i;
	}
	if (free_entry >= 0)
	{
		memset(&rf_shared->known[free_entry], 0, sizeof(RfKnownDb));
		rf_shared->known[free_entry].dboid = dboid;
	}
	LWLockRelease(rf_shared->lock);
}

/* Whether a DDL command has asked workers to stay out of the database. */
bool
rf_database_paused(Oid dboid)
{
	bool		paused = false;

	if (rf_shared == NULL)
		return false;
	LWLockAcquire(rf_shared->lock, LW_SHARED);
	for (int i = 0; i < RF_MAX_PAUSED; i++)
		if (rf_shared->paused_refs[i] > 0 && rf_shared->paused[i] == dboid)
			paused = true;
	LWLockRelease(rf_shared->lock);
	return paused;
}

/*
 * Keep workers out of a database until rf_unpause_database; reference
 * counted, since two sessions may want the same database (both copying one
 * template). False when the table is full.
 */
bool
rf_pause_database(Oid dboid)
{
	int			free_entry = -1;
	bool		done = false;

	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RF_MAX_PAUSED && !done; i++)
	{
		if (rf_shared->paused_refs[i] > 0 && rf_shared->paused[i] == dboid)
		{
			rf_shared->paused_refs[i]++;
			done = true;
		}
		else if (rf_shared->paused_refs[i] == 0 && free_entry < 0)
			free_entry = i;
	}
	if (!done && free_entry >= 0)
	{
		rf_shared->paused[free_entry] = dboid;
		rf_shared->paused_refs[free_entry] = 1;
		done = true;
	}
	LWLockRelease(rf_shared->lock);
	return done;
}

void
rf_unpause_database(Oid dboid)
{
	LWLockAcquire(rf_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RF_MAX_PAUSED; i++)
		if (rf_shared->paused_refs[i] > 0 && rf_shared->paused[i] == dboid)
		{
			rf_shared->paused_refs[i]--;
			break;
		}
	LWLockRelease(rf_shared->lock);
	rf_wake_launcher();
}
