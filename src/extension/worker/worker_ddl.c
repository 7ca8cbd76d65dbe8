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

#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/tablespace.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/shmem.h"
#include "worker/worker.h"

/* How long to wait for a worker to leave; the command then runs anyway. */
#define RF_EVICT_TIMEOUT_MS 10000

/*
 * Whether the current role has CREATEDB: the check of dbcommands.c's
 * have_createdb_privilege(), which is static there.
 */
static bool
rf_has_createdb_privilege(void)
{
	HeapTuple	tup;
	bool		result = false;

	if (superuser())
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;
		ReleaseSysCache(tup);
	}
	return result;
}

/* Whether a database is marked as a template (anyone with CREATEDB may copy it). */
static bool
rf_database_is_template(Oid dboid)
{
	HeapTuple	tup;
	bool		result = false;

	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * The database a utility statement needs to itself, or InvalidOid. The hook
 * acts before the command runs (the command would fail while the worker is
 * connected), so it asks first what PostgreSQL will ask of the role, with
 * the same checks (dbcommands.c: dropdb, createdb, RenameDatabase, movedb):
 * a command the role may not run stops no worker, and fails as it would
 * have anyway. What PostgreSQL checks later (other sessions connected, the
 * target name free) can still fail the command after the worker left; the
 * worker is back within a naptime.
 */
Oid
rf_database_needed_alone(Node *parsetree)
{
	ListCell   *lc;
	Oid			dboid;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			dboid = get_database_oid(((DropdbStmt *) parsetree)->dbname, true);
			if (OidIsValid(dboid) && pg_database_ownercheck(dboid, GetUserId()))
				return dboid;
			return InvalidOid;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst(lc);

				if (strcmp(opt->defname, "template") != 0 || opt->arg == NULL)
					continue;
				dboid = get_database_oid(defGetString(opt), true);
				if (OidIsValid(dboid) && rf_has_createdb_privilege() &&
					(rf_database_is_template(dboid) || pg_database_ownercheck(dboid, GetUserId())))
					return dboid;
				return InvalidOid;
			}
			return InvalidOid;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType != OBJECT_DATABASE)
				return InvalidOid;
			dboid = get_database_oid(((RenameStmt *) parsetree)->subname, true);
			if (OidIsValid(dboid) && pg_database_ownercheck(dboid, GetUserId()) &&
				rf_has_createdb_privilege())
				return dboid;
			return InvalidOid;
		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst(lc);
				Oid			tblspc;

				if (strcmp(opt->defname, "tablespace") != 0)
					continue;
				dboid = get_database_oid(((AlterDatabaseStmt *) parsetree)->dbname, true);
				tblspc = get_tablespace_oid(defGetString(opt), true);
				if (OidIsValid(dboid) && OidIsValid(tblspc) &&
					pg_database_ownercheck(dboid, GetUserId()) &&
					pg_tablespace_aclcheck(tblspc, GetUserId(), ACL_CREATE) == ACLCHECK_OK)
					return dboid;
				return InvalidOid;
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
