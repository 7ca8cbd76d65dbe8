/*-------------------------------------------------------------------------
 *
 * worker_ddl.c
 *	  Keeps rillflow's workers out of the way of the commands that need a
 *	  database to themselves: DROP DATABASE, CREATE DATABASE ... TEMPLATE,
 *	  ALTER DATABASE ... RENAME TO and ALTER DATABASE ... SET TABLESPACE all
 *	  fail while another session is connected to the database, and a plain
 *	  DROP DATABASE does not terminate background workers.
 *
 *	  The utility hook (core/utility.c) asks here which database a command
 *	  needs to itself; this file pauses the database in shared memory, stops
 *	  its worker and waits for it to leave; the hook runs the command and
 *	  lifts the pause. A worker that the postmaster restarts meanwhile finds
 *	  the pause and leaves at once; the launcher starts none in a paused
 *	  database, and removes the worker of a database that is gone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/timestamp.h"

#include "core/shmem.h"
#include "worker/worker.h"

/* How long to wait for a worker to leave; the command then runs anyway. */
#define RF_EVICT_TIMEOUT_MS 10000

/* The database a utility statement needs to itself, or InvalidOid. */
Oid
rf_database_needed_alone(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			{
				Oid			dboid = get_database_oid(((DropdbStmt *) parsetree)->dbname, true);

				/* Only its owner can drop it: nobody else disturbs the worker. */
				if (OidIsValid(dboid) && pg_database_ownercheck(dboid, GetUserId()))
					return dboid;
				return InvalidOid;
			}
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst(lc);

				if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
					return get_database_oid(defGetString(opt), true);
			}
			return InvalidOid;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				return get_database_oid(((RenameStmt *) parsetree)->subname, true);
			return InvalidOid;
		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst(lc);

				if (strcmp(opt->defname, "tablespace") == 0)
					return get_database_oid(((AlterDatabaseStmt *) parsetree)->dbname, true);
			}
			return InvalidOid;
		default:
			return InvalidOid;
	}
}

/* Whether a worker is still attached to the database. */
static bool
rf_worker_attached(Oid dboid, bool signal)
{
	bool		attached = false;

	LWLockAcquire(rf_shared->lock, LW_SHARED);
	for (int i = 0; i < rf_shared->nslots; i++)
	{
		RfDbSlot   *slot = &rf_shared->slots[i];

		if (slot->dboid == dboid && slot->pid != 0)
		{
			attached = true;
			if (signal)
				kill(slot->pid, SIGTERM);
		}
	}
	LWLockRelease(rf_shared->lock);
	return attached;
}

/*
 * Pause the database, stop its worker and wait until it has left. Returns
 * false (and pauses nothing) when the pause table is full.
 */
bool
rf_evict_workers(Oid dboid)
{
	TimestampTz start = GetCurrentTimestamp();

	if (!rf_pause_database(dboid))
	{
		ereport(WARNING,
				(errmsg("rillflow: too many databases paused at once; the worker of database %u stays",
						dboid)));
		return false;
	}
	if (!rf_worker_attached(dboid, true))
		return true;
	while (rf_worker_attached(dboid, false) &&
		   !TimestampDifferenceExceeds(start, GetCurrentTimestamp(), RF_EVICT_TIMEOUT_MS))
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return true;
}
